"""Writing and reading the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from portti.audit.models import AuditAction, AuditEvent
from portti.db.base import table_of
from portti.infra.clock import Clock


@dataclass(frozen=True)
class RequestContext:
    """Where a request came from, for the audit log."""

    ip: str | None = None
    user_agent: str | None = None


class MachineActor(Protocol):
    """Business software acting through a machine client (PRV-1): what the log keeps of it."""

    @property
    def client_id(self) -> str: ...


_INSERT = insert(table_of(AuditEvent))

# What happened to a person's means of logging in, for their administrator (UX-8): logins
# refused with "This wasn't me", PINs locked or paused after wrong tries, the app activated
# again (a new device, or one replacing another), devices ended, the account locked.
SECURITY_ACTIONS = (
    AuditAction.LOGIN_REJECTED_IN_APP,
    AuditAction.DEVICE_REPORTED_NOT_ME,
    AuditAction.PIN_FAILED,
    AuditAction.DEVICE_LOCKED,
    AuditAction.DEVICE_BOUND,
    AuditAction.DEVICE_REPLACED,
    AuditAction.DEVICE_REVOKED,
    AuditAction.DEVICE_LOGGED_OUT,
    AuditAction.LOGOUT_EVERYWHERE,
    AuditAction.ACCOUNT_LOCKED,
)
# A wrong PIN alone is no event for the administrator; the one that makes the app wait is.
PIN_PAUSE_FROM = 3


class AuditLog:
    def __init__(self, db: Session, clock: Clock, ctx: RequestContext | None = None) -> None:
        self.db = db
        self.clock = clock
        self.ctx = ctx or RequestContext()

    def record(
        self,
        action: AuditAction | str,
        *,
        company_id: int | None = None,
        actor_person_id: int | None = None,
        subject_person_id: int | None = None,
        machine: MachineActor | None = None,
        **details: Any,
    ) -> None:
        """Written at once, in the caller's transaction: it commits or rolls back with the
        change it speaks of. A plain INSERT (no unit of work): the log only ever grows, and
        every approval writes a row. ``machine``: the machine client acting (PRV-1), recorded
        as the actor."""
        self.db.execute(
            _INSERT,
            {
                "occurred_at": self.clock.now(),
                "action": str(action),
                "company_id": company_id,
                "actor_person_id": actor_person_id,
                "actor_client_id": machine.client_id if machine is not None else None,
                "subject_person_id": subject_person_id,
                "ip": self.ctx.ip,
                "user_agent": (self.ctx.user_agent or "")[:300] or None,
                "details": details,
            },
        )

    def for_company(
        self, company_id: int, *, limit: int = 100, before_id: int | None = None
    ) -> Sequence[AuditEvent]:
        q = select(AuditEvent).where(AuditEvent.company_id == company_id)
        if before_id is not None:
            q = q.where(AuditEvent.id < before_id)
        return self.db.scalars(q.order_by(AuditEvent.id.desc()).limit(limit)).all()

    def security_events(
        self, person_id: int, company_id: int, *, limit: int = 20
    ) -> list[AuditEvent]:
        """The person's recent security events (``SECURITY_ACTIONS``) that belong to no company
        (the person's own devices and account) or to ``company_id``: never another company's
        administration of them. Newest first."""
        q = (
            select(AuditEvent)
            .where(
                AuditEvent.subject_person_id == person_id,
                AuditEvent.action.in_([str(a) for a in SECURITY_ACTIONS]),
                or_(AuditEvent.company_id.is_(None), AuditEvent.company_id == company_id),
            )
            .order_by(AuditEvent.id.desc())
            .limit(limit * 4)
        )
        found = [
            e
            for e in self.db.scalars(q)
            if e.action != AuditAction.PIN_FAILED
            or int((e.details or {}).get("failures") or 0) >= PIN_PAUSE_FROM
        ]
        return found[:limit]

    def for_person(
        self, person_id: int, *, company_id: int | None = None, limit: int = 100
    ) -> Sequence[AuditEvent]:
        q = select(AuditEvent).where(
            or_(AuditEvent.subject_person_id == person_id, AuditEvent.actor_person_id == person_id)
        )
        if company_id is not None:
            q = q.where(AuditEvent.company_id == company_id)
        return self.db.scalars(q.order_by(AuditEvent.id.desc()).limit(limit)).all()
