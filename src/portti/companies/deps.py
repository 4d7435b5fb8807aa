"""The acting person and the membership service in requests."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from portti.companies.actors import Actor
from portti.companies.services import MembershipService
from portti.infra.outbox import Outbox, outbox_box
from portti.runtime import runtime
from portti.web.deps import Audit, ClockDep, DbSession, SettingsDep
from portti.weblogin.session_deps import CurrentSession


async def get_actor(ws: CurrentSession) -> Actor:
    return Actor(person_id=ws.person_id, strong_auth_at=ws.strong_auth_at)


CurrentActor = Annotated[Actor, Depends(get_actor)]


async def get_membership_service(
    request: Request, db: DbSession, clock: ClockDep, audit: Audit, settings: SettingsDep
) -> MembershipService:
    return MembershipService(
        db,
        clock,
        audit,
        step_up_window=settings.step_up_window,
        outbox=Outbox(db, clock, outbox_box(settings.secret)),
        jinja=runtime(request).templates.env,
    )


Members = Annotated[MembershipService, Depends(get_membership_service)]
