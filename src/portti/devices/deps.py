"""Wiring the device service's parts into requests from the ``Runtime``; each route takes the
part it needs."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from portti.audit.services import AuditLog
from portti.config import Settings
from portti.devices.app_sessions import AppSessions
from portti.devices.approval import DeviceApprovals
from portti.devices.binding import DeviceBinding
from portti.devices.challenges import DeviceChallenges
from portti.devices.lifecycle import DeviceLifecycle
from portti.devices.revocation import DeviceRevocation
from portti.devices.services import DeviceService
from portti.infra.outbox import Outbox, outbox_box
from portti.runtime import Runtime, runtime
from portti.web.deps import Audit, DbSession


def devices_from(rt: Runtime, db: Session, audit: AuditLog, **options: Any) -> DeviceService:
    """The device service's parts wired from the runtime's collaborators; ``options`` are
    further ``DeviceService.build`` keywords (the PIN lengths, say) over the app's."""
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
    return DeviceService.build(db, rt.clock, audit, outbox, **(wiring | options))


async def get_devices(request: Request, db: DbSession, audit: Audit) -> DeviceService:
    return devices_from(runtime(request), db, audit)


Devices = Annotated[DeviceService, Depends(get_devices)]


async def get_lifecycle(devices: Devices) -> DeviceLifecycle:
    return devices.lifecycle


async def get_challenges(devices: Devices) -> DeviceChallenges:
    return devices.challenges


async def get_approvals(devices: Devices) -> DeviceApprovals:
    return devices.approvals


async def get_app_sessions(devices: Devices) -> AppSessions:
    return devices.sessions


async def get_binding(devices: Devices) -> DeviceBinding:
    return devices.binding


async def get_revocation(devices: Devices) -> DeviceRevocation:
    return devices.revocation


Lifecycle = Annotated[DeviceLifecycle, Depends(get_lifecycle)]
Challenges = Annotated[DeviceChallenges, Depends(get_challenges)]
Approvals = Annotated[DeviceApprovals, Depends(get_approvals)]
Sessions = Annotated[AppSessions, Depends(get_app_sessions)]
Binding = Annotated[DeviceBinding, Depends(get_binding)]
Revocation = Annotated[DeviceRevocation, Depends(get_revocation)]
