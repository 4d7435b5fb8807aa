"""Wiring the QR login service into requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from portti.audit.services import AuditLog
from portti.config import Settings
from portti.devices.app_api import AppSessionToken
from portti.devices.deps import devices_from
from portti.devices.services import DeviceService
from portti.infra.events import EventBus
from portti.qrlogin import LoginTransactionService
from portti.runtime import Runtime, runtime
from portti.web.deps import Audit, DbSession, Uow, request_context
from portti.weblogin.geo import GeoLookup


def login_transactions_from(rt: Runtime, db: Session, audit: AuditLog) -> LoginTransactionService:
    """The QR login's service wired from the runtime (requests and tests alike)."""
    return LoginTransactionService(
        db, rt.clock, audit, secret=rt.settings.secret, limiter=rt.limiter
    )


async def get_login_transactions(
    request: Request, db: DbSession, audit: Audit, uow: Uow
) -> LoginTransactionService:
    qr = login_transactions_from(runtime(request), db, audit)
    # The waiting browsers hear of a change once it is committed (never before: a browser that
    # hears "approved" must find it in the database), whatever route made it.
    bus: EventBus = runtime(request).events
    uow.after_commit(lambda: qr.publish_changes(bus))
    return qr


async def get_events(request: Request) -> EventBus:
    bus: EventBus = runtime(request).events
    return bus


async def get_geo(request: Request) -> GeoLookup:
    geo: GeoLookup = runtime(request).geo
    return geo


LoginTransactions = Annotated[LoginTransactionService, Depends(get_login_transactions)]
Events = Annotated[EventBus, Depends(get_events)]
Geo = Annotated[GeoLookup, Depends(get_geo)]


@dataclass(frozen=True)
class AppSide:
    """Everything an app-side login-approval route uses, built by one dependency: these routes
    run on every login (a chain of small dependencies cost more than their work)."""

    token: str
    db: Session
    devices: DeviceService
    qr: LoginTransactionService
    events: EventBus
    geo: GeoLookup
    settings: Settings


async def get_app_side(
    request: Request, token: AppSessionToken, db: DbSession, uow: Uow
) -> AppSide:
    state = runtime(request)
    audit = AuditLog(db, state.clock, request_context(request))
    side = AppSide(
        token=token,
        db=db,
        devices=devices_from(runtime(request), db, audit),
        qr=login_transactions_from(runtime(request), db, audit),
        events=state.events,
        geo=state.geo,
        settings=state.settings,
    )
    uow.after_commit(lambda: side.qr.publish_changes(side.events))
    return side


AppSideDep = Annotated[AppSide, Depends(get_app_side)]
