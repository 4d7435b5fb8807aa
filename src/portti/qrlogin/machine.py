"""The login transaction's state machine: its transitions, the one write each makes, and what
changed for the waiting browsers to hear once committed.

Methods flush, never commit. Refusals that must leave a trace (a wrong number ends the
transaction, a failed completion is audited) write and then raise: routes commit on
``DomainError``, then call ``publish_changes`` so waiting browsers learn at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.devices.models import Device
from portti.infra import metrics
from portti.infra.clock import Clock
from portti.infra.crypto import CodeHasher
from portti.infra.events import EventBus
from portti.infra.ratelimit import RateLimiter
from portti.qrlogin.frames import QrFrames
from portti.qrlogin.queries import TRANSACTION_BY_PUBLIC_ID, move_statement
from portti.qrlogin.state import BrowserState, browser_state_of, channel_of, effective_status
from portti.weblogin.errors import (
    AlreadyScanned,
    ApprovalNotYours,
    ApprovalPending,
    ApprovalUsed,
    LoginEnded,
    LoginExpired,
)
from portti.weblogin.models import (
    OPEN_STATUSES,
    LoginPurpose,
    LoginTransaction,
    LoginTransactionStatus,
)

Status = LoginTransactionStatus

LIFETIME = timedelta(minutes=2)
METHOD = "app_qr"
STEP_UP_METHOD = "app"


# How a login's end is counted (portti_qr_logins_total): the person refused it in the app
# ("This wasn't me", the wrong number), it ran out of time, or a newer one replaced it.
ENDED_OUTCOMES = {"not_me": "refused", "number_mismatch": "refused", "expired": "expired"}


class LoginMachine:
    """The transitions every side of a QR login shares."""

    def __init__(
        self,
        db: Session,
        clock: Clock,
        audit: AuditLog,
        *,
        secret: bytes,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit
        self.limiter = limiter
        self.frames = QrFrames(secret)
        self.code_hasher = CodeHasher(secret, "login-short-code")
        # Transactions changed by this request, for ``publish_changes`` after the commit.
        self.changed: list[LoginTransaction] = []

    def get(self, public_id: str) -> LoginTransaction | None:
        if not isinstance(public_id, str) or not 0 < len(public_id) <= 32:
            return None
        return self.db.scalars(TRANSACTION_BY_PUBLIC_ID, {"public_id": public_id}).one_or_none()

    def effective_status(self, tx: LoginTransaction) -> Status:
        """The status, with time taken into account (expiry is written lazily)."""
        return effective_status(tx.status, tx.expires_at, self.clock.now())

    def browser_state(self, tx: LoginTransaction) -> BrowserState:
        return browser_state_of(tx, self.clock.now())

    # -- after the commit --------------------------------------------------------------------

    def publish_changes(self, bus: EventBus) -> None:
        """Tells the waiting browsers; call after the commit (never before: a browser that
        hears "approved" must find it in the database)."""
        seen: set[str] = set()
        for tx in self.changed:
            if tx.public_id in seen:
                continue
            seen.add(tx.public_id)
            bus.publish_threadsafe(channel_of(tx.public_id), self.browser_state(tx).to_json())
        self.changed.clear()

    # -- transitions -------------------------------------------------------------------------

    def _record_failure(
        self,
        tx: LoginTransaction,
        reason: str,
        *,
        actor_person_id: int | None,
        subject_person_id: int | None,
        **extra: Any,
    ) -> None:
        """A login (or step-up) by app that did not happen, and why."""
        self.audit.record(
            AuditAction.STEP_UP_FAILED
            if tx.purpose == LoginPurpose.STEP_UP
            else AuditAction.LOGIN_FAILED,
            actor_person_id=actor_person_id,
            subject_person_id=subject_person_id,
            method=METHOD,
            reason=reason,
            approval=tx.public_id,
            **extra,
        )

    def _record_refusal(self, tx: LoginTransaction, device: Device, reason: str) -> None:
        """``_record_failure`` for what the person's app sent."""
        self._record_failure(
            tx,
            reason,
            actor_person_id=device.person_id,
            subject_person_id=device.person_id,
            device=device.public_id,
        )

    def _require_open(self, tx: LoginTransaction) -> None:
        status = Status(tx.status)
        if status in OPEN_STATUSES and self.clock.now() >= tx.expires_at:
            self._end(tx, Status.EXPIRED, "expired")
            raise LoginExpired()
        if status in {Status.APPROVED, Status.COMPLETED}:
            raise ApprovalUsed()
        if status == Status.EXPIRED:
            raise LoginExpired()
        if status == Status.REJECTED:
            raise LoginEnded()

    def _claim(self, tx: LoginTransaction, device: Device, *, via: str) -> LoginTransaction:
        """An app read the code (``via`` QR or typed): the transaction is that device's to
        answer."""
        if tx.status == Status.SCANNED and tx.device_id == device.id:
            if self.clock.now() >= tx.expires_at:
                self._end(tx, Status.EXPIRED, "expired")
                raise LoginExpired()
            return tx  # the app asked again (a retry): the same answer
        if tx.status == Status.SCANNED:
            raise AlreadyScanned()
        self._require_open(tx)
        if tx.purpose == LoginPurpose.STEP_UP and tx.person_id != device.person_id:
            # Someone else's step-up code: not theirs to answer, and no hint whose it is.
            raise ApprovalNotYours()
        now = self.clock.now()
        self._replace_open(device.person_id, now, keep=tx)
        tx.status = Status.SCANNED
        tx.person_id = device.person_id
        tx.device_id = device.id
        tx.scanned_at = now
        self._flush_claim()
        self.audit.record(
            AuditAction.LOGIN_QR_SCANNED,
            actor_person_id=device.person_id,
            subject_person_id=device.person_id,
            approval=tx.public_id,
            purpose=tx.purpose,
            device=device.public_id,
            via=via,
            origin=tx.origin,
        )
        self.changed.append(tx)
        return tx

    def _replace_open(
        self, person_id: int, now: datetime, keep: LoginTransaction | None = None
    ) -> None:
        """A person has one approval waiting at a time: a newer one ends the older."""
        q = select(LoginTransaction).where(
            LoginTransaction.person_id == person_id,
            LoginTransaction.status.in_([s.value for s in OPEN_STATUSES]),
        )
        if keep is not None and keep.id is not None:
            q = q.where(LoginTransaction.id != keep.id)
        for old in self.db.scalars(q):
            if now >= old.expires_at:
                self._end(old, Status.EXPIRED, "expired")
            else:
                self._end(old, Status.REJECTED, "replaced")
        # The old rows must leave the open set before the new one enters it (unique index).
        self.db.flush()

    def _flush_claim(self) -> None:
        try:
            self.db.flush()
        except IntegrityError as exc:
            # Two claims for one person raced (PostgreSQL); the other one won. Nothing of this
            # request is worth keeping.
            self.db.rollback()
            self.changed.clear()
            raise ApprovalPending() from exc

    def _end(self, tx: LoginTransaction, status: Status, reason: str) -> None:
        metrics.QR_LOGINS.labels(ENDED_OUTCOMES.get(reason, "ended")).inc()
        tx.status = status
        tx.ended_at = self.clock.now()
        tx.end_reason = reason
        self.changed.append(tx)

    def _move(
        self,
        tx: LoginTransaction,
        from_statuses: Sequence[Status],
        to: Status,
        **values: Any,
    ) -> bool:
        """A conditional UPDATE: of two requests racing, exactly one moves the transaction."""
        statement = move_statement(tuple(s.value for s in from_statuses), tuple(sorted(values)))
        params = {"b_id": tx.id, "v_status": to.value}
        params |= {"v_" + name: value for name, value in values.items()}
        result = cast("CursorResult[Any]", self.db.execute(statement, params))
        if result.rowcount != 1:
            return False
        # What the UPDATE wrote, without reading the row back.
        for key, value in {"status": to.value, **values}.items():
            set_committed_value(tx, key, value)
        return True
