"""Retention: what Portti keeps, and for how long (OPS-14).

Every row a login, a code or a delivery leaves behind is short-lived by nature: a QR login lives
two minutes, a sign-up code days, an outbox message until it is sent. Without a purge they stay
for ever (at a million logins a day the tables grow by gigabytes a day), and a login transaction
long past its life still reads ``pending``. :func:`purge` removes, in batches of short
transactions:

* rows past their own expiry by more than ``purge_grace_hours`` (login transactions, sign-up and
  SMS codes, device challenges, authorization requests and codes, refresh tokens, used client
  assertions, abandoned activations, app and web sessions);
* rows whose life ended that long ago (ended or revoked sessions, ended client logins whose
  logout token went out, sent outbox messages, the dev mailbox);
* audit events older than ``audit_retention_days``, written first as JSON lines to
  ``audit_export_dir`` (no export directory: the audit log is kept whole). The append-only rule
  of the database still refuses every update and every delete of an event younger than
  :data:`AUDIT_FLOOR_DAYS`.

What stays: people, companies, memberships, devices, accounts, invitations, clients, keys and
failed outbox messages (an operator reads those), and anything still alive. The module knows the
schema by table and column names and imports no domain: it runs from the CLI (``portti purge``)
and on a schedule in ``portti worker``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from portti.config import Settings
from portti.infra.clock import Clock

log = logging.getLogger("portti.retention")

# The database refuses to delete an audit event younger than this, whatever the setting says;
# the migration that allows deletes at all writes the same number into its trigger.
AUDIT_FLOOR_DAYS = 30
BATCH = 2000


@dataclass(frozen=True)
class Rule:
    """Rows of ``table`` for which ``where`` holds are gone: ``:cutoff`` is now − grace."""

    table: str
    where: str
    why: str


RULES: tuple[Rule, ...] = (
    Rule("login_transactions", "expires_at < :cutoff", "QR logins past their life"),
    Rule("confirmation_codes", "expires_at < :cutoff", "sign-up, SMS and admin codes"),
    Rule("device_challenges", "expires_at < :cutoff", "app approval challenges"),
    Rule("oidc_flows", "created_at < :cutoff", "pending bank-ID logins (minutes long)"),
    Rule("oidc_authorization_requests", "created_at < :cutoff", "parked authorize requests"),
    Rule("oidc_authorization_codes", "expires_at < :cutoff", "authorization codes"),
    Rule("oidc_refresh_tokens", "expires_at < :cutoff", "refresh tokens past their life"),
    Rule("oidc_used_client_assertions", "expires_at < :cutoff", "client assertion ids"),
    Rule(
        "oidc_logins",
        "ended_at < :cutoff AND (logout_status IS NULL OR logout_status <> 'pending')",
        "ended client logins whose logout token is settled",
    ),
    Rule(
        "app_sessions",
        "expires_at < :cutoff OR ended_at < :cutoff",
        "ended or expired app sessions",
    ),
    Rule(
        "web_sessions",
        "expires_at < :cutoff OR revoked_at < :cutoff",
        "ended or expired web sessions",
    ),
    Rule(
        "activations",
        "completed_at IS NULL AND expires_at < :cutoff",
        "activations never completed",
    ),
    Rule("outbox_messages", "status = 'sent' AND sent_at < :cutoff", "delivered messages"),
    Rule("dev_messages", "created_at < :cutoff", "the dev mailbox"),
)


@dataclass
class PurgeReport:
    removed: dict[str, int] = field(default_factory=dict)
    audit_exported_to: Path | None = None
    audit_kept_because: str | None = None

    @property
    def total(self) -> int:
        return sum(self.removed.values())


def _bind(engine: Engine, value: datetime) -> Any:
    # Timestamps are naive UTC text on SQLite (db.base.UtcDateTime), aware on PostgreSQL.
    return value.replace(tzinfo=None) if engine.dialect.name == "sqlite" else value


def _key_column(engine: Engine, table: str) -> str:
    """The table's one-column primary key, read from the database."""
    (column,) = inspect(engine).get_pk_constraint(table)["constrained_columns"]
    return str(column)


