"""Backup and restore on the configured backend (SQLite file or PostgreSQL database)."""

from __future__ import annotations

from sqlalchemy import func, select, text

from portti.audit.models import AuditEvent
from portti.companies.models import Membership
from portti.db.backup import backup, restore
from portti.people.models import Person
from support import factories as f


def test_backup_then_restore_brings_back_the_data(database_url, db, tmp_path):  # OPS-3
    w = f.World(db)
    db.add(AuditEvent(occurred_at=f.NOW, action="login_succeeded", details={}))
    db.commit()
    people = db.scalar(select(func.count()).select_from(Person))
    dump = backup(database_url, tmp_path / "portti.backup")
    assert dump.stat().st_size > 0

    # Lose data after the backup.
    db.delete(db.get(Membership, w.employee_a_membership.id))
    extra = f.person(db, "Late", "Arrival")
    db.commit()
    assert db.get(Person, extra.id) is not None
    db.close()
    db.get_bind().dispose()  # type: ignore[union-attr]

    restore(database_url, dump)

    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Person)) == people
    assert db.get(Membership, w.employee_a_membership.id) is not None
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == 1
    # The restored audit log is still append-only.
    try:
        db.execute(text("UPDATE audit_events SET action = 'x'"))
        db.commit()
        raise AssertionError("audit_events accepted an UPDATE after restore")
    except Exception as exc:
        db.rollback()
        assert "append-only" in str(exc)
