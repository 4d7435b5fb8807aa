"""HTML routes of "Users and roles": the list, the add-user wizard, the user's page, audit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from portti.audit.models import AuditEvent
from portti.companies.deps import CurrentActor, Members
from portti.companies.forms import parse_form
from portti.companies.listing import member_status
from portti.companies.models import Company, Membership
from portti.companies.policy import AdminGrant, is_stepped_up, step_up_expires_at
from portti.companies.schemas import (
    AddUserInput,
    ChangeMembershipInput,
    ChangePersonInput,
    MemberStatus,
)
from portti.devices.admin import app_access
from portti.errors import ValidationFailed
from portti.i18n import _l, fmt_date, localize
from portti.oidc_provider.models import OidcClient
from portti.people.countries import COUNTRY_NAMES
from portti.people.models import Person
from portti.web.csrf import verify_csrf
from portti.web.deps import Audit, Id, IdQuery, SettingsDep, Uow
from portti.web.render import render
from portti.weblogin.models import WebSession
from portti.weblogin.session_deps import CurrentSession, Sessions

router = APIRouter(
    prefix="/c/{company_id}", dependencies=[Depends(verify_csrf)], include_in_schema=False
)


def step_up_state(ws: WebSession, settings: SettingsDep, members: Members) -> dict[str, Any]:
    now = members.clock.now()
    expires = step_up_expires_at(ws.strong_auth_at, settings.step_up_window)
    fresh = is_stepped_up(ws.strong_auth_at, now, settings.step_up_window)
    return {
        "stepped_up": fresh,
        "step_up_expires_at": expires if fresh else None,
        "step_up_seconds_left": int((expires - now).total_seconds()) if fresh and expires else 0,
    }


def page_context(
    request: Request,
    ws: WebSession,
    company: Company,
    grant: AdminGrant,
    settings: SettingsDep,
    members: Members,
) -> dict[str, Any]:
    return {
        "session": ws,
        "company": company,
        "grant": grant,
        **step_up_state(ws, settings, members),
    }


@dataclass(frozen=True, slots=True)
class MemberRow:
    """One row of the Users and roles list, its texts already in the reader's language."""

    id: int
    name: str
    portti_id: str
    # What the member may do: the roles by name, then the profiles by name.
    access: str
    validity: str
    # "starts later" or "ended"; empty for a member whose rights hold today.
    tag: str


def member_rows(
    members: Iterable[Membership],
    today: date,
    role_names: dict[str, str],
    profile_names: dict[int, str],
) -> list[MemberRow]:
    """The list's rows, worked out here rather than in the template: a page has fifty, and a
    row costs a fraction of what its dozen template expressions did (docs/benchmarks.md,
    "Capacity")."""
    open_ended = str(localize(_l("Until further notice")))
    tags = {
        MemberStatus.UPCOMING: str(localize(_l("starts later"))),
        MemberStatus.ENDED: str(localize(_l("ended"))),
    }
    rows = []
    for m in members:
        roles = sorted(
            (role_names[c] if c in role_names else str(localize(c)) for c in m.role_codes),
            key=str.casefold,
        )
        profiles = sorted((profile_names.get(i, "—") for i in m.profile_ids), key=str.casefold)
        person = m.person
        rows.append(
            MemberRow(
                id=m.id,
                name=f"{person.family_name}, {person.given_name}",
                portti_id=person.portti_id,
                access=", ".join(roles + profiles),
                validity=(
                    f"{fmt_date(m.valid_from)}–{fmt_date(m.valid_until)}"
                    if m.valid_from or m.valid_until
                    else open_ended
                ),
                tag=tags.get(member_status(m, today), ""),
            )
        )
    return rows


@router.get("/users", response_class=HTMLResponse)
def users_and_roles(
    request: Request,
    company_id: Id,
    ws: CurrentSession,
    members: Members,
    settings: SettingsDep,
    q: str = "",
    status: MemberStatus = MemberStatus.ACTIVE,
    cursor: str | None = None,
) -> Response:
    company, grant = members.company_for_admin(ws.person_id, company_id)
    page = members.list_members(ws.person_id, company_id, query=q, status=status, cursor=cursor)
    ctx = {
        **page_context(request, ws, company, grant, settings, members),
        "rows": member_rows(
            page.items,
            members.today(company),
            {r.code: str(localize(r.name)) for r in members.available_roles(grant, company)},
            {p.id: str(localize(p.name)) for p in members.available_profiles(company)},
        ),
        "next_cursor": page.next_cursor,
        "q": q,
        "status": status,
        "cursor": cursor,
        "statuses": [
            (MemberStatus.ACTIVE, _l("Active")),
            (MemberStatus.UPCOMING, _l("Starting later")),
            (MemberStatus.ENDED, _l("Ended")),
            (MemberStatus.ALL, _l("All")),
        ],
    }
    if (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-target") == "member-results"
    ):
        return render(request, "users/_results.html", ctx)
    return render(request, "users/list.html", ctx)


