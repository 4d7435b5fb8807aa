"""JSON routes of Users and roles (the same operations as the HTML pages), under /api/v1."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, Field

from portti.companies.actors import Actor
from portti.companies.deps import Members
from portti.companies.listing import member_status
from portti.companies.models import Membership
from portti.companies.policy import AdminPolicy
from portti.companies.principal import MEMBERS_READ, MEMBERS_WRITE
from portti.companies.schemas import (
    AddUserInput,
    ChangePersonInput,
    IdentifierOut,
    MemberDetailOut,
    MemberOut,
    MemberPage,
    MembershipPatch,
    MemberStatus,
)
from portti.companies.services import PersonDirectory
from portti.devices.admin import MemberDevices
from portti.devices.admin_api import app_access_out
from portti.devices.deps import Devices
from portti.devices.schemas import AppAccessOut
from portti.errors import NotAuthenticated
from portti.i18n import _l
from portti.machines.deps import MachineCredentials, verify_machine
from portti.web.csrf import carries_bearer, verify_csrf
from portti.web.deps import Audit, ClockDep, DbSession, Id, IdQuery, Uow
from portti.weblogin.session_deps import CurrentSession, OptionalWebSession, Sessions

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in, or the machine client's access token is not valid"},
    403: {
        "description": "Not an administrator of this company, or step-up needed; for a "
        "machine client: insufficient_scope or company_not_allowed"
    },
    404: {"description": "Not found"},
    422: {"description": "Validation failed"},
}

router = APIRouter(
    prefix="/api/v1",
    dependencies=[Depends(verify_csrf)],
    tags=["users-and-roles"],
    responses=ERRORS,
)


class CompanyOut(BaseModel):
    id: int
    name: str
    kind: str
    business_id: str | None
    accounting_office_id: int | None


class MeOut(BaseModel):
    portti_id: str
    given_name: str
    family_name: str
    email: str | None
    companies: list[CompanyOut]


class SessionOut(BaseModel):
    id: str
    created_at: datetime
    last_seen_at: datetime
    login_method: str
    ip: str | None
    user_agent: str | None
    current: bool


class AuditEventOut(BaseModel):
    id: int
    occurred_at: datetime
    action: str
    company_id: int | None
    actor_person_id: int | None
    actor_client_id: str | None = Field(
        default=None, description="The machine client that acted (PRV-1), if one did."
    )
    subject_person_id: int | None
    ip: str | None
    details: dict[str, Any]


def api_actor(scope: str) -> Any:
    """The actor of a Users and roles call: the logged-in person (cookie session), or a machine
    client whose bearer token holds ``scope`` for the company (PRV-1)."""

    def dependency(
        request: Request, db: DbSession, ws: OptionalWebSession, _credentials: MachineCredentials
    ) -> Actor:
        if carries_bearer(request):
            # The company is the service's to check (``machine_grant``): it audits a refusal.
            return Actor.of_machine(verify_machine(request, db, scope))
        if ws is None:
            # The route takes a machine's bearer token too: say so (RFC 6750 §3).
            raise NotAuthenticated(_l("Log in to continue."), challenge="Bearer")
        return Actor(person_id=ws.person_id, strong_auth_at=ws.strong_auth_at)

    return Depends(dependency)


ReadingActor = Annotated[Actor, api_actor(MEMBERS_READ)]
WritingActor = Annotated[Actor, api_actor(MEMBERS_WRITE)]


def member_out(m: Membership, members: Members, detail: bool = False) -> MemberOut:
    p = m.person
    fields: dict[str, Any] = {
        "membership_id": m.id,
        "company_id": m.company_id,
        "portti_id": p.portti_id,
        "given_name": p.given_name,
        "family_name": p.family_name,
        "email": p.email,
        "phone": p.phone,
        "roles": sorted(m.role_codes),
        "profiles": sorted(m.profile_ids),
        "valid_from": m.valid_from,
        "valid_until": m.valid_until,
        "status": member_status(m, members.today(m.company)),
        "receives_email": m.receives_email,
        "created_at": m.created_at,
    }
    if detail:
        return MemberDetailOut(
            **fields,
            identifiers=[
                IdentifierOut(kind=i.kind, country=i.country, value=i.value) for i in p.identifiers
            ],
        )
    return MemberOut(**fields)


@router.get("/me", operation_id="get_me", response_model=MeOut)
def get_me(ws: CurrentSession, db: DbSession, clock: ClockDep) -> MeOut:
    p = ws.person
    companies = [m.company for m in PersonDirectory(db, clock).valid_memberships(p.id)]
    return MeOut(
        portti_id=p.portti_id,
        given_name=p.given_name,
        family_name=p.family_name,
        email=p.email,
        companies=[CompanyOut.model_validate(c, from_attributes=True) for c in companies],
    )


@router.get("/me/sessions", operation_id="list_my_sessions", response_model=list[SessionOut])
def list_my_sessions(ws: CurrentSession, sessions: Sessions) -> list[SessionOut]:
    return [
        SessionOut(
            id=s.id,
            created_at=s.created_at,
            last_seen_at=s.last_seen_at,
            login_method=s.login_method,
            ip=s.ip,
            user_agent=s.user_agent,
            current=s.id == ws.id,
        )
        for s in sessions.for_person(ws.person_id)
    ]


@router.delete(
    "/me/sessions/{session_id}",
    operation_id="revoke_my_session",
    status_code=status.HTTP_204_NO_CONTENT,
)
def revoke_my_session(
    session_id: str, ws: CurrentSession, sessions: Sessions, audit: Audit
) -> Response:
    sessions.revoke(ws.person_id, session_id, audit, actor_id=ws.person_id)
    return Response(status_code=204)


@router.get(
    "/companies", operation_id="list_administered_companies", response_model=list[CompanyOut]
)
def list_administered_companies(
    ws: CurrentSession, db: DbSession, clock: ClockDep
) -> list[CompanyOut]:
    return [
        CompanyOut.model_validate(c, from_attributes=True)
        for c in AdminPolicy(db, clock).administrable_companies(ws.person_id)
    ]


@router.get(
    "/companies/{company_id}/members", operation_id="list_members", response_model=MemberPage
)
def list_members(
    company_id: Id,
    actor: ReadingActor,
    members: Members,
    q: str = "",
    status: MemberStatus = MemberStatus.ALL,
    cursor: str | None = None,
) -> MemberPage:
    page = members.list_members(actor, company_id, query=q, status=status, cursor=cursor)
    return MemberPage(
        items=[member_out(m, members) for m in page.items], next_cursor=page.next_cursor
    )


class MemberAddedOut(MemberDetailOut):
    app_access: AppAccessOut = Field(
        description="What the person's Portti app means here: a person linked by Portti ID "
        "keeps the devices other companies' invitations activated, and those do not let them "
        "into this company (SEC-14); send an invitation."
    )


@router.post(
    "/companies/{company_id}/members",
    operation_id="add_member",
    response_model=MemberAddedOut,
    status_code=status.HTTP_201_CREATED,
)
def add_member(
    company_id: Id, data: AddUserInput, actor: WritingActor, members: Members, devices: Devices
) -> MemberAddedOut:
    m = members.add_user(actor, company_id, data)
    detail = member_out(m, members, detail=True)
    access = MemberDevices(members, devices).access_of(m)
    return MemberAddedOut(**detail.model_dump(), app_access=app_access_out(access))


@router.get(
    "/companies/{company_id}/members/{membership_id}",
    operation_id="get_member",
    response_model=MemberDetailOut,
)
def get_member(
    company_id: Id, membership_id: Id, actor: ReadingActor, members: Members
) -> MemberOut:
    return member_out(members.get_member(actor, company_id, membership_id), members, True)


@router.patch(
    "/companies/{company_id}/members/{membership_id}",
    operation_id="change_member",
    response_model=MemberDetailOut,
)
def change_member(
    company_id: Id,
    membership_id: Id,
    data: MembershipPatch,
    actor: WritingActor,
    members: Members,
) -> MemberOut:
    """A partial change: the fields left out keep their values."""
    # A refusal of the hierarchy is audited, and kept.
    m = members.change_membership(actor, company_id, membership_id, data)
    return member_out(m, members, detail=True)


@router.put(
    "/companies/{company_id}/members/{membership_id}/person",
    operation_id="change_member_person",
    response_model=MemberDetailOut,
)
def change_member_person(
    company_id: Id,
    membership_id: Id,
    data: ChangePersonInput,
    request: Request,
    actor: WritingActor,
    members: Members,
    uow: Uow,
) -> MemberOut:
    """Personal details are the person's in every company: only an admin of every company the
    person's rights reach (or Support) may change them. A new e-mail address or phone number
    cancels the person's open invitations and is told to the old address."""
    # A refusal of the hierarchy is audited, and kept.
    members.change_person(actor, company_id, membership_id, data)
    return member_out(members.get_member(actor, company_id, membership_id), members, True)


@router.delete(
    "/companies/{company_id}/members/{membership_id}",
    operation_id="remove_member",
    status_code=status.HTTP_204_NO_CONTENT,
)
def remove_member(
    company_id: Id, membership_id: Id, actor: WritingActor, members: Members
) -> Response:
    # A refusal of the hierarchy is audited, and kept.
    members.remove_membership(actor, company_id, membership_id)
    return Response(status_code=204)


@router.get(
    "/companies/{company_id}/audit",
    operation_id="list_company_audit",
    response_model=list[AuditEventOut],
)
def list_company_audit(
    company_id: Id, ws: CurrentSession, members: Members, audit: Audit, before: IdQuery = None
) -> list[AuditEventOut]:
    members.company_for_admin(ws.person_id, company_id)
    return [
        AuditEventOut.model_validate(e, from_attributes=True)
        for e in audit.for_company(company_id, before_id=before)
    ]
