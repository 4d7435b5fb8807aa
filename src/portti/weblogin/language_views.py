"""The language switcher: a browser's choice (a cookie), and a logged-in person's own setting."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from portti.i18n import LANGUAGE_COOKIE, supported
from portti.runtime import runtime
from portti.web.csrf import verify_csrf
from portti.web.redirects import safe_path
from portti.weblogin.session_deps import OptionalWebSession

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)


@router.post("/language")
def choose_language(
    request: Request,
    ws: OptionalWebSession,
    language: Annotated[str, Form(max_length=16)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """An empty or unknown language goes back to the browser's own (``Accept-Language``)."""
    lang = supported(language)
    if ws is not None:
        ws.person.language = lang  # committed by the request's unit of work
    response = RedirectResponse(safe_path(next), 303)
    secure = runtime(request).settings.secure_cookies
    if lang:
        response.set_cookie(
            LANGUAGE_COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="lax",
            secure=secure,
        )
    else:
        response.delete_cookie(LANGUAGE_COOKIE, httponly=True, samesite="lax", secure=secure)
    return response