def wizard_context(
    request: Request,
    ws: WebSession,
    company: Company,
    grant: AdminGrant,
    settings: SettingsDep,
    members: Members,
    values: dict[str, Any],
    errors: dict[str, str],
) -> dict[str, Any]:
    return {
        **page_context(request, ws, company, grant, settings, members),
        "roles": members.available_roles(grant, company),
        "profiles": members.available_profiles(company),
        "countries": sorted(COUNTRY_NAMES.items(), key=lambda kv: kv[1]),
        "values": values,
        "errors": errors,
    }


WIZARD_FIELDS = set(AddUserInput.model_fields)


@router.get("/users/new", response_class=HTMLResponse)
def add_user_page(
    request: Request, company_id: Id, ws: CurrentSession, members: Members, settings: SettingsDep
) -> Response:
    company, grant = members.company_for_admin(ws.person_id, company_id)
    ctx = wizard_context(
        request,
        ws,
        company,
        grant,
        settings,
        members,
        {"method": "fi_hetu", "validity": "until_further_notice", "receives_email": True},
        {},
    )
    if not ctx["stepped_up"]:
        return RedirectResponse(f"/step-up?next=/c/{company_id}/users/new", 303)
    return render(request, "users/new.html", ctx)


@router.post("/users/new", response_class=HTMLResponse)
async def add_user(
    request: Request,
    company_id: Id,
    ws: CurrentSession,
    actor: CurrentActor,
    members: Members,
    settings: SettingsDep,
    uow: Uow,
) -> Response:
    form = await request.form()
    company, grant = members.company_for_admin(ws.person_id, company_id)
    values: dict[str, Any] = {k: form.get(k) for k in WIZARD_FIELDS}
    values["roles"] = form.getlist("roles")
    values["profiles"] = form.getlist("profiles")
    values["receives_email"] = form.get("receives_email") == "yes"
    try:
        data = parse_form(AddUserInput, form, WIZARD_FIELDS)
        membership = members.add_user(actor, company_id, data)
    except ValidationFailed as exc:
        uow.refused(exc)
        return render(
            request,
            "users/new.html",
            wizard_context(request, ws, company, grant, settings, members, values, exc.errors),
            status=422,
        )
    return RedirectResponse(f"/c/{company_id}/users/{membership.id}?added=1", 303)


