"""The statements the QR login runs on every request, built once (building and keying a
statement costs more than SQLite takes to run it)."""

from __future__ import annotations

import functools

from sqlalchemy import Update, bindparam, or_, select, update

from portti.db.base import table_of
from portti.weblogin.models import LoginTransaction

TRANSACTION_BY_PUBLIC_ID = select(LoginTransaction).where(
    LoginTransaction.public_id == bindparam("public_id")
)

# One small read for an event stream's re-check: the columns a browser's state is made of, and
# the binding hash that says whether the stream is the browser's.
BROWSER_STATE = select(
    LoginTransaction.status,
    LoginTransaction.purpose,
    LoginTransaction.number,
    LoginTransaction.end_reason,
    LoginTransaction.expires_at,
    LoginTransaction.browser_binding_hash,
).where(LoginTransaction.public_id == bindparam("public_id"))

# The states of every transaction a process watches, in one statement (``qrlogin/watch.py``).
_t = LoginTransaction
WATCHED_STATES = select(
    _t.public_id, _t.status, _t.purpose, _t.number, _t.end_reason, _t.expires_at
).where(_t.public_id.in_(bindparam("ids", expanding=True)))


@functools.lru_cache(maxsize=32)
def move_statement(from_statuses: tuple[str, ...], names: tuple[str, ...]) -> Update:
    """``UPDATE … SET status = :v_status, <name> = :v_<name> … WHERE id = :b_id AND status IN
    (<from_statuses>)``."""
    table = table_of(LoginTransaction)
    return (
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            or_(*(table.c.status == status for status in from_statuses)),
        )
        .values({name: bindparam("v_" + name) for name in ("status", *names)})
    )
