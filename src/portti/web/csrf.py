"""CSRF protection: a synchronizer token bound to the browser, checked on every unsafe request.

Before login the token is bound to a random per-browser cookie; after login to the session, so a
token from before login is useless after it. Every form carries it as ``csrf_token``; htmx and
``fetch`` send it as the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from fastapi import Request

from portti.errors import DomainError
from portti.i18n import _l
from portti.web.cookies import session_cookie_name
from portti.web.kit import kit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEADER = "x-csrf-token"
FIELD = "csrf_token"


class CsrfFailed(DomainError):
    status = 403
    code = "csrf_failed"
    title = _l("The form has expired")
    message = _l(
        "This form was opened in another session or has expired. Reload the page and try again."
    )


def csrf_binding(request: Request) -> str:
    # Read from the cookies, not from what a route resolved, so that every route of a page
    # agrees on the binding whatever dependencies it has.
    session_token = request.cookies.get(session_cookie_name(request))
    if session_token:
        return "s:" + hashlib.sha256(session_token.encode()).hexdigest()
    return "b:" + str(request.state.browser_id)


def make_token(secret: bytes, binding: str) -> str:
    return hmac.new(secret, b"csrf|" + binding.encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    return make_token(kit(request).settings.secret, csrf_binding(request))


def _csrf_matches(request: Request, sent: str) -> bool:
    """The token of the current secret, or of a previous one (a page open across a rotation)."""
    secret = kit(request).settings.secret
    binding = csrf_binding(request)
    ok = False
    for key in secret.all:
        ok |= hmac.compare_digest(sent, make_token(key, binding))
    return ok


def carries_bearer(request: Request) -> bool:
    """A request authenticated by ``Authorization: Bearer`` (a machine client, PRV-1): its
    cookies are not read, and a browser cannot send the header cross-site without a CORS
    preflight, which the API does not answer; so it needs no CSRF token."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(value.strip())


async def verify_csrf(request: Request) -> None:
    """A router dependency: a no-op for safe methods and bearer requests, a hard check for the
    rest."""
    if request.method in SAFE_METHODS or carries_bearer(request):
        return
    origin = request.headers.get("origin")
    if origin and origin != "null":
        base = urlsplit(kit(request).settings.base_url)
        if urlsplit(origin).netloc not in {base.netloc, request.headers.get("host", "")}:
            raise CsrfFailed()
    sent = request.headers.get(HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(FIELD)
            sent = value if isinstance(value, str) else None
    if not sent or not _csrf_matches(request, sent):
        raise CsrfFailed()