def detail_context(
    request: Request,
    ws: WebSession,
    members: Members,
    settings: SettingsDep,
    audit: Audit,
    company_id: Id,
    membership: Membership,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    company, grant = members.company_for_admin(ws.person_id, company_id)
    person: Person = membership.person
    events: list[AuditEvent] = list(audit.for_person(person.id, company_id=company_id, limit=50))
    security = audit.security_events(person.id, company_id)
    ids = {e.actor_person_id for e in [*events, *security]} | {e.subject_person_id for e in events}
    names = {
        p.id: p.full_name for p in members.db.query(Person).filter(Person.id.in_(ids - {None}))
    }
    # Business software that acted (PRV-1), by the name Support registered it with.
    client_ids = {e.actor_client_id for e in events if e.actor_client_id}
    machines = {
        cid: name
        for cid, name in members.db.execute(
            select(OidcClient.client_id, OidcClient.name).where(
                OidcClient.client_id.in_(client_ids)
            )
        )
    }
    return {
        "names": names,
        "machines": machines,
        **page_context(request, ws, company, grant, settings, members),
        "m": membership,
        "person": person,
        # The grant hierarchy (SEC-1, SEC-7): what this admin may do here, so that the page
        # offers only that and says who can do the rest.
        "may_manage_person": members.policy.may_manage_person(ws.person_id, person.id),
        "outranking_roles": members.policy.outranking_roles(grant, company, membership),
        "contact_changed": request.query_params.get("contact_changed") == "1",
        "invitations_cancelled": request.query_params.get("invitations_cancelled") == "1",
        "events": events,
        "security_events": security,
        "company_tz": ZoneInfo(company.timezone),
        "roles": members.available_roles(grant, company),
        "role_names": {r.code: r.name for r in members.available_roles(grant, company)},
        "profiles": members.available_profiles(company),
        "status": member_status(membership, members.today(company)),
        "errors": errors or {},
        "values": values or {},
        "added": request.query_params.get("added") == "1",
        # The person's devices, and whether any lets them in here (UX-8, SEC-14).
        "app_access": app_access(members.db, membership, members.clock.now()),
    }


@router.get("/users/{membership_id}", response_class=HTMLResponse)
def user_page(
    request: Request,
    company_id: Id,
    membership_id: Id,
    ws: CurrentSession,
    members: Members,
    settings: SettingsDep,
    audit: Audit,
) -> Response:
    m = members.get_member(ws.person_id, company_id, membership_id)
    return render(
        request,
        "users/detail.html",
        detail_context(request, ws, members, settings, audit, company_id, m),
    )


@router.post("/users/{membership_id}/membership", response_class=HTMLResponse)
async def change_membership(
    request: Request,
    company_id: Id,
    membership_id: Id,
    ws: CurrentSession,
    actor: CurrentActor,
    members: Members,
    settings: SettingsDep,
    audit: Audit,
    uow: Uow,
) -> Response:
    form = await request.form()
    try:
        data = parse_form(ChangeMembershipInput, form, set(ChangeMembershipInput.model_fields))
        # A refusal of the hierarchy is audited, and kept.
        members.change_membership(actor, company_id, membership_id, data)
    except ValidationFailed as exc:
        uow.refused(exc)
        m = members.get_member(ws.person_id, company_id, membership_id)
        values = {
            "validity": form.get("validity"),
            "valid_from": form.get("valid_from"),
            "valid_until": form.get("valid_until"),
        }
        return render(
            request,
            "users/detail.html",
            detail_context(
                request, ws, members, settings, audit, company_id, m, exc.errors, values
            ),
            status=422,
        )
    return RedirectResponse(f"/c/{company_id}/users/{membership_id}", 303)


@router.post("/users/{membership_id}/person", response_class=HTMLResponse)
async def change_person(
    request: Request,
    company_id: Id,
    membership_id: Id,
    ws: CurrentSession,
    actor: CurrentActor,
    members: Members,
    settings: SettingsDep,
    audit: Audit,
    uow: Uow,
) -> Response:
    form = await request.form()
    try:
        data = parse_form(ChangePersonInput, form, set(ChangePersonInput.model_fields))
        # A refusal of the hierarchy is audited, and kept.
        change = members.change_person(actor, company_id, membership_id, data)
    except ValidationFailed as exc:
        uow.refused(exc)
        m = members.get_member(ws.person_id, company_id, membership_id)
        return render(
            request,
            "users/detail.html",
            detail_context(
                request, ws, members, settings, audit, company_id, m, exc.errors, dict(form)
            ),
            status=422,
        )
    notice = ""
    if {"email", "phone"} & set(change.changed):
        notice = "?contact_changed=1" + (
            "&invitations_cancelled=1" if change.cancelled_invitations else ""
        )
    return RedirectResponse(f"/c/{company_id}/users/{membership_id}{notice}", 303)


@router.post("/settings/language")
async def change_default_language(
    request: Request, company_id: Id, actor: CurrentActor, members: Members
) -> Response:
    form = await request.form()
    members.set_default_language(actor, company_id, str(form.get("default_language", "")))
    return RedirectResponse(f"/c/{company_id}/users?settings_saved=1", 303)


@router.post("/users/{membership_id}/remove")
def remove_user(
    company_id: Id, membership_id: Id, actor: CurrentActor, members: Members
) -> Response:
    # A refusal of the hierarchy is audited, and kept.
    members.remove_membership(actor, company_id, membership_id)
    return RedirectResponse(f"/c/{company_id}/users?removed=1", 303)


@router.post("/users/{membership_id}/end-sessions")
def end_sessions(
    company_id: Id,
    membership_id: Id,
    actor: CurrentActor,
    members: Members,
    sessions: Sessions,
) -> Response:
    # A refusal of the hierarchy is audited, and kept.
    members.end_sessions(actor, company_id, membership_id, sessions)
    return RedirectResponse(f"/c/{company_id}/users/{membership_id}?sessions_ended=1", 303)


@router.get("/audit", response_class=HTMLResponse)
def company_audit(
    request: Request,
    company_id: Id,
    ws: CurrentSession,
    members: Members,
    settings: SettingsDep,
    audit: Audit,
    before: IdQuery = None,
) -> Response:
    company, grant = members.company_for_admin(ws.person_id, company_id)
    events = list(audit.for_company(company_id, limit=100, before_id=before))
    ids = {e.actor_person_id for e in events} | {e.subject_person_id for e in events}
    names = {
        p.id: p.full_name for p in members.db.query(Person).filter(Person.id.in_(ids - {None}))
    }
    # Business software that acted (PRV-1), by the name Support registered it with.
    client_ids = {e.actor_client_id for e in events if e.actor_client_id}
    machines = {
        cid: name
        for cid, name in members.db.execute(
            select(OidcClient.client_id, OidcClient.name).where(
                OidcClient.client_id.in_(client_ids)
            )
        )
    }
    return render(
        request,
        "audit.html",
        {
            **page_context(request, ws, company, grant, settings, members),
            "events": events,
            "names": names,
            "machines": machines,
            "older": events[-1].id if len(events) == 100 else None,
        },
    )
