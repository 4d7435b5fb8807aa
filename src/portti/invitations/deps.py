"""Wiring the invitation service into requests."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from portti.infra.outbox import Outbox, outbox_box
from portti.invitations.services import InvitationService
from portti.runtime import runtime
from portti.web.deps import Audit, ClockDep, DbSession, SettingsDep


async def get_invitations(
    request: Request, db: DbSession, clock: ClockDep, audit: Audit, settings: SettingsDep
) -> InvitationService:
    return InvitationService(
        db,
        clock,
        audit,
        Outbox(db, clock, outbox_box(settings.secret)),
        secret=settings.secret,
        limiter=runtime(request).limiter,
        jinja=runtime(request).templates.env,
        step_up_window=settings.step_up_window,
    )


Invitations = Annotated[InvitationService, Depends(get_invitations)]


def wake_outbox(request: Request) -> None:
    """After a commit that queued messages: deliver them now rather than at the next poll."""
    wakeup = runtime(request).outbox_wakeup
    if wakeup is not None:
        wakeup.notify()
