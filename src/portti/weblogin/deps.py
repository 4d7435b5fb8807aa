"""Wiring the QR login service into requests."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from portti.infra.events import EventBus
from portti.web.deps import Audit, ClockDep, DbSession, SettingsDep
from portti.weblogin.qr import GeoLookup, LoginTransactionService


async def get_login_transactions(
    request: Request, db: DbSession, clock: ClockDep, audit: Audit, settings: SettingsDep
) -> LoginTransactionService:
    return LoginTransactionService(
        db, clock, audit, secret=settings.secret, limiter=request.app.state.limiter
    )


async def get_events(request: Request) -> EventBus:
    bus: EventBus = request.app.state.events
    return bus


async def get_geo(request: Request) -> GeoLookup:
    geo: GeoLookup = request.app.state.geo
    return geo


LoginTransactions = Annotated[LoginTransactionService, Depends(get_login_transactions)]
Events = Annotated[EventBus, Depends(get_events)]
Geo = Annotated[GeoLookup, Depends(get_geo)]
