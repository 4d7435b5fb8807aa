"""The unlocked app's session (APP-5, APP-6): unlock with PIN or biometrics, the session each
request of the app carries, and lock."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select

from portti.audit.models import AuditAction
from portti.devices.approval import DeviceApprovals
from portti.devices.errors import AppLocked
from portti.devices.lifecycle import MAX_TOKEN, DeviceLifecycle
from portti.devices.models import AppSession, Device, DeviceStatus
from portti.devices.queries import SESSION_WITH_DEVICE
from portti.infra.crypto import CodeHasher

APP_SESSION_ABSOLUTE = timedelta(hours=12)
# Sliding the idle expiry on every request would turn each read into a write.
APP_SESSION_TOUCH = timedelta(seconds=60)


class AppSessions:
    """The unlocked app: an approval by PIN or biometrics opens it, Lock ends it."""

    def __init__(
        self,
        lifecycle: DeviceLifecycle,
        approvals: DeviceApprovals,
        *,
        secret: bytes,
        session_idle: timedelta = timedelta(minutes=15),
    ) -> None:
        self.lifecycle = lifecycle
        self.approvals = approvals
        self.db = lifecycle.db
        self.clock = lifecycle.clock
        self.session_idle = session_idle
        self.session_hasher = CodeHasher(secret, "app-session")

    def unlock(
        self,
        device_public_id: str,
        *,
        nonce: str,
        signature: str,
        pin: str | None = None,
        biometric_signature: str | None = None,
    ) -> tuple[AppSession, str]:
        device = self.approvals.verify(
            device_public_id,
            purpose="unlock",
            nonce=nonce,
            signature=signature,
            pin=pin,
            biometric_signature=biometric_signature,
        )
        now = self.clock.now()
        # One unlocked session per device: an older token stops working.
        self.lifecycle.end_sessions(device.id, now)
        token = secrets.token_urlsafe(32)
        session = AppSession(
            token_hash=self.session_hasher.hash(token),
            device_id=device.id,
            created_at=now,
            expires_at=min(now + self.session_idle, now + APP_SESSION_ABSOLUTE),
        )
        self.db.add(session)
        self.db.flush()
        self.lifecycle.record_by_owner(
            AuditAction.APP_UNLOCKED, device, method="pin" if pin is not None else "biometrics"
        )
        return session, token

    def app_session(self, token: str) -> tuple[AppSession, Device]:
        """The unlocked app's session; ``app_locked`` once it ended, idled 15 minutes, reached
        12 hours, or the device stopped being active. Each use extends the idle time."""
        found = None
        if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN:
            # The session and its device in one statement (was two).
            # The current secret's hash first; a previous secret's only when that misses
            # (a session made before a rotation of the root secret).
            for token_hash in self.session_hasher.hashes(token):
                found = self.db.execute(
                    SESSION_WITH_DEVICE, {"token_hash": token_hash}
                ).one_or_none()
                if found is not None:
                    break
        now = self.clock.now()
        if found is None:
            raise AppLocked()
        session, device = found
        if session.ended_at is not None or now >= session.expires_at:
            raise AppLocked()
        if device.status != DeviceStatus.ACTIVE:
            raise AppLocked()
        slid = min(now + self.session_idle, session.created_at + APP_SESSION_ABSOLUTE)
        if slid - session.expires_at >= APP_SESSION_TOUCH:
            session.expires_at = slid
        return session, device

    def lock(self, token: str) -> None:
        """APP-6: ends this app session only; the device stays bound. Locking twice is fine; a
        token that was never an app session's is refused like any other (SEC-26)."""
        session = self._session_by_token(token)
        if session is None:
            raise AppLocked()
        if session.ended_at is not None:
            return
        session.ended_at = self.clock.now()
        device = self.db.get(Device, session.device_id)
        if device is not None:
            self.lifecycle.record_by_owner(AuditAction.APP_LOCKED, device)
        self.db.flush()

    def _session_by_token(self, token: str) -> AppSession | None:
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN:
            return None
        return self.db.scalars(
            select(AppSession).where(AppSession.token_hash.in_(self.session_hasher.hashes(token)))
        ).one_or_none()
