"""The dev mailbox: where the dev mailer and the dev SMS sender put what they "send".

Demo and test mode read it on ``/dev/mailbox``. Bodies carry codes, so they are sealed here too
(purpose "devmail"): a copy of a demo database shows recipients and subjects, not codes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Index, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from portti.config import Settings
from portti.db.base import Model, UtcDateTime
from portti.db.session import make_engine, make_session_factory
from portti.infra.clock import Clock, SystemClock
from portti.infra.crypto import SecretBox
from portti.infra.delivery import current_delivery


class DevMessage(Model):
    __tablename__ = "dev_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(998))
    sealed_body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


Index("ix_dev_messages_recipient", DevMessage.recipient, DevMessage.id)


def message_context(message_id: int) -> str:
    """What a kept message's body is sealed to: its row (associated data, SEC-25)."""
    return f"devmail:{message_id}"


def devmail_box(secret: bytes) -> SecretBox:
    return SecretBox(secret, "devmail")


@dataclass(frozen=True, slots=True)
class OpenedDevMessage:
    id: int
    channel: str
    recipient: str
    subject: str | None
    kind: str | None
    created_at: datetime
    text: str
    html: str | None


class DevMailbox:
    """Writes and reads the dev mailbox; each call is its own short transaction."""

    def __init__(
        self, session_factory: sessionmaker[Session], box: SecretBox, clock: Clock
    ) -> None:
        self.session_factory = session_factory
        self.box = box
        self.clock = clock

    def record(
        self, *, channel: str, recipient: str, subject: str | None, text: str, html: str | None
    ) -> int:
        delivery = current_delivery()
        row = DevMessage(
            channel=channel,
            recipient=recipient,
            subject=subject,
            sealed_body="",  # sealed below, bound to the row's id (SEC-25)
            kind=delivery.kind if delivery else None,
            created_at=self.clock.now(),
        )
        with self.session_factory() as db, db.begin():
            db.add(row)
            db.flush()
            row.sealed_body = self.box.seal(
                json.dumps({"text": text, "html": html}), context=message_context(row.id)
            )
            db.flush()
            return row.id

    def latest(
        self, *, channel: str | None = None, recipient: str | None = None, limit: int = 100
    ) -> list[OpenedDevMessage]:
        """Newest first."""
        query = select(DevMessage).order_by(DevMessage.id.desc()).limit(limit)
        if channel is not None:
            query = query.where(DevMessage.channel == channel)
        if recipient is not None:
            query = query.where(DevMessage.recipient == recipient)
        with self.session_factory() as db:
            return [self.open(m) for m in db.scalars(query)]

    def get(self, message_id: int) -> OpenedDevMessage | None:
        with self.session_factory() as db:
            row = db.get(DevMessage, message_id)
            return self.open(row) if row is not None else None

    def open(self, row: DevMessage) -> OpenedDevMessage:
        body = json.loads(self.box.open(row.sealed_body, context=message_context(row.id)))
        return OpenedDevMessage(
            id=row.id,
            channel=row.channel,
            recipient=row.recipient,
            subject=row.subject,
            kind=row.kind,
            created_at=row.created_at,
            text=body["text"],
            html=body.get("html"),
        )


def make_dev_mailbox(
    settings: Settings,
    session_factory: sessionmaker[Session] | None = None,
    clock: Clock | None = None,
) -> DevMailbox:
    """The dev mailbox of ``settings.database_url`` (through the given session factory if any)."""
    if session_factory is None:
        session_factory = make_session_factory(make_engine(settings.database_url))
    return DevMailbox(session_factory, devmail_box(settings.secret), clock or SystemClock())
