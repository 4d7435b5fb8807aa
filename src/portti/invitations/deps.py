"""Wiring the invitation service into requests."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from portti.audit.services import AuditLog
from portti.infra.outbox import Outbox, outbox_box
from portti.invitations.services import InvitationService
from portti.runtime import Runtime, runtime
from portti.web.deps import Audit, DbSession


def invitations_from(rt: Runtime, db: Session, audit: AuditLog) -> InvitationService:
    """The service on ``db``, wired from the app's runtime (requests and tests alike)."""
    settings = rt.settings
    return InvitationService(
        db,
        rt.clock,
        audit,
        Outbox(db, rt.clock, outbox_box(settings.secret)),
        secret=settings.secret,
        limiter=rt.limiter,
        jinja=rt.templates.env,
        step_up_window=settings.step_up_window,
    )


async def get_invitations(request: Request, db: DbSession, audit: Audit) -> InvitationService:
    return invitations_from(runtime(request), db, audit)


Invitations = Annotated[InvitationService, Depends(get_invitations)]
