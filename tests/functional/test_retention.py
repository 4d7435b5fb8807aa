"""Retention: the purge removes what expired or ended, keeps what lives, and takes audit events
only past their retention, after writing them out (OPS-14)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from portti.audit.models import AuditEvent
from portti.db.session import make_engine
from portti.infra.outbox import OutboxMessage
from portti.invitations.models import ConfirmationCode, Invitation
from portti.people.models import Person
from portti.retention import AUDIT_FLOOR_DAYS, RULES, purge
from portti.weblogin.models import LoginTransaction, WebSession
from support.activation import invite
from support.db import fresh
from support.qr import open_qr_login


def _count(db, model) -> int:  # type: ignore[no-untyped-def]
    return int(db.scalar(select(func.count()).select_from(model)))


def _purge(database_url, now, export_dir=None, retention_days=365):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    try:
        return purge(
            engine,
            now,
            grace=timedelta(hours=24),
            audit_retention=timedelta(days=retention_days),
            audit_export_dir=export_dir,
        )
    finally:
        engine.dispose()


def test_the_purge_removes_what_expired_and_keeps_what_lives(  # OPS-14
    database_url, db, kh, world, client, clock
):
    invite(kh, world.client_a.id, world.employee_a_membership.id)
    open_qr_login(client)
    db = fresh(db)
    assert _count(db, LoginTransaction) == 1
    people = _count(db, Person)

    # Within a day of their expiry nothing goes: the grace keeps what support may still ask of.
    report = _purge(database_url, clock.now() + timedelta(minutes=10))
    assert report.removed["login_transactions"] == 0
    assert _count(fresh(db), LoginTransaction) == 1

    # Mark the outbox sent long ago (the worker's last step), then look a month ahead.
    db.execute(
        text("UPDATE outbox_messages SET status = 'sent', sent_at = :t"),
        {
            "t": (clock.now() - timedelta(days=2)).replace(tzinfo=None)
            if database_url.startswith("sqlite")
            else clock.now() - timedelta(days=2)
        },
    )
    db.commit()
    later = clock.now() + timedelta(days=31)
    report = _purge(database_url, later)
    db = fresh(db)
    assert report.removed["login_transactions"] == 1
    assert _count(db, LoginTransaction) == 0
    assert _count(db, ConfirmationCode) == 0
    assert _count(db, OutboxMessage) == 0
    assert _count(db, WebSession) == 0  # the admin's session ended with its absolute limit
    # What is not transient stays: people, their memberships and the invitation's record.
    assert _count(db, Person) == people
    assert _count(db, Invitation) == 1
    # A second purge finds nothing more.
    assert _purge(database_url, later).total == 0


def test_every_rule_names_a_real_table_and_columns(database_url):  # OPS-14
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            for rule in RULES:
                conn.execute(
                    text(f"SELECT count(*) FROM {rule.table} WHERE {rule.where}"),
                    {"cutoff": datetime(2000, 1, 1)},
                )
    finally:
        engine.dispose()


def _audit_at(db, when: datetime, action: str) -> None:  # type: ignore[no-untyped-def]
    db.add(AuditEvent(occurred_at=when, action=action, details={"n": action}))


def test_audit_events_past_retention_are_written_out_then_removed(  # OPS-14
    database_url, db, tmp_path
):
    now = datetime.now(UTC)
    _audit_at(db, now - timedelta(days=500), "login_succeeded")
    _audit_at(db, now - timedelta(days=400), "ääkköset_kept")
    _audit_at(db, now - timedelta(days=10), "recent")
    db.commit()

    # Without an export directory the log is kept whole, and the report says why.
    report = _purge(database_url, now)
    assert report.removed["audit_events"] == 0
    assert report.audit_kept_because
    assert _count(fresh(db), AuditEvent) == 3

    report = _purge(database_url, now, export_dir=tmp_path / "audit")
    assert report.removed["audit_events"] == 2
    assert report.audit_exported_to is not None
    exported = [json.loads(line) for line in report.audit_exported_to.read_text().splitlines()]
    assert [e["action"] for e in exported] == ["login_succeeded", "ääkköset_kept"]
    assert exported[1]["details"] == {"n": "ääkköset_kept"}
    assert os.stat(report.audit_exported_to).st_mode & 0o777 == 0o600
    db = fresh(db)
    assert [e.action for e in db.scalars(select(AuditEvent))] == ["recent"]


def test_the_database_still_refuses_to_rewrite_or_drop_recent_audit_events(  # OPS-14 ADM-10
    database_url, db
):
    now = datetime.now(UTC)
    _audit_at(db, now - timedelta(days=AUDIT_FLOOR_DAYS - 1), "young")
    _audit_at(db, now - timedelta(days=AUDIT_FLOOR_DAYS + 5), "old")
    db.commit()
    for statement in (
        "DELETE FROM audit_events WHERE action = 'young'",
        "UPDATE audit_events SET action = 'x' WHERE action = 'old'",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            db.execute(text(statement))
            db.commit()
        db.rollback()
    assert _count(db, AuditEvent) == 2


def test_a_retention_below_the_floor_is_refused(database_url, tmp_path):  # OPS-14
    with pytest.raises(ValueError, match="at least 30 days"):
        _purge(database_url, datetime.now(UTC), export_dir=tmp_path, retention_days=7)


def test_portti_purge_runs_from_the_command_line(database_url, db, tmp_path):  # OPS-14
    _audit_at(db, datetime.now(UTC) - timedelta(days=800), "ancient")
    db.commit()
    env = {
        **os.environ,
        "PORTTI_MODE": "demo",
        "PORTTI_DATABASE_URL": database_url,
        "PORTTI_AUDIT_EXPORT_DIR": str(tmp_path / "export"),
    }
    out = subprocess.run(
        [sys.executable, "-m", "portti.cli", "purge"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "audit_events" in out
    assert "written to" in out
    assert [p.name.startswith("audit-") for p in (tmp_path / "export").iterdir()] == [True]
    assert _count(fresh(db), AuditEvent) == 0
