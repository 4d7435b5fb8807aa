"""The transactional outbox (INV-7): e-mail and SMS are rows written in the same transaction as
the change that caused them, and a worker delivers them afterwards, with retries.

A service calls ``Outbox.email``/``Outbox.sms`` inside its own transaction; if that rolls back,
the message never existed. Queuing marks the database session (``QUEUED`` in its ``info``);
after the commit that holds the messages the request's unit of work (``web/uow.py``) calls
``OutboxWakeup.notify()``, so that the worker delivers at once instead of at its next poll
(every second).

The worker that delivers them is ``infra/outbox_worker.py``.

Bodies carry codes, so they are sealed (AES-GCM) while queued and erased once the message is
sent or has failed. Log lines carry the message id, channel, kind, attempt and outcome only.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import threading
from datetime import datetime
from enum import StrEnum

import structlog
from sqlalchemy import CheckConstraint, Index, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from portti.db.base import Model, UtcDateTime
from portti.infra.clock import Clock
from portti.infra.crypto import SecretBox
from portti.infra.delivery import (
    MAX_ERROR_LENGTH,
)

log = structlog.get_logger(__name__)

MAX_SUBJECT_LENGTH = 998  # RFC 5322 line limit


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class OutboxMessage(Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'sms')", name="channel"),
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(MAX_SUBJECT_LENGTH))
    # SecretBox-sealed JSON {"text": ..., "html": ...}; NULL once sent or failed.
    sealed_body: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(40))
    # Plain ids, no foreign keys: the outbox must never block deleting what a message was about.
    company_id: Mapped[int | None]
    person_id: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(10), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(MAX_ERROR_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


Index("ix_outbox_messages_due", OutboxMessage.status, OutboxMessage.next_attempt_at)


@functools.lru_cache(maxsize=8)
def body_context(message_id: int) -> str:
    """What a queued body is sealed to: its row (``SecretBox`` associated data, SEC-25)."""
    return f"outbox:{message_id}"


def outbox_box(secret: bytes) -> SecretBox:
    """One per secret: services built per request would otherwise derive its key each time."""
    return SecretBox(secret, "outbox")


def _single_line(name: str, value: str) -> None:
    if not value.strip():
        raise ValueError(f"outbox: {name} is empty")
    if "\r" in value or "\n" in value:
        raise ValueError(f"outbox: {name} must be a single line")


# Set in a database session's ``info`` when a message is queued on it (``take_queued``).
QUEUED = "portti.outbox.queued"


def take_queued(db: Session) -> bool:
    """Whether messages were queued on ``db`` since the last call; the mark is cleared."""
    return bool(db.info.pop(QUEUED, False))


class Outbox:
    """Queues messages in the caller's transaction: ``db.add`` and ``flush``, never a commit."""

    def __init__(self, db: Session, clock: Clock, box: SecretBox) -> None:
        self.db = db
        self.clock = clock
        self.box = box

    def email(
        self,
        *,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        kind: str,
        company_id: int | None = None,
        person_id: int | None = None,
    ) -> OutboxMessage:
        _single_line("recipient", to)
        _single_line("subject", subject)
        if len(subject) > MAX_SUBJECT_LENGTH:
            raise ValueError("outbox: subject is too long")
        return self._enqueue(Channel.EMAIL, to, subject, text, html, kind, company_id, person_id)

    def sms(
        self,
        *,
        to: str,
        text: str,
        kind: str,
        company_id: int | None = None,
        person_id: int | None = None,
    ) -> OutboxMessage:
        _single_line("recipient", to)
        return self._enqueue(Channel.SMS, to, None, text, None, kind, company_id, person_id)

    def _enqueue(
        self,
        channel: Channel,
        to: str,
        subject: str | None,
        text: str,
        html: str | None,
        kind: str,
        company_id: int | None,
        person_id: int | None,
    ) -> OutboxMessage:
        if not text:
            raise ValueError("outbox: the message has no text")
        now = self.clock.now()
        message = OutboxMessage(
            channel=channel.value,
            recipient=to.strip(),
            subject=subject,
            sealed_body=None,  # sealed below, bound to the row's id
            kind=kind,
            company_id=company_id,
            person_id=person_id,
            status=OutboxStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        self.db.add(message)
        self.db.flush()
        self.db.info[QUEUED] = True
        # The row's id is the seal's associated data: a body copied to another row does not
        # open (SEC-25).
        message.sealed_body = self.box.seal(
            json.dumps({"text": text, "html": html}), context=body_context(message.id)
        )
        self.db.flush()
        return message


def failed_messages(
    db: Session, *, company_id: int | None, limit: int = 100
) -> list[OutboxMessage]:
    """Undeliverable messages, newest first: one company's, or every company's when ``None``."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.FAILED.value)
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    if company_id is not None:
        query = query.where(OutboxMessage.company_id == company_id)
    return list(db.scalars(query))


class OutboxWakeup:
    """Wakes the worker after a commit. ``notify`` may be called from any thread (handlers run
    in the threadpool); the worker's event loop waits in ``wait``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._early = False

    def notify(self) -> None:
        with self._lock:
            loop, event = self._loop, self._event
            if loop is None or event is None:
                self._early = True  # before the worker first waits: it looks straight away
                return
        with contextlib.suppress(RuntimeError):  # the loop has closed: no worker to wake
            loop.call_soon_threadsafe(event.set)

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._loop is not loop or self._event is None:
                self._loop, self._event = loop, asyncio.Event()
            if self._early:
                self._event.set()
                self._early = False
            event = self._event
        await event.wait()
        event.clear()
