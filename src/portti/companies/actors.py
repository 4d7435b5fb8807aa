"""Who acts on a company's users: a person, with when they last proved who they are, or
business software through a machine client (PRV-1). The rights checks that concern the actor
rather than one membership live here too: what a machine client may administer, and the
person-wide rule (SEC-1, SEC-7), whose refusals are audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.companies.errors import MemberOutranksAdmin, PersonNeedsSupport
from portti.companies.models import Company, CompanyKind
from portti.companies.policy import AdminGrant, AdminPolicy
from portti.companies.principal import CompanyNotAllowed, MachinePrincipal
from portti.errors import Forbidden
from portti.i18n import _l

# The grant of a machine client (PRV-1), as USER_ADMIN, OFFICE_MAIN_USER and SUPPORT are of a
# person: it hands out the company's roles and user administrators, no system role above.
MACHINE = "machine"


@dataclass(frozen=True)
class Actor:
    """The administrator acting, and when they last proved who they are; or business software
    acting through a machine client (PRV-1: ``person_id`` None, no step-up)."""

    person_id: int | None
    strong_auth_at: datetime | None
    machine: MachinePrincipal | None = None

    @classmethod
    def of_machine(cls, principal: MachinePrincipal) -> Actor:
        return cls(person_id=None, strong_auth_at=None, machine=principal)

    @property
    def acting_person_id(self) -> int:
        """The person acting: what only a person may do refuses a machine client."""
        if self.person_id is None:
            raise Forbidden(_l("Only a person may do this."))
        return self.person_id

    @property
    def audit_actor(self) -> dict[str, Any]:
        """The actor as an audit row records it."""
        return {"actor_person_id": self.person_id, "machine": self.machine}


def machine_grant(
    db: Session, machine: MachinePrincipal, company_id: int, audit: AuditLog | None = None
) -> tuple[Company, AdminGrant]:
    """What a machine client may administer (PRV-1): the companies it was registered for, never
    the operator's (Support is not business software's to give), never a closed one. Refused
    alike whether or not the company exists; the refusal is audited (and kept) when ``audit``
    is given."""
    company = db.get(Company, company_id)
    if (
        company is None
        or not machine.may_act_on(company.id)
        or company.kind == CompanyKind.OPERATOR
        or company.closed_at is not None
    ):
        if audit is not None:
            audit.record(
                AuditAction.ACCESS_DENIED,
                company_id=company.id if company is not None else None,
                machine=machine,
                operation="machine_access",
                reason=CompanyNotAllowed.code,
            )
        raise CompanyNotAllowed()
    return company, AdminGrant(company.id, MACHINE, frozenset())


def refuse(
    audit: AuditLog,
    error: MemberOutranksAdmin | PersonNeedsSupport,
    actor: Actor,
    company: Company,
    person_id: int,
    operation: str,
) -> NoReturn:
    """Refusals of the grant hierarchy are audited (the route keeps the row), then raised."""
    audit.record(
        AuditAction.ACCESS_DENIED,
        company_id=company.id,
        **actor.audit_actor,
        subject_person_id=person_id,
        operation=operation,
        reason=error.code,
    )
    raise error


def require_person_rights(
    policy: AdminPolicy,
    audit: AuditLog,
    actor: Actor,
    company: Company,
    person_id: int,
    operation: str,
) -> None:
    if actor.machine is not None:
        allowed = machine_may_manage_person(policy, actor.machine, person_id)
    else:
        allowed = policy.may_manage_person(actor.acting_person_id, person_id)
    if not allowed:
        refuse(audit, PersonNeedsSupport(), actor, company, person_id, operation)


def machine_may_manage_person(
    policy: AdminPolicy, machine: MachinePrincipal, person_id: int
) -> bool:
    """The person-wide rule for business software (SEC-1, SEC-7): every company the person's
    rights reach must be one the machine client may act on; Support's are never."""
    reach = policy.reach_of(person_id)
    if reach.everything or not reach.companies:
        return False
    operator = policy.db.scalars(
        select(Company.id).where(
            Company.id.in_(reach.companies), Company.kind == CompanyKind.OPERATOR
        )
    ).first()
    return operator is None and all(machine.may_act_on(c) for c in reach.companies)
