"""Wiring the device service into requests from the ``Runtime``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from portti.audit.services import AuditLog
from portti.config import Settings
from portti.devices.services import DeviceService
from portti.infra.outbox import Outbox, outbox_box
from portti.runtime import Runtime, runtime
from portti.web.deps import Audit, DbSession


def devices_from(rt: Runtime, db: Session, audit: AuditLog, **options: Any) -> DeviceService:
    """The device service wired from the runtime's collaborators; ``options`` are further
    ``DeviceService`` keywords (the PIN lengths, say) over the app's."""
    settings: Settings = rt.settings
    wiring: dict[str, Any] = {
        "secret": settings.secret,
        "pin_hasher": rt.pin_hasher,
        "jinja": rt.templates.env,
        "base_url": settings.base_url.rstrip("/"),
        "session_idle": timedelta(minutes=15),
        "limiter": rt.limiter,
    }
    outbox = Outbox(db, rt.clock, outbox_box(settings.secret))
    return DeviceService(db, rt.clock, audit, outbox, **(wiring | options))


def build_devices(request: Request, db: Session, audit: AuditLog) -> DeviceService:
    return devices_from(runtime(request), db, audit)


async def get_devices(request: Request, db: DbSession, audit: Audit) -> DeviceService:
    return build_devices(request, db, audit)


Devices = Annotated[DeviceService, Depends(get_devices)]
