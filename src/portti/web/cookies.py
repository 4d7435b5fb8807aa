"""Cookie names and attributes shared by the web routes and the middleware.

Over https every cookie that is valid for the whole site carries the ``__Host-`` prefix: the
browser then accepts it only with ``Secure``, ``Path=/`` and no ``Domain``, so neither a sibling
subdomain nor a plain-http page on the same host can plant or overwrite it (session fixation,
CSRF-binding fixation). Over plain http (development, the test client) browsers refuse
``__Host-`` cookies, so the bare names are used there.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from portti.web.kit import kit

SESSION = "portti_session"
BROWSER = "portti_browser"
HOST_PREFIX = "__Host-"


def cookie_name(base: str, *, secure: bool) -> str:
    return HOST_PREFIX + base if secure else base


def session_cookie_name(request: Request) -> str:
    return cookie_name(SESSION, secure=kit(request).settings.secure_cookies)


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    settings = kit(request).settings
    response.set_cookie(
        session_cookie_name(request),
        token,
        max_age=settings.session_absolute_hours * 3600,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    settings = kit(request).settings
    response.delete_cookie(
        session_cookie_name(request),
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )
