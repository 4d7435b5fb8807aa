"""Migration 0012 (SEC-14): what existing devices carry. A device activated by an invitation
carries that invitation's company; one activated with the account carries the companies of the
person's invitations activated by then; one activated with bank ID carries every company (no
rows); a company that only linked the person gets nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text

from portti.db.migrate import upgrade
from portti.db.session import make_engine
from support.db import BACKEND_IS_SQLITE

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def insert(engine: Engine, table: str, **values: Any) -> int:
    """A row with ``values``; every other NOT NULL column without a default gets a filler of
    its type, so the test names only what the migration reads."""
    columns = inspect(engine).get_columns(table)
    row = dict(values)
    for c in columns:
        if c["name"] in row or c["nullable"] or c.get("default") is not None:
            continue
        if c["name"] == "id" or c.get("autoincrement") is True:
            continue
        kind = str(c["type"]).upper()
        if "INT" in kind:
            row[c["name"]] = 0
        elif "BOOL" in kind:
            row[c["name"]] = False
        elif "DATE" in kind or "TIME" in kind:
            row[c["name"]] = T0
        elif "JSON" in kind:
            row[c["name"]] = "[]"
        else:
            row[c["name"]] = f"{table}-{c['name']}-{len(row)}-{id(row) % 100000}"
    names = ", ".join(row)
    params = ", ".join(f":{k}" for k in row)
    with engine.begin() as conn:
        result = conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({params})"), row)
        return int(result.lastrowid)  # type: ignore[attr-defined]


@pytest.mark.skipif(not BACKEND_IS_SQLITE, reason="a fresh file database is a SQLite thing")
def test_sec14_existing_devices_carry_the_companies_of_their_invitations(
    tmp_path: Path,
):  # SEC-14 OPS-3
    url = f"sqlite:///{tmp_path / 'old' / 'portti.db'}"
    upgrade(url, "0011")
    engine = make_engine(url)
    try:
        inviting = insert(engine, "companies", name="Mäkinen Design Oy")
        linking = insert(engine, "companies", name="Rakennus Virtanen Oy")
        admin = insert(engine, "persons", portti_id="PT-AAAA-AAAA", given_name="K", family_name="M")
        person = insert(
            engine, "persons", portti_id="PT-BBBB-BBBB", given_name="V", family_name="V"
        )
        invitation = insert(
            engine,
            "invitations",
            company_id=inviting,
            person_id=person,
            inviter_person_id=admin,
            status="activated",
            activated_at=T1,
            sent_at=T0,
        )
        by_invitation = insert(
            engine, "activations", kind="invitation", person_id=person, invitation_id=invitation
        )
        by_account = insert(engine, "activations", kind="account", person_id=person)
        by_bank = insert(engine, "activations", kind="bank_id", person_id=person)
        first = insert(
            engine, "devices", person_id=person, activation_id=by_invitation, created_at=T1
        )
        later = insert(engine, "devices", person_id=person, activation_id=by_account, created_at=T2)
        earlier = insert(
            engine, "devices", person_id=person, activation_id=by_account, created_at=T0
        )
        bank = insert(engine, "devices", person_id=person, activation_id=by_bank, created_at=T2)
        assert linking
        for sid, method in (("a" * 64, "app_qr"), ("b" * 64, "oidc:fi_bank")):
            insert(
                engine,
                "web_sessions",
                id=sid,
                person_id=person,
                login_method=method,
                created_at=T1,
                expires_at=T2,
            )
    finally:
        engine.dispose()

    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            carried = {
                (d, c)
                for d, c in conn.execute(text("SELECT device_id, company_id FROM device_companies"))
            }
            kinds = dict(conn.execute(text("SELECT id, activated_by FROM devices")).all())
            ended = dict(
                conn.execute(
                    text("SELECT login_method, expires_at = created_at FROM web_sessions")
                ).all()
            )
    finally:
        engine.dispose()
    assert carried == {(first, inviting), (later, inviting)}
    assert kinds == {
        first: "invitation",
        later: "account",
        earlier: "account",
        bank: "bank_id",
    }
    # An app login from before carries no scope: it ends; a bank-ID login stays.
    assert ended == {"app_qr": 1, "oidc:fi_bank": 0}
