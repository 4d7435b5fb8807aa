"""Ending devices (APP-7, APP-8, WEB-5, SEC-4): log out, log out from all devices, removing one
device, and "This wasn't me" from the new-device e-mail."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from portti import hooks
from portti.accounts.models import Account
from portti.audit.models import AuditAction
from portti.devices.app_sessions import AppSessions
from portti.devices.lifecycle import (
    END_LOGOUT,
    END_LOGOUT_EVERYWHERE,
    END_NOT_ME,
    MAX_TOKEN,
    DeviceLifecycle,
)
from portti.devices.models import Device, DeviceStatus
from portti.errors import NotFound
from portti.i18n import _l
from portti.infra.crypto import CodeHasher
from portti.weblogin.models import LoginTransaction, LoginTransactionStatus
from portti.weblogin.sessions import SessionService


class DeviceRevocation:
    """Ending devices by their person, an administrator, or "This wasn't me"."""

    def __init__(self, lifecycle: DeviceLifecycle, sessions: AppSessions, *, secret: bytes) -> None:
        self.lifecycle = lifecycle
        self.sessions = sessions
        self.db = lifecycle.db
        self.clock = lifecycle.clock
        self.audit = lifecycle.audit
        self.not_me_hasher = CodeHasher(secret, "not-me")

    def logout(self, token: str) -> None:
        """APP-7: this device is logged out and its sessions end; the account remains, so the
        app can be activated again with it."""
        _, device = self.sessions.app_session(token)
        self.lifecycle.device(device.public_id, lock=True)
        self.lifecycle.end(device, DeviceStatus.LOGGED_OUT, END_LOGOUT, self.clock.now())
        self.lifecycle.record_by_owner(AuditAction.DEVICE_LOGGED_OUT, device)
        self.db.flush()

    def logout_everywhere(self, token: str) -> int:
        """APP-8: every device of the person is revoked, every app and web session ends, and
        the account alone can no longer activate the app: a new invitation is needed."""
        _, current = self.sessions.app_session(token)
        person_id = current.person_id
        now = self.clock.now()
        active = self.db.scalars(
            select(Device)
            .where(Device.person_id == person_id, Device.status == DeviceStatus.ACTIVE.value)
            .with_for_update()
        ).all()
        for device in active:
            self.lifecycle.end(device, DeviceStatus.REVOKED, END_LOGOUT_EVERYWHERE, now)
        web_sessions = self._web_sessions().revoke_all(person_id, self.audit, actor_id=person_id)
        has_account = self._require_invitation(person_id)
        self.audit.record(
            AuditAction.LOGOUT_EVERYWHERE,
            actor_person_id=person_id,
            subject_person_id=person_id,
            device=current.public_id,
            devices=len(active),
            web_sessions=web_sessions,
            requires_invitation=has_account,
        )
        self.db.flush()
        return len(active)

    def revoke(
        self, person_id: int, device_public_id: str, *, actor_person_id: int, reason: str
    ) -> Device:
        """Removes one of the person's devices (their web settings, or an admin allowed by the
        caller's policy check). Revoking an ended device changes nothing."""
        device = self.lifecycle.device(device_public_id, lock=True)
        if device is None or device.person_id != person_id:
            raise NotFound(_l("No such device."))
        if device.status == DeviceStatus.ACTIVE:
            self.lifecycle.end(device, DeviceStatus.REVOKED, reason[:40], self.clock.now())
            self.audit.record(
                AuditAction.DEVICE_REVOKED,
                actor_person_id=actor_person_id,
                subject_person_id=person_id,
                device=device.public_id,
                reason=reason[:40],
            )
            self.db.flush()
        return device

    def by_not_me_token(self, token: str, *, lock: bool = False) -> Device:
        """The device a "This wasn't me" link speaks of (for the page before the button)."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN:
            raise NotFound(_l("This link is not valid or has already been used."))
        q = select(Device).where(Device.not_me_token_hash == self.not_me_hasher.hash(token))
        if lock:
            q = q.with_for_update().execution_options(populate_existing=True)
        device = self.db.scalars(q).one_or_none()
        if device is None:
            raise NotFound(_l("This link is not valid or has already been used."))
        return device

    def not_me(self, token: str) -> Device:
        """ "This wasn't me": the device is revoked and the link is spent. Someone activated the
        app as this person, so the account alone is no longer trusted to activate it again
        (as after "Log out from all devices"); the person's user administrator re-invites.
        The web sessions the device approved (QR logins, step-ups) end too (SEC-4); the
        person's other sessions stay."""
        device = self.by_not_me_token(token, lock=True)
        now = self.clock.now()
        was = device.status
        device.not_me_token_hash = None
        if device.status == DeviceStatus.ACTIVE:
            self.lifecycle.end(device, DeviceStatus.REVOKED, END_NOT_ME, now)
        else:
            # Already locked or logged out: the record should still say what it really was.
            device.status = DeviceStatus.REVOKED.value
            device.end_reason = END_NOT_ME
        self._require_invitation(device.person_id)
        web_sessions = self._end_what_it_let_in(device, AuditAction.DEVICE_REPORTED_NOT_ME, now)
        # Someone else acted as this person: every login at a business application ends.
        hooks.person_disowned.fire(
            hooks.PersonDisowned(self.db, now, reason="not_me", person_id=device.person_id)
        )
        self.audit.record(
            AuditAction.DEVICE_REPORTED_NOT_ME,
            subject_person_id=device.person_id,
            device=device.public_id,
            name=device.name,
            status_before=was,
            web_sessions=web_sessions,
        )
        self.db.flush()
        return device

    def remove_by_admin(
        self, device: Device, *, actor_person_id: int, company_id: int, reason: str
    ) -> int:
        """UX-8: an administrator removes a member's device (a lost phone). As with "This
        wasn't me", what the device let in ends with it — the web sessions it approved or
        stepped up, its approvals not yet picked up — and the account alone no longer activates
        the app (the phone may hold the authenticator too): a new invitation does. Returns the
        number of web sessions ended. The caller checked the policy and the step-up."""
        now = self.clock.now()
        was = device.status
        if device.status == DeviceStatus.ACTIVE:
            self.lifecycle.end(device, DeviceStatus.REVOKED, reason[:40], now)
        else:
            device.status = DeviceStatus.REVOKED.value
            device.end_reason = device.end_reason or reason[:40]
        device.not_me_token_hash = None
        self._require_invitation(device.person_id)
        web_sessions = self._end_what_it_let_in(device, AuditAction.DEVICE_REVOKED, now)
        self.audit.record(
            AuditAction.DEVICE_REVOKED,
            company_id=company_id,
            actor_person_id=actor_person_id,
            subject_person_id=device.person_id,
            device=device.public_id,
            name=device.name,
            reason=reason[:40],
            status_before=was,
            web_sessions=web_sessions,
        )
        self.db.flush()
        return web_sessions

    def _end_what_it_let_in(self, device: Device, reason: str, now: datetime) -> int:
        """SEC-4: the web sessions a device approved or stepped up end, and its approvals not
        yet picked up by a browser are rejected. Returns the number of web sessions."""
        web_sessions = self._web_sessions().revoke_approved_by(
            device.id, self.audit, person_id=device.person_id, reason=reason
        )
        self.db.execute(
            update(LoginTransaction)
            .where(
                LoginTransaction.device_id == device.id,
                LoginTransaction.status.in_(
                    [
                        LoginTransactionStatus.PENDING.value,
                        LoginTransactionStatus.SCANNED.value,
                        LoginTransactionStatus.APPROVED.value,
                    ]
                ),
            )
            .values(
                status=LoginTransactionStatus.REJECTED.value,
                ended_at=now,
                end_reason=END_NOT_ME
                if reason == AuditAction.DEVICE_REPORTED_NOT_ME
                else "device_removed",
            )
            .execution_options(synchronize_session=False)
        )
        return web_sessions

    def _require_invitation(self, person_id: int) -> bool:
        """The person's account alone no longer activates the app (a new invitation, or bank
        ID, does). False when they have no account."""
        account = self.db.scalars(
            select(Account).where(Account.person_id == person_id)
        ).one_or_none()
        if account is None:
            return False
        account.requires_invitation = True
        return True

    def _web_sessions(self) -> SessionService:
        # Its revocations use neither timeout; they audit the web sessions they end.
        return SessionService(self.db, self.clock, idle=timedelta(0), absolute=timedelta(0))
