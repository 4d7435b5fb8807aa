"""What the waiting browser is told (WEB-1): its transaction's state, by server push and by the
polling fallback, and the one small read the event streams re-check it with.

The browser is bound by a random cookie set for this transaction only (its SHA-256 is stored):
only the browser that showed the code learns its state or turns an approval into a session.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection

from portti.qrlogin.queries import BROWSER_STATE
from portti.weblogin.models import OPEN_STATUSES, LoginPurpose, LoginTransactionStatus

Status = LoginTransactionStatus

# How far each status is along the lifecycle: a browser never goes back to an earlier one.
RANK = {
    Status.PENDING: 0,
    Status.SCANNED: 1,
    Status.APPROVED: 2,
    Status.REJECTED: 3,
    Status.EXPIRED: 3,
    Status.COMPLETED: 3,
}
_RANK_OF_VALUE = {s.value: r for s, r in RANK.items()}
MAX_COOKIE = 100


def channel_of(public_id: str) -> str:
    """The event-bus channel a transaction's browser listens on."""
    return "login:" + public_id


def binding_hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def binding_matches(stored_hash: str, cookie: str | None) -> bool:
    """Whether ``cookie`` is the binding cookie of the browser whose hash is ``stored_hash``."""
    if not cookie or len(cookie) > MAX_COOKIE:
        return False
    return hmac.compare_digest(binding_hash(cookie), stored_hash)


@dataclass(frozen=True)
class BrowserState:
    """What the waiting browser is told: by server push, and by the polling fallback."""

    status: str
    number: int | None
    reason: str | None
    expires_in: int

    def to_json(self) -> str:
        return json.dumps(
            {
                "status": self.status,
                "number": self.number,
                "reason": self.reason,
                "expires_in": self.expires_in,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> BrowserState | None:
        try:
            data = json.loads(text)
            status = str(data["status"])
            number = data.get("number")
            reason = data.get("reason")
            return cls(
                status=status,
                number=int(number) if number is not None else None,
                reason=str(reason) if reason is not None else None,
                expires_in=int(data.get("expires_in", 0)),
            )
        except (ValueError, KeyError, TypeError):
            return None

    @property
    def rank(self) -> int:
        return _RANK_OF_VALUE.get(self.status, 0)

    @property
    def final(self) -> bool:
        return self.status in {Status.APPROVED, Status.REJECTED, Status.EXPIRED, Status.COMPLETED}


class _StateColumns(Protocol):
    """What a browser's state is made of: a ``LoginTransaction`` or a row of these columns."""

    @property
    def status(self) -> str: ...
    @property
    def purpose(self) -> str: ...
    @property
    def number(self) -> int: ...
    @property
    def end_reason(self) -> str | None: ...
    @property
    def expires_at(self) -> datetime: ...


def effective_status(status: str, expires_at: datetime, now: datetime) -> Status:
    """The status, with time taken into account (expiry is written lazily)."""
    current = Status(status)
    if current in (*OPEN_STATUSES, Status.APPROVED) and now >= expires_at:
        return Status.EXPIRED
    return current


def browser_state_of(tx: _StateColumns, now: datetime) -> BrowserState:
    status = effective_status(tx.status, tx.expires_at, now)
    # The number appears once an app has read the code (for a step-up at once: only the
    # person's own app can answer it).
    shows_number = status == Status.SCANNED or (
        tx.purpose == LoginPurpose.STEP_UP and status == Status.PENDING
    )
    left = max(0, int((tx.expires_at - now).total_seconds()))
    return BrowserState(
        status=status.value,
        number=tx.number if shows_number else None,
        reason=tx.end_reason if status in {Status.REJECTED, Status.EXPIRED} else None,
        expires_in=left if status in OPEN_STATUSES else 0,
    )


def read_browser_state(
    conn: Connection, public_id: str, cookie: str | None, now: datetime
) -> BrowserState | None:
    """One small read for the event stream's re-checks (no ORM, no keys): the state, or None
    for an unknown transaction or another browser."""
    if not isinstance(public_id, str) or not 0 < len(public_id) <= 32:
        return None
    row = conn.execute(BROWSER_STATE, {"public_id": public_id}).one_or_none()
    if row is None or not binding_matches(row.browser_binding_hash, cookie):
        return None
    return browser_state_of(row, now)
