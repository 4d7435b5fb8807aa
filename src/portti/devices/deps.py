"""Wiring the account and device services into requests. The password hasher and policy are
long-lived: ``create_app`` puts them on ``app.state``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from portti.accounts.services import AccountService
from portti.devices.services import DeviceService
from portti.infra.outbox import Outbox, outbox_box
from portti.web.deps import Audit, ClockDep, DbSession, SettingsDep


async def get_accounts(
    request: Request, db: DbSession, clock: ClockDep, audit: Audit, settings: SettingsDep
) -> AccountService:
    state = request.app.state
    return AccountService(
        db,
        clock,
        audit,
        Outbox(db, clock, outbox_box(settings.secret)),
        secret=settings.secret,
        hasher=state.password_hasher,
        policy=state.password_policy,
        limiter=state.limiter,
        jinja=state.templates.env,
    )


async def get_devices(
    request: Request, db: DbSession, clock: ClockDep, audit: Audit, settings: SettingsDep
) -> DeviceService:
    state = request.app.state
    return DeviceService(
        db,
        clock,
        audit,
        Outbox(db, clock, outbox_box(settings.secret)),
        secret=settings.secret,
        pin_hasher=state.password_hasher,
        jinja=state.templates.env,
        base_url=settings.base_url.rstrip("/"),
        session_idle=timedelta(minutes=15),
    )


Accounts = Annotated[AccountService, Depends(get_accounts)]
Devices = Annotated[DeviceService, Depends(get_devices)]
