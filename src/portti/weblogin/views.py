"""HTML routes: the login page, the company choice, the landing page and basic settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from portti.audit.models import AuditAction
from portti.companies.listing import member_status
from portti.companies.models import Company
from portti.companies.policy import AdminPolicy, local_today
from portti.companies.services import PersonDirectory
from portti.devices.deps import Lifecycle
from portti.errors import Forbidden
from portti.i18n import _l
from portti.oidc_provider.consent import ConsentService
from portti.oidc_provider.parked import client_name_for_login
from portti.runtime import runtime
from portti.web.cookies import clear_session_cookie
from portti.web.csrf import verify_csrf
from portti.web.deps import Audit, ClockDep, DbSession
from portti.web.redirects import safe_path
from portti.web.render import render
from portti.weblogin.models import WebSession
from portti.weblogin.session_deps import CurrentSession, OptionalWebSession, Sessions

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def index(ws: OptionalWebSession) -> Response:
    if ws is None:
        return RedirectResponse("/login", 303)
    return RedirectResponse("/home" if ws.company_id else "/companies", 303)


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, ws: OptionalWebSession, db: DbSession, clock: ClockDep, next: str = "/"
) -> Response:
    next_path = safe_path(next)
    return render(
        request,
        "login.html",
        {
            "providers": list(runtime(request).providers.values()),
            "next": next_path,
            "session": ws,
            # A business application's login through Portti names the application (UX-14).
            "client_name": client_name_for_login(
                db, next_path, request.state.browser_id, clock.now()
            ),
        },
    )


@router.post("/logout")
def logout(request: Request, ws: CurrentSession, sessions: Sessions, audit: Audit) -> Response:
    sessions.log_out(ws, audit)
    response = RedirectResponse("/login", 303)
    clear_session_cookie(request, response)
    return response


def company_choices(db: DbSession, clock: ClockDep, ws: WebSession) -> list[tuple[Company, bool]]:
    """Companies the person may enter: valid memberships, and those they administer."""
    directory = PersonDirectory(db, clock)
    member_of = {m.company_id: m.company for m in directory.valid_memberships(ws.person_id)}
    administered = {c.id: c for c in AdminPolicy(db, clock).administrable_companies(ws.person_id)}
    both = {**administered, **member_of}
    return sorted(((c, c.id in administered) for c in both.values()), key=lambda x: x[0].name)


@router.get("/companies", response_class=HTMLResponse)
def choose_company_page(
    request: Request, ws: CurrentSession, db: DbSession, clock: ClockDep, audit: Audit
) -> Response:
    choices = company_choices(db, clock, ws)
    now = clock.now()
    directory = PersonDirectory(db, clock)
    # Valid memberships the login does not carry: the app was activated by another company's
    # invitation (SEC-14).
    not_by_app = [m for m in directory.outside_login(ws.person_id)]
    # Memberships not offered: they start later or have ended (WEB-3), told apart by the
    # company's today, not by when the row was last written.
    offered = {c.id for c, _ in choices} | {m.company_id for m in not_by_app}
    ended = [
        (m, member_status(m, local_today(m.company, now)))
        for m in directory.memberships(ws.person_id)
        if m.company_id not in offered
    ]
    if len(choices) == 1 and ws.company_id is None:
        # The only choice is made for the person, and audited like one they make (ADM-10).
        ws.company_id = choices[0][0].id
        audit.record(
            AuditAction.COMPANY_SELECTED, company_id=ws.company_id, actor_person_id=ws.person_id
        )
        return RedirectResponse("/home", 303)
    return render(
        request,
        "companies/choose.html",
        {"session": ws, "choices": choices, "ended": ended, "not_by_app": not_by_app},
    )


@router.post("/companies")
def choose_company(
    ws: CurrentSession,
    db: DbSession,
    clock: ClockDep,
    audit: Audit,
    company_id: Annotated[int, Form()],
) -> Response:
    if company_id not in {c.id for c, _ in company_choices(db, clock, ws)}:
        raise Forbidden(_l("You have no valid user rights in this company."))
    ws.company_id = company_id
    audit.record(AuditAction.COMPANY_SELECTED, company_id=company_id, actor_person_id=ws.person_id)
    return RedirectResponse("/home", 303)


@router.get("/home", response_class=HTMLResponse)
def home(request: Request, ws: CurrentSession, db: DbSession, clock: ClockDep) -> Response:
    choices = company_choices(db, clock, ws)
    current = next((c for c in choices if c[0].id == ws.company_id), None)
    if current is None:
        # The membership ended (or was removed) while logged in: choose again.
        ws.company_id = None
        return RedirectResponse("/companies", 303)
    company, is_admin = current
    return render(
        request,
        "home.html",
        {
            "session": ws,
            "company": company,
            # The company menu follows the policy (SEC-12): admin links only for admins.
            "grant": AdminPolicy(db, clock).grant(ws.person_id, company) if is_admin else None,
            "is_admin": is_admin,
            "choices": choices,
        },
    )


@router.get("/settings", response_class=HTMLResponse)
def basic_settings(
    request: Request,
    ws: CurrentSession,
    sessions: Sessions,
    db: DbSession,
    clock: ClockDep,
    lifecycle: Lifecycle,
    audit: Audit,
) -> Response:
    company = db.get(Company, ws.company_id) if ws.company_id else None
    return render(
        request,
        "settings.html",
        {
            "session": ws,
            "person": ws.person,
            "sessions": sessions.for_person(ws.person_id),
            "memberships": PersonDirectory(db, clock).memberships(ws.person_id),
            "company": company,
            "grant": AdminPolicy(db, clock).grant(ws.person_id, company) if company else None,
            "devices": lifecycle.devices_for(ws.person_id),
            # What the person allowed business applications to learn (OIDC-4).
            "consents": ConsentService(db, clock, audit).for_person(ws.person_id),
        },
    )


@router.post("/settings/sessions/{session_id}/revoke")
def revoke_session(
    session_id: str, ws: CurrentSession, sessions: Sessions, audit: Audit
) -> Response:
    sessions.revoke(ws.person_id, session_id, audit, actor_id=ws.person_id)
    return RedirectResponse("/login" if session_id == ws.id else "/settings", 303)


@router.post("/settings/sessions/revoke-others")
def revoke_other_sessions(ws: CurrentSession, sessions: Sessions, audit: Audit) -> Response:
    sessions.revoke_all(ws.person_id, audit, actor_id=ws.person_id, except_id=ws.id)
    return RedirectResponse("/settings", 303)