def purge(
    engine: Engine,
    now: datetime,
    *,
    grace: timedelta,
    audit_retention: timedelta,
    audit_export_dir: Path | None,
    progress: Callable[[str, int], None] | None = None,
) -> PurgeReport:
    """Remove what the rules above name; return how many rows of each table went."""
    if audit_retention < timedelta(days=AUDIT_FLOOR_DAYS):
        raise ValueError(f"the audit log is kept at least {AUDIT_FLOOR_DAYS} days")
    db = sessionmaker(engine)
    report = PurgeReport()
    cutoff = _bind(engine, now - grace)
    for rule in RULES:
        key = _key_column(engine, rule.table)
        removed = 0
        while True:
            with db.begin() as s:
                n = s.execute(
                    text(
                        f"DELETE FROM {rule.table} WHERE {key} IN "  # noqa: S608 (names are ours)
                        f"(SELECT {key} FROM {rule.table} WHERE {rule.where} LIMIT {BATCH})"
                    ),
                    {"cutoff": cutoff},
                ).rowcount  # type: ignore[attr-defined]
            removed += n
            if n < BATCH:
                break
        report.removed[rule.table] = removed
        if progress:
            progress(rule.table, removed)
    if audit_export_dir is None:
        report.audit_kept_because = "no export directory (PORTTI_AUDIT_EXPORT_DIR) is set"
        report.removed["audit_events"] = 0
    else:
        n, path = _purge_audit(engine, db, _bind(engine, now - audit_retention), audit_export_dir)
        report.removed["audit_events"] = n
        report.audit_exported_to = path
    if progress:
        progress("audit_events", report.removed["audit_events"])
    log.info("purge done", extra={"removed": report.total, "tables": len(report.removed)})
    return report


def _purge_audit(
    engine: Engine, db: sessionmaker[Session], cutoff: Any, export_dir: Path
) -> tuple[int, Path | None]:
    """Write the events older than ``cutoff`` to a JSON-lines file, make it durable, then delete
    exactly those rows. A crash between the two leaves the rows and a file: the next run writes
    them again to a new file, so nothing is lost (an export may hold a row twice)."""
    with db() as s:
        first = s.execute(
            text("SELECT min(id), max(id) FROM audit_events WHERE occurred_at < :c"),
            {"c": cutoff},
        ).one()
    if first[0] is None:
        return 0, None
    lo, hi = int(first[0]), int(first[1])
    export_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    path = export_dir / f"audit-{stamp}-{lo}-{hi}.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    written = 0
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        last = lo - 1
        while True:
            with db() as s:
                rows = s.execute(
                    text(
                        "SELECT id, occurred_at, action, company_id, actor_person_id,"
                        " subject_person_id, ip, user_agent, details FROM audit_events"
                        " WHERE occurred_at < :c AND id > :after ORDER BY id LIMIT :n"
                    ),
                    {"c": cutoff, "after": last, "n": BATCH},
                ).all()
            for r in rows:
                details = r.details if not isinstance(r.details, str) else json.loads(r.details)
                occurred = r.occurred_at
                out.write(
                    json.dumps(
                        {
                            "id": r.id,
                            "occurred_at": occurred.isoformat()
                            if isinstance(occurred, datetime)
                            else str(occurred),
                            "action": r.action,
                            "company_id": r.company_id,
                            "actor_person_id": r.actor_person_id,
                            "subject_person_id": r.subject_person_id,
                            "ip": r.ip,
                            "user_agent": r.user_agent,
                            "details": details,
                        },
                        ensure_ascii=False,
                        default=str,
                    )
                    + "\n"
                )
                last = r.id
            written += len(rows)
            if len(rows) < BATCH:
                break
        out.flush()
        os.fsync(out.fileno())
    removed = 0
    while True:
        with db.begin() as s:
            n = s.execute(
                text(
                    "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events"
                    " WHERE occurred_at < :c AND id <= :hi LIMIT :n)"
                ),
                {"c": cutoff, "hi": last, "n": BATCH},
            ).rowcount  # type: ignore[attr-defined]
        removed += n
        if n < BATCH:
            break
    log.info("audit events exported and removed", extra={"rows": removed, "file": str(path)})
    assert removed <= written
    return removed, path


def purge_with(settings: Settings, engine: Engine, now: datetime) -> PurgeReport:
    """:func:`purge` with the retention settings."""
    return purge(
        engine,
        now,
        grace=timedelta(hours=settings.purge_grace_hours),
        audit_retention=timedelta(days=settings.audit_retention_days),
        audit_export_dir=settings.audit_export_dir,
    )


async def run_purges(settings: Settings, engine: Engine, clock: Clock, stop: asyncio.Event) -> None:
    """The worker's schedule: a purge every ``purge_interval_minutes`` (the first a minute after
    the start), in a thread, until ``stop``. A failed purge is logged and tried at the next turn."""
    every = settings.purge_interval_minutes * 60
    if every <= 0:
        return
    wait = min(60.0, every)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=wait)
            return
        except TimeoutError:
            pass
        try:
            report = await asyncio.to_thread(purge_with, settings, engine, clock.now())
            log.info("scheduled purge", extra={"removed": report.total})
        except Exception:
            log.exception("the scheduled purge failed; it runs again at the next turn")
        wait = every
