"""What a transport (mailer, SMS gateway) tells the outbox when a delivery fails, and the
context of the delivery in progress.

Transports raise ``TransientDeliveryError`` for what may work later (gateway down, timeout, 4xx
SMTP reply, HTTP 5xx) and ``PermanentDeliveryError`` for what never will (address refused, HTTP
4xx). Their messages are written to ``outbox_messages.last_error`` and read by operators, so they
are built from status codes and reply lines only, never from the message body.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import structlog

MAX_ERROR_LENGTH = 300


class DeliveryError(Exception):
    """A delivery failed. ``str(error)`` is safe to store and show: it never holds the body."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason[:MAX_ERROR_LENGTH])

    @property
    def reason(self) -> str:
        return str(self.args[0])


class TransientDeliveryError(DeliveryError):
    """Worth trying again later."""


class PermanentDeliveryError(DeliveryError):
    """Will never succeed: the outbox marks the message failed at once."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outbox message being delivered: what log lines and the dev mailbox may know of it."""

    message_id: int
    channel: str
    kind: str
    attempt: int


_current: ContextVar[Delivery | None] = ContextVar("portti_delivery", default=None)


def current_delivery() -> Delivery | None:
    return _current.get()


@contextmanager
def delivering(delivery: Delivery) -> Iterator[None]:
    """Marks the delivery in progress for the transports and binds it to every log line."""
    token = _current.set(delivery)
    try:
        with structlog.contextvars.bound_contextvars(
            message_id=delivery.message_id,
            channel=delivery.channel,
            kind=delivery.kind,
            attempt=delivery.attempt,
        ):
            yield
    finally:
        _current.reset(token)
