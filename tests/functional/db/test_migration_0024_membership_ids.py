"""Migration 0024 (PRV-3): SQLite's memberships table is rebuilt so that an id (a SCIM user's
id) is never given again after a removal, and the rows naming memberships survive the rebuild."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from portti.db.migrate import upgrade
from portti.db.session import make_engine
from support.db import BACKEND_IS_SQLITE

from .test_migration_0012_device_companies import insert


@pytest.mark.skipif(not BACKEND_IS_SQLITE, reason="a fresh file database is a SQLite thing")
def test_membership_ids_are_not_reused_and_roles_survive(tmp_path: Path):  # PRV-3 OPS-3
    url = f"sqlite:///{tmp_path / 'old' / 'portti.db'}"
    upgrade(url, "0023")
    engine = make_engine(url)
    try:
        company = insert(engine, "companies", name="Mäkinen Design Oy")
        people = [insert(engine, "persons", portti_id=f"PID{i}") for i in range(2)]
        first, last = (
            insert(engine, "memberships", company_id=company, person_id=p) for p in people
        )
        with engine.begin() as conn:
            role = conn.scalar(text("SELECT code FROM roles LIMIT 1"))
            conn.execute(
                text("INSERT INTO membership_roles VALUES (:m, :r)"), {"m": first, "r": role}
            )
        engine.dispose()
        upgrade(url)
        with engine.begin() as conn:
            roles = conn.execute(text("SELECT membership_id, role_code FROM membership_roles"))
            assert roles.all() == [(first, role)]
            conn.execute(text("DELETE FROM memberships WHERE id = :id"), {"id": last})
        again = insert(engine, "memberships", company_id=company, person_id=people[1])
        assert again > last
    finally:
        engine.dispose()
