"""The outbox's worker: delivers the queued e-mail and SMS (``infra/outbox.py``), with retries.

The worker claims due messages by setting ``status = "sending"`` and a lease in one short
statement (``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING …``; SQLite, which
has no row locks, runs it under its single writer lock), so several workers and processes never
send one message twice while its lease holds. It then delivers outside any transaction and records the outcome:
sent, a retry with exponential back-off, or failed after ``settings.outbox_max_attempts`` or a
permanent refusal. A message whose worker died while sending is claimed again once its lease
has expired: delivery is at least once, and at most once per lease.

While ``run_forever`` runs, e-mail goes through ``mail.reusing_connections``: a batch reuses the
SMTP connections the previous one opened (closed after a few idle seconds), instead of opening
one connection per message.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from portti.config import Settings
from portti.infra import metrics
from portti.infra.clock import Clock
from portti.infra.crypto import SecretBox
from portti.infra.delivery import (
    MAX_ERROR_LENGTH,
    Delivery,
    PermanentDeliveryError,
    TransientDeliveryError,
    delivering,
)
from portti.infra.mail import Mailer, make_mailer, reusing_connections
from portti.infra.outbox import (
    Channel,
    OutboxMessage,
    OutboxStatus,
    OutboxWakeup,
    body_context,
    outbox_box,
)
from portti.infra.sms import SmsSender, make_sms_sender

log = structlog.get_logger(__name__)

LEASE = timedelta(seconds=60)
FIRST_RETRY = timedelta(seconds=2)
MAX_RETRY_DELAY = timedelta(minutes=10)
JITTER = 0.2
POLL_SECONDS = 1.0


_jitter = random.Random()


def retry_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """2 s × 2^attempts, at most 10 minutes, ±20 % so that a backlog does not retry in step."""
    doublings = min(max(attempts, 0), 20)  # past the cap anyway; keeps the timedelta in range
    base = min(FIRST_RETRY * (1 << doublings), MAX_RETRY_DELAY)
    factor = (rng or _jitter).uniform(1 - JITTER, 1 + JITTER)
    return base * factor


@dataclass(frozen=True, slots=True)
class _Claim:
    """What the worker needs of a claimed message, read inside the claiming transaction."""

    id: int
    channel: str
    recipient: str
    subject: str | None
    sealed_body: str | None
    kind: str
    attempt: int
    lease_until: datetime


class OutboxWorker:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        clock: Clock,
        box: SecretBox,
        *,
        mailer: Mailer,
        sms: SmsSender,
        max_attempts: int = 8,
        batch_size: int = 20,
        lease: timedelta = LEASE,
        poll_seconds: float = POLL_SECONDS,
        wakeup: OutboxWakeup | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.box = box
        self.mailer = mailer
        self.sms = sms
        self.max_attempts = max_attempts
        self.batch_size = batch_size
        self.lease = lease
        self.poll_seconds = poll_seconds
        self.wakeup = wakeup

    async def run_once(self) -> int:
        """Claims the messages due now (up to ``batch_size``), delivers them; returns how many."""
        claims = await asyncio.to_thread(self._claim)
        results = await asyncio.gather(*(self._deliver(c) for c in claims), return_exceptions=True)
        for claim, result in zip(claims, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result  # cancelled: the lease brings the message back
                # The outcome was not recorded; the message is retried when its lease expires.
                log.error(
                    "outbox_delivery_unrecorded",
                    message_id=claim.id,
                    channel=claim.channel,
                    kind=claim.kind,
                    attempt=claim.attempt,
                    error_type=type(result).__name__,
                )
        return len(claims)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Delivers until ``stop`` is set, waking on ``wakeup.notify()`` or every second."""
        log.info("outbox_worker_started")
        async with reusing_connections(self.mailer) as connections:
            while not stop.is_set():
                try:
                    handled = await self.run_once()
                except Exception as exc:  # e.g. the database is away: try again at the next poll
                    log.error("outbox_worker_error", error_type=type(exc).__name__)
                    handled = 0
                if handled >= self.batch_size:
                    continue  # there may be more due already
                if connections is not None:
                    await connections.close_idle()
                await self._idle(stop)
        log.info("outbox_worker_stopped")

    async def _idle(self, stop: asyncio.Event) -> None:
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
        if self.wakeup is not None:
            waits.append(asyncio.ensure_future(self.wakeup.wait()))
        try:
            await asyncio.wait(
                waits, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for w in waits:
                w.cancel()

    # -- claiming (runs in a thread) ------------------------------------------------------------

    def _due(self, now: datetime) -> Any:
        m = OutboxMessage
        return or_(
            and_(m.status == OutboxStatus.PENDING.value, m.next_attempt_at <= now),
            and_(m.status == OutboxStatus.SENDING.value, m.lease_until <= now),
        )

    def _claim(self) -> list[_Claim]:
        """One statement: mark up to ``batch_size`` due messages as ours for one lease.

        On PostgreSQL the inner ``SELECT … FOR UPDATE SKIP LOCKED`` skips rows another worker
        is claiming instead of waiting for them, and a row it has claimed no longer matches
        ``_due`` once its claim is committed. SQLite has no row locks but runs the whole
        statement under its single writer lock, so the rows it picks are due and unclaimed.
        """
        now = self.clock.now()
        lease_until = now + self.lease
        m = OutboxMessage
        due = (
            select(m.id)
            .where(self._due(now))
            .order_by(m.next_attempt_at, m.id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )
        claim = (
            update(m)
            .where(m.id.in_(due))
            .values(
                status=OutboxStatus.SENDING.value,
                lease_until=lease_until,
                attempts=m.attempts + 1,
            )
            .returning(m.id, m.channel, m.recipient, m.subject, m.sealed_body, m.kind, m.attempts)
        )
        with self.session_factory() as db:
            # A read first: an idle poll must not take SQLite's writer lock every second.
            if db.scalar(select(m.id).where(self._due(now)).limit(1)) is None:
                return []
        with self.session_factory() as db, db.begin():
            rows = db.connection().execute(claim).all()
        return sorted((_Claim(*row, lease_until=lease_until) for row in rows), key=lambda c: c.id)

    # -- delivering -----------------------------------------------------------------------------

    async def _deliver(self, claim: _Claim) -> None:
        with delivering(Delivery(claim.id, claim.channel, claim.kind, claim.attempt)):
            error: str | None = None
            permanent = False
            if claim.attempt > self.max_attempts:
                # Its last attempt was cut short (the process died while sending).
                error, permanent = "gave up: the last attempt was interrupted", True
            else:
                try:
                    # However slow the transport, finish well inside the lease, so that no other
                    # worker can claim the message while it may still be going out.
                    async with asyncio.timeout(self.lease.total_seconds() * 0.75):
                        await self._send(claim)
                except PermanentDeliveryError as exc:
                    error, permanent = exc.reason, True
                except TransientDeliveryError as exc:
                    error = exc.reason
                except TimeoutError:
                    error = "delivery timed out"
                except Exception as exc:  # a fault of ours: keep the message, say what broke
                    error = "unexpected " + type(exc).__name__
                    log.error(
                        "outbox_transport_error",
                        message_id=claim.id,
                        channel=claim.channel,
                        kind=claim.kind,
                        attempt=claim.attempt,
                        error_type=type(exc).__name__,
                    )
            outcome = await asyncio.to_thread(self._record, claim, error, permanent)
            metrics.DELIVERIES.labels(claim.channel, outcome).inc()
            log.info(
                "outbox_delivery",
                message_id=claim.id,
                channel=claim.channel,
                kind=claim.kind,
                attempt=claim.attempt,
                outcome=outcome,
            )

    async def _send(self, claim: _Claim) -> None:
        if claim.sealed_body is None:
            raise PermanentDeliveryError("the message has no body")
        try:
            body = json.loads(self.box.open(claim.sealed_body, context=body_context(claim.id)))
        except Exception as exc:  # another secret key, or a damaged row
            raise PermanentDeliveryError("the sealed body cannot be opened") from exc
        if claim.channel == Channel.EMAIL:
            await self.mailer.send(
                to=claim.recipient,
                subject=claim.subject or "",
                text=body["text"],
                html=body.get("html"),
            )
        elif claim.channel == Channel.SMS:
            await self.sms.send(to=claim.recipient, text=body["text"])
        else:
            raise PermanentDeliveryError(f"unknown channel {claim.channel!r}")

    def _record(self, claim: _Claim, error: str | None, permanent: bool) -> str:
        """Writes the outcome; returns it ("sent", "retry", "failed" or "lease_lost")."""
        now = self.clock.now()
        m = OutboxMessage
        values: dict[str, Any] = {"lease_until": None}
        if error is None:
            outcome = "sent"
            values |= {"status": OutboxStatus.SENT.value, "sent_at": now, "last_error": None}
            # It has gone out: record that even if our lease ran out meanwhile, so that nobody
            # sends it again.
            where = [m.id == claim.id, m.status != OutboxStatus.SENT.value]
        else:
            values["last_error"] = error[:MAX_ERROR_LENGTH]
            if permanent or claim.attempt >= self.max_attempts:
                outcome = "failed"
                values["status"] = OutboxStatus.FAILED.value
            else:
                outcome = "retry"
                values["status"] = OutboxStatus.PENDING.value
                values["next_attempt_at"] = now + retry_delay(claim.attempt)
            where = [
                m.id == claim.id,
                m.status == OutboxStatus.SENDING.value,
                m.lease_until == claim.lease_until,
            ]
        if outcome != "retry":
            values["sealed_body"] = None  # the codes leave the database with the message
        with self.session_factory() as db, db.begin():
            result: CursorResult[Any] = db.connection().execute(
                update(m).where(*where).values(**values)
            )
            if result.rowcount == 0:
                return "lease_lost"
        return outcome


def build_worker(
    settings: Settings,
    session_factory: sessionmaker[Session],
    clock: Clock,
    *,
    wakeup: OutboxWakeup | None = None,
) -> OutboxWorker:
    """A worker with the transports ``settings.mail_url`` and ``settings.sms_url`` name."""
    return OutboxWorker(
        session_factory,
        clock,
        outbox_box(settings.secret),
        mailer=make_mailer(settings, session_factory, clock),
        sms=make_sms_sender(settings, session_factory, clock),
        max_attempts=settings.outbox_max_attempts,
        poll_seconds=settings.outbox_poll_seconds,
        wakeup=wakeup,
    )
