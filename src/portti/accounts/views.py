"""The terms of service as a page (UX-3): the current version in the reader's language, the
same text the app asks a person to accept, rendered from its Markdown safely."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from portti.accounts.terms_text import current_terms_text
from portti.companies.models import Company
from portti.companies.policy import AdminPolicy
from portti.i18n import current_language
from portti.web.deps import ClockDep, DbSession
from portti.web.markdown import render_markdown
from portti.web.render import render
from portti.weblogin.session_deps import OptionalWebSession

router = APIRouter(include_in_schema=False)


def effective_date(version: str) -> date | None:
    """A version is named by the day it took effect (``2026-11-01``)."""
    try:
        return date.fromisoformat(version)
    except ValueError:
        return None


@router.get("/terms", response_class=HTMLResponse)
def terms_page(
    request: Request, ws: OptionalWebSession, db: DbSession, clock: ClockDep
) -> Response:
    version, text = current_terms_text(current_language())
    # Logged in, the header names the company being worked in, as on every other page.
    company = db.get(Company, ws.company_id) if ws and ws.company_id else None
    return render(
        request,
        "terms.html",
        {
            "session": ws,
            "company": company,
            "grant": AdminPolicy(db, clock).grant(ws.person_id, company)
            if ws and company
            else None,
            "terms_version": version,
            "terms_effective": effective_date(version),
            "terms": render_markdown(text),
        },
    )
