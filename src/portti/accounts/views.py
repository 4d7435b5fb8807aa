"""The terms of service as a page (UX-3): the current version in the reader's language, the
same text the app asks a person to accept, rendered from its Markdown safely."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from portti.accounts.services import current_terms_text
from portti.i18n import current_language
from portti.web.deps import OptionalWebSession
from portti.web.markdown import render_markdown
from portti.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/terms", response_class=HTMLResponse)
def terms_page(request: Request, ws: OptionalWebSession) -> Response:
    version, text = current_terms_text(current_language())
    return render(
        request,
        "terms.html",
        {"session": ws, "version": version, "terms": render_markdown(text)},
    )
