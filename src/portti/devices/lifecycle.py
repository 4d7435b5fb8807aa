"""The device lifecycle, one state machine::

    (activation) ──bind──▶ active ──9th wrong PIN──▶ locked
                             │ ──log out (APP-7)──────────▶ logged_out
                             └ ──revoke / not me / log out everywhere (APP-8)──▶ revoked

Every state but ``active`` is final: the app must be activated again (a new device row).

``DeviceLifecycle`` is the part every other part of ``DeviceService`` is built on: reading a
device, refusing one that is not active, auditing what happened to it, and the one way out of
``active``.

Transactions: methods flush, never commit — except ``verify`` with a PIN, which commits the
counted try (and whatever the caller had written before) before checking the PIN.
Several refusals write something that must stay —
a counted wrong PIN, a lock, a burnt nonce, an audit row — *and* raise a ``DomainError``. Their
error classes say so (``keeps_writes = True``), and the request's unit of work
(``web/uow.py``) commits on them before the error answers; no route commits by itself.
Rolling back on such an error would hand an attacker unlimited PIN guesses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portti import hooks
from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.devices.errors import DeviceLocked, DeviceUnknown
from portti.devices.models import AppSession, Device, DeviceStatus
from portti.devices.queries import DEVICE, DEVICE_FRESH, DEVICE_LOCKED
from portti.infra.clock import Clock

# The PIN policy: 6 digits by default; a deployment may allow up to 12 (``pin_lengths``).
PIN_MIN_LENGTH = 6
PIN_MAX_LENGTH = 12
MAX_TOKEN = 100

END_LOGOUT = "logout"
END_PIN_LOCKED = "pin_locked"
END_LOGOUT_EVERYWHERE = "logout_everywhere"
END_NOT_ME = "not_me"
END_REPLACED = "replaced"
REVOKED_BY_OWNER = "revoked_by_owner"
ACTIVE = DeviceStatus.ACTIVE.value


class DeviceLifecycle:
    """Reading, refusing, auditing and ending devices: the part the others are built on."""

    def __init__(self, db: Session, clock: Clock, audit: AuditLog) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit

    def devices_for(self, person_id: int) -> list[Device]:
        """The person's devices, newest first; ended ones too (the list shows their state)."""
        return list(
            self.db.scalars(
                select(Device)
                .where(Device.person_id == person_id)
                .order_by(Device.created_at.desc(), Device.id.desc())
            )
        )

    # -- reading and refusing ------------------------------------------------------------------

    def device(self, public_id: str, *, lock: bool = False, fresh: bool = False) -> Device | None:
        """``lock``: read afresh under ``FOR UPDATE`` (PostgreSQL; SQLite's first write of the
        transaction has locked the database already). ``fresh``: read afresh, no lock."""
        if not isinstance(public_id, str) or not 0 < len(public_id) <= 40:
            return None
        q = DEVICE_LOCKED if lock else DEVICE_FRESH if fresh else DEVICE
        return self.db.scalars(q, {"public_id": public_id}).one_or_none()

    @staticmethod
    def require_active(device: Device | None) -> Device:
        if device is None:
            raise DeviceUnknown()
        if device.status == DeviceStatus.LOCKED:
            raise DeviceLocked()
        if device.status != DeviceStatus.ACTIVE:
            raise DeviceUnknown()
        return device

    def active_for(self, device: Device | None, purpose: str) -> Device:
        """``_require_active``, with the refusal of an ended device audited for ``purpose``."""
        if device is not None and device.status != DeviceStatus.ACTIVE:
            self.approval_failed(device, purpose, "device_" + device.status)
        return self.require_active(device)

    def refuse_ended_meanwhile(self, public_id: str, purpose: str) -> NoReturn:
        """A write conditional on ``active`` found the device locked, logged out or revoked
        since it was read: answer as a fresh read would."""
        self.active_for(self.device(public_id, lock=True), purpose)
        raise DeviceUnknown()

    def approval_failed(self, device: Device, purpose: str, reason: str, **extra: Any) -> None:
        self.audit.record(
            AuditAction.DEVICE_APPROVAL_FAILED,
            subject_person_id=device.person_id,
            device=device.public_id,
            purpose=purpose,
            reason=reason,
            **extra,
        )

    def record_by_owner(self, action: AuditAction, device: Device, **extra: Any) -> None:
        """Something the device's person did with it."""
        self.audit.record(
            action,
            actor_person_id=device.person_id,
            subject_person_id=device.person_id,
            device=device.public_id,
            **extra,
        )

    # -- the way out of active -----------------------------------------------------------------

    def end_sessions(self, device_id: int, now: datetime) -> None:
        self.db.execute(
            update(AppSession)
            .where(AppSession.device_id == device_id, AppSession.ended_at.is_(None))
            .values(ended_at=now)
        )

    def end(self, device: Device, status: DeviceStatus, reason: str, now: datetime) -> None:
        """The one way out of ``active``: its sessions end. Its open nonces need no touching
        (``verify`` refuses any device that is not active), and deleting them here would take
        challenge locks after the device lock, against the order ``verify`` uses."""
        device.status = status.value
        device.ended_at = now
        device.end_reason = reason
        self.end_sessions(device.id, now)
        # Logins at business applications made by approving with this device end with it.
        hooks.device_ended.fire(
            hooks.DeviceEnded(self.db, now, reason="device_" + status.value, device_id=device.id)
        )
