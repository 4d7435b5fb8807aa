"""Sealed values are bound to their row (SEC-25): someone who can write to the database but does
not have the secret key cannot move a TOTP seed they know onto another account, or a queued
message body onto another message, and have it opened there."""

from __future__ import annotations

import json

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select, text, update

from portti.accounts.deps import accounts_from
from portti.accounts.models import Account
from portti.audit.services import AuditLog
from portti.db.migrate import upgrade
from portti.db.session import make_engine
from portti.errors import DomainError
from portti.infra.crypto import SecretBox
from portti.infra.outbox import Outbox, OutboxMessage, body_context, outbox_box
from support import factories as f
from support.activation import account_in_db, totp_now
from support.db import BACKEND_IS_SQLITE, fresh
from support.messages import queued


def test_a_totp_seed_copied_to_another_account_opens_nowhere(  # SEC-25
    app, db, clock, runtime
):
    w = f.World(db)
    mine = account_in_db(db, app, w.employee_a)
    victims = account_in_db(db, app, w.employee_other)
    mine_row = db.scalars(select(Account).where(Account.email == mine.email)).one()
    victim_row = db.scalars(select(Account).where(Account.email == victims.email)).one()
    # The attacker's own seal, written over the victim's.
    db.execute(
        update(Account)
        .where(Account.id == victim_row.id)
        .values(totp_secret_sealed=mine_row.totp_secret_sealed)
    )
    db.commit()
    accounts = accounts_from(runtime, fresh(db), AuditLog(db, clock))
    victim = db.get(Account, victim_row.id)
    assert victim is not None
    with pytest.raises(DomainError):
        accounts.verify_totp(victim, totp_now(mine.totp_secret, clock))
    # The seed where it belongs still works.
    own = db.get(Account, mine_row.id)
    assert own is not None
    accounts.verify_totp(own, totp_now(mine.totp_secret, clock))


def test_a_queued_body_moved_to_another_message_does_not_open(db, clock, settings):  # SEC-25
    outbox = Outbox(db, clock, outbox_box(settings.secret))
    first = outbox.sms(to="+358401234567", text="Your code is 111111", kind="sms_code")
    second = outbox.sms(to="+358409999999", text="Your code is 222222", kind="sms_code")
    db.commit()
    box = outbox_box(settings.secret)
    assert json.loads(box.open(first.sealed_body or "", context=body_context(first.id)))[
        "text"
    ].endswith("111111")
    with pytest.raises(InvalidTag):
        box.open(first.sealed_body or "", context=body_context(second.id))
    # The test helper reads them as the worker does, each from its own row.
    assert [m["text"][-6:] for m in queued(db, settings.secret, channel="sms")] == [
        "111111",
        "222222",
    ]


@pytest.mark.skipif(not BACKEND_IS_SQLITE, reason="a fresh file database is a SQLite thing")
def test_the_migration_binds_existing_seals_to_their_rows(tmp_path, monkeypatch):  # SEC-25
    url = f"sqlite:///{tmp_path / 'old.db'}"
    secret = "migration-test-" + "k1Z9" * 12
    monkeypatch.setenv("PORTTI_SECRET_KEY", secret)
    monkeypatch.setenv("PORTTI_MODE", "test")
    upgrade(url, "0021")
    engine = make_engine(url)
    unbound = SecretBox(secret.encode(), "outbox").seal(json.dumps({"text": "hello"}))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO outbox_messages (id, channel, recipient, sealed_body, kind, status,"
                " attempts, next_attempt_at, created_at) VALUES (7, 'sms', '+358401', :b, 'x',"
                " 'pending', 0, '2026-12-07 00:00:00', '2026-12-07 00:00:00')"
            ),
            {"b": unbound},
        )
    upgrade(url)
    with engine.connect() as conn:
        sealed = conn.scalar(select(OutboxMessage.sealed_body).where(OutboxMessage.id == 7))
    engine.dispose()
    box = SecretBox(secret.encode(), "outbox")
    assert json.loads(box.open(sealed, context=body_context(7))) == {"text": "hello"}
    with pytest.raises(InvalidTag):
        box.open(sealed)
