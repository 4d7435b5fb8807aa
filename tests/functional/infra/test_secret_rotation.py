"""Rotating the root secret (OPS-13): instances restarted with a new secret and the previous one
keep every PIN, TOTP seed, Portti key, client secret, pairwise subject, code and QR login
working; `portti secrets rotate` re-seals; then the previous secret is dropped and all of it
still works. A wrong secret stops the start with a readable message."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from portti.accounts.deps import accounts_from
from portti.app import create_app
from portti.audit.services import AuditLog
from portti.config import Mode, Settings
from portti.db.session import make_engine, make_session_factory
from portti.infra.clock import OffsetClock
from portti.infra.secret_material import SecretMaterial, SecretMaterialError
from portti.oidc_provider.claims import subject_for
from portti.oidc_provider.clients import ClientService
from portti.oidc_provider.models import OidcClient
from support import factories as f
from support.activation import account_in_db, invite, latest_signup_code, totp_now
from support.db import fresh
from support.devices import PIN
from support.oidc import register
from support.qr import Phone, log_in_by_app, phone_of
from support.web import another_browser, force_login

OLD, NEW = secrets.token_urlsafe(48), secrets.token_urlsafe(48)


def settings_for(database_url: str, secret: str, *previous: str) -> Settings:
    return Settings(
        mode=Mode.TEST,
        database_url=database_url,
        base_url="http://testserver",
        secret_key=secret,
        previous_secret_keys=list(previous),
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
        outbox_in_process=False,
        qr_keepalive_seconds=0.2,
        qr_recheck_seconds=0.2,
    )


@contextmanager
def instance(settings: Settings, clock: OffsetClock) -> Iterator[Any]:
    app = create_app(settings, clock=clock)
    with TestClient(app, base_url="http://testserver", follow_redirects=False):
        yield app


def unlock(app: Any, phone: Phone) -> Phone:
    """The app unlocked again with its PIN (a restarted instance, the phone as it was)."""
    http = another_browser(app)
    sim = phone.sim
    ch = http.post(f"/app-api/v1/devices/{sim.public_id}/challenges", json={"purpose": "unlock"})
    assert ch.status_code == 201, ch.text
    nonce = ch.json()["nonce"]
    r = http.post(
        f"/app-api/v1/devices/{sim.public_id}/unlock",
        json={"nonce": nonce, "signature": sim.sign("unlock", nonce), "pin": PIN},
    )
    assert r.status_code == 200, r.text
    return Phone(http=http, sim=sim, token=r.json()["app_session_token"])


def everything_works(app: Any, db: Any, clock: OffsetClock, before: dict[str, Any]) -> None:
    rt = app.state.runtime
    db = fresh(db)
    # The PIN unlocks (the pepper did not change) and the app approves a QR login.
    phone = unlock(app, before["phone"])
    assert log_in_by_app(another_browser(app), phone).status_code == 303
    # The TOTP seed opens: the authenticator's next code is accepted.
    account = accounts_from(rt, db, AuditLog(db, clock)).by_person(before["person_id"])
    assert account is not None
    clock.advance(before["step"])
    accounts_from(rt, db, AuditLog(db, clock)).verify_totp(account, totp_now(before["totp"], clock))
    # Portti's signing key opens and is the one published before.
    assert rt.keys.active("RS256").kid == before["kid"]
    assert rt.keys.active_signing_key("RS256") is not None
    # The client's secret is still its secret; its pairwise subject did not change.
    client = db.scalars(select(OidcClient)).one()
    service = ClientService(db, clock, AuditLog(db, clock), rt.settings.secret)
    service.authenticate(
        client,
        basic=(client.client_id, before["client_secret"]),
        assertion=None,
        token_endpoint="http://testserver/oidc/token",
        issuer="http://testserver",
    )
    person = db.get(type(before["person"]), before["person_id"])
    assert subject_for(client, person, rt.settings.secret) == before["sub"]
    db.commit()


@pytest.fixture
def db(database_url: str) -> Iterator[Any]:
    """A session of the test's own: the suite's ``db`` fixture starts an app with its secret."""
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


def test_rotating_the_root_secret_keeps_every_person_and_client_working(  # OPS-13
    database_url, db, clock
):
    before: dict[str, Any] = {"step": __import__("datetime").timedelta(seconds=30)}
    with instance(settings_for(database_url, OLD), clock) as app:
        rt = app.state.runtime
        w = f.World(db)
        person = w.employee_a
        before["person"], before["person_id"] = person, person.id
        before["phone"] = phone_of(app, db, rt.settings, clock, person)
        assert log_in_by_app(another_browser(app), before["phone"]).status_code == 303
        creds = account_in_db(db, app, person)
        before["totp"] = creds.totp_secret
        reg = register(
            db,
            clock,
            rt.settings.secret,
            subject_type="pairwise",
            auth_method="client_secret_basic",
        )
        before["client_secret"] = reg.client_secret
        client = db.scalars(select(OidcClient)).one()
        before["sub"] = subject_for(client, person, rt.settings.secret)
        before["kid"] = rt.keys.active("RS256").kid
        # An invitation whose sign-up code is still to be typed when the secret changes.
        admin = another_browser(app)
        force_login(admin, w.kh_a, stepped_up=True)
        invite(admin, w.client_a.id, w.employee_a_membership.id)
        code = latest_signup_code(fresh(db), rt.settings.secret, person)

    # Every instance restarted with the new secret and the old one as previous.
    with instance(settings_for(database_url, NEW, OLD), clock) as app:
        everything_works(app, db, clock, before)
        # A code hashed under the old secret is still the code, within its lifetime.
        redeemed = another_browser(app).post("/app-api/v1/activations", json={"signup_code": code})
        assert redeemed.status_code == 201, redeemed.text

    # `portti secrets rotate` re-seals; then the old secret goes.
    env = {
        **os.environ,
        "PORTTI_MODE": "test",
        "PORTTI_DATABASE_URL": database_url,
        "PORTTI_SECRET_KEY": NEW,
        "PORTTI_PREVIOUS_SECRET_KEYS": f'["{OLD}"]',
    }
    out = subprocess.run(
        [sys.executable, "-m", "portti.cli", "secrets", "rotate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "service_keys" in out.stdout and "secret_material" in out.stdout
    assert OLD not in out.stdout + out.stderr and NEW not in out.stdout + out.stderr

    with instance(settings_for(database_url, NEW), clock) as app:
        everything_works(app, db, clock, before)


def test_a_secret_that_opens_nothing_stops_the_start_with_a_reason(  # OPS-13
    database_url, clock
):
    with instance(settings_for(database_url, OLD), clock):
        pass  # the stored keys are made and sealed under OLD
    with pytest.raises(SecretMaterialError, match="PORTTI_PREVIOUS_SECRET_KEYS") as e:
        create_app(settings_for(database_url, NEW), clock=clock)
    assert OLD not in str(e.value) and NEW not in str(e.value)


def test_the_stable_keys_are_stored_sealed_never_in_clear(database_url, db, clock):  # OPS-13
    with instance(settings_for(database_url, OLD), clock) as app:
        pepper = app.state.runtime.settings.secret.stable["pin-pepper"]
    rows = list(fresh(db).scalars(select(SecretMaterial)))
    assert {r.purpose for r in rows} >= {"pin-pepper", "oidc-pairwise-subject"}
    for r in rows:
        assert pepper.hex() not in r.sealed


def test_demo_mode_without_a_secret_says_to_set_one_in_a_line(database_url, clock):  # OPS-13
    with instance(settings_for(database_url, OLD), clock):
        pass  # the stored keys are made and sealed under OLD
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PORTTI_") or k == "PORTTI_TEST_DATABASE"
    }
    env.update({"PORTTI_MODE": "demo", "PORTTI_DATABASE_URL": database_url})
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "portti.cli",
            "clients",
            "register-machine",
            "--name",
            "X",
            "--scope",
            "members:read",
            "--all-companies",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "PORTTI_SECRET_KEY or PORTTI_SECRET_KEY_FILE" in out.stderr
    assert "PREVIOUS" not in out.stderr
