"""The app's side of a QR login (WEB-1, WEB-2, ADM-2): reading the QR code, what waits for the
person's answer, and the answer itself — approve with PIN or biometrics and the number shown in
the browser, or "This wasn't me"."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from portti.audit.models import AuditAction
from portti.devices.models import Device
from portti.devices.reach import device_carries
from portti.infra import metrics
from portti.qrlogin.frames import FRAME_FUTURE_SECONDS, FRAME_MAX_AGE_SECONDS, elapsed_seconds
from portti.qrlogin.machine import STEP_UP_METHOD, LoginMachine
from portti.qrlogin.requester import describe_browser
from portti.weblogin.errors import (
    ApprovalNotYours,
    ApprovalUsed,
    NumberMismatch,
    OriginMismatch,
    QrInvalid,
    QrStale,
    StepUpDeviceNotForCompany,
)
from portti.weblogin.models import (
    OPEN_STATUSES,
    LoginPurpose,
    LoginTransaction,
    LoginTransactionStatus,
    WebSession,
)

Status = LoginTransactionStatus

# After the app approves, the browser has this long to pick its session up (it does so at once;
# an approval near the end of the 2 minutes must still be usable).
COMPLETION_WINDOW = timedelta(seconds=60)
APPROVE_PURPOSE = "approve_login"  # the device challenge's purpose; its context is the id


class AppApprovals(LoginMachine):
    def scan(self, device: Device, payload: str) -> LoginTransaction:
        """ "Read QR code for web login": the frame must be genuine and fresh."""
        public_id, elapsed, mac = self.frames.parse(payload)
        tx = self.get(public_id)
        # Unknown id and wrong MAC get one answer; the MAC is checked even for an unknown id.
        genuine = self.frames.verify(public_id, elapsed, mac)
        if tx is None or not genuine:
            raise QrInvalid()
        age = elapsed_seconds(tx.created_at, self.clock.now()) - elapsed
        if age > FRAME_MAX_AGE_SECONDS or age < -FRAME_FUTURE_SECONDS:
            raise QrStale()
        return self._claim(tx, device, via="qr")

    def pending_for(self, device: Device) -> Sequence[LoginTransaction]:
        """What the person's app should show: step-ups waiting for them (push), and logins this
        device has read but not answered."""
        now = self.clock.now()
        rows = self.db.scalars(
            select(LoginTransaction)
            .where(
                LoginTransaction.person_id == device.person_id,
                LoginTransaction.status.in_([s.value for s in OPEN_STATUSES]),
                LoginTransaction.expires_at > now,
            )
            .order_by(LoginTransaction.created_at.desc())
        ).all()
        return [tx for tx in rows if self._device_may_answer(tx, device)]

    def for_device(self, device: Device, public_id: str) -> LoginTransaction:
        tx = self.get(public_id)
        if tx is None or not self._device_may_answer(tx, device):
            raise ApprovalNotYours()
        return tx

    def approve(
        self,
        device: Device,
        public_id: str,
        *,
        number: int,
        verify: Callable[[], object],
        service_origin: str | None = None,
    ) -> LoginTransaction:
        """The person confirmed with PIN or biometrics and picked a number. ``verify`` is the
        device check (``DeviceApprovals.verify`` for purpose ``approve_login``, context the
        approval id): it raises after writing, so the caller commits on ``DomainError``.

        A login asked for on another site than ``service_origin`` (a look-alike host relaying
        Portti's login page) cannot be approved at all: it ends, refused, before the PIN is
        looked at (SEC-16)."""
        tx = self.for_device(device, public_id)
        self._require_open(tx)
        if service_origin is not None and tx.origin is not None and tx.origin != service_origin:
            self._end(tx, Status.REJECTED, "origin_mismatch")
            self._record_refusal(tx, device, "origin_mismatch")
            raise OriginMismatch(tx.origin, service_origin)
        self._require_device_for_company(tx, device)
        verify()
        if number != tx.number:
            self._end(tx, Status.REJECTED, "number_mismatch")
            self._record_refusal(tx, device, "number_mismatch")
            raise NumberMismatch()
        now = self.clock.now()
        moved = self._move(
            tx,
            OPEN_STATUSES,
            Status.APPROVED,
            person_id=device.person_id,
            device_id=device.id,
            approved_at=now,
            expires_at=now + COMPLETION_WINDOW,
        )
        if not moved:
            raise ApprovalUsed()
        metrics.QR_LOGINS.labels("approved").inc()
        self._record_answer(AuditAction.LOGIN_APPROVED_IN_APP, tx, device)
        self.changed.append(tx)
        return tx

    def _require_device_for_company(self, tx: LoginTransaction, device: Device) -> None:
        """SEC-14: a step-up in a company is approved only by an app that lets its person into
        that company; told in the app at once, and the waiting browser sees a refusal."""
        if tx.purpose != LoginPurpose.STEP_UP or tx.web_session_id is None:
            return
        ws = self.db.get(WebSession, tx.web_session_id)
        if ws is None or ws.company_id is None or device_carries(self.db, device, ws.company_id):
            return
        self._end(tx, Status.REJECTED, "device_not_for_company")
        self.audit.record(
            AuditAction.STEP_UP_FAILED,
            company_id=ws.company_id,
            actor_person_id=device.person_id,
            subject_person_id=device.person_id,
            method=STEP_UP_METHOD,
            reason="device_not_for_company",
            approval=tx.public_id,
            device=device.public_id,
        )
        raise StepUpDeviceNotForCompany()

    def reject(self, device: Device, public_id: str) -> LoginTransaction:
        """ "This wasn't me": the transaction ends and the browser says the login was refused."""
        tx = self.for_device(device, public_id)
        if tx.status == Status.REJECTED:
            return tx
        self._require_open(tx)
        self._end(tx, Status.REJECTED, "not_me")
        self._record_answer(AuditAction.LOGIN_REJECTED_IN_APP, tx, device, ip=tx.ip)
        return tx

    def choices(self, tx: LoginTransaction) -> list[int]:
        return [int(n) for n in tx.number_choices.split(",")]

    def _record_answer(
        self, action: AuditAction, tx: LoginTransaction, device: Device, **extra: Any
    ) -> None:
        self.audit.record(
            action,
            actor_person_id=device.person_id,
            subject_person_id=device.person_id,
            approval=tx.public_id,
            purpose=tx.purpose,
            device=device.public_id,
            browser=describe_browser(tx.user_agent),
            **extra,
        )

    @staticmethod
    def _device_may_answer(tx: LoginTransaction, device: Device) -> bool:
        if tx.purpose == LoginPurpose.STEP_UP:
            return tx.person_id == device.person_id and tx.device_id in (None, device.id)
        return tx.device_id == device.id and tx.person_id == device.person_id
