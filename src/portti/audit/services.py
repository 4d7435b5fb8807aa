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

    def for_person(
        self, person_id: int, *, company_id: int | None = None, limit: int = 100
    ) -> Sequence[AuditEvent]:
        q = select(AuditEvent).where(
            or_(AuditEvent.subject_person_id == person_id, AuditEvent.actor_person_id == person_id)
        )
        if company_id is not None:
            q = q.where(AuditEvent.company_id == company_id)
        return self.db.scalars(q.order_by(AuditEvent.id.desc()).limit(limit)).all()
