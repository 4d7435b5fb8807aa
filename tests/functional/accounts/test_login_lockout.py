"""SEC-8: the account login (app re-activation, e-mail + password + TOTP) tells nothing about
whether an address has an account, and its lockout is per address and client network."""

from __future__ import annotations

import time
from typing import Literal

import argon2
import pyotp
import pytest
from fastapi.testclient import TestClient

from support import factories as f

LOGIN = "/app-api/v1/activations/account"
PASSWORD = "correct horse battery staple 7"


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    # The test client is the proxy (on 127.0.0.1) that names the client network
    # (X-Forwarded-For); argon2id at 64 MiB so that a skipped hash would show in the timings.
    return settings.model_copy(
        update={
            "trusted_proxies": ["127.0.0.0/8"],
            "argon2_time_cost": 2,
            "argon2_memory_kib": 64 * 1024,
        }
    )


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    with TestClient(
        app, base_url="http://testserver", follow_redirects=False, client=("127.0.0.1", 50000)
    ) as c:
        yield c


@pytest.fixture
def victim(app, db, clock):  # type: ignore[no-untyped-def]
    acc, seed = f.account(
        db,
        f.person(db, "Vera"),
        hasher=app.state.runtime.password_hasher,
        secret=app.state.runtime.settings.secret,
        email="vera@example.org",
        password=PASSWORD,
    )
    db.commit()
    return acc, pyotp.TOTP(seed)


def attempt(client, email: str, ip: str, password: str = "wrong password 1", code: str = "000000"):  # type: ignore[no-untyped-def]
    return client.post(
        LOGIN,
        json={"email": email, "password": password, "totp_code": code},
        headers={"X-Forwarded-For": ip},
    )


def answer(r) -> tuple[int, dict[str, object], str | None]:  # type: ignore[no-untyped-def]
    body = r.json()
    # The seconds left differ by the time between the two series, nothing else may.
    retry = r.headers.get("retry-after")
    return r.status_code, body, "set" if retry else None


def test_lockout_answers_alike_for_known_and_unknown_addresses(client, victim):  # SEC-8
    """Ten wrong tries lock an unknown address exactly as they lock a known one."""
    known, unknown = [], []
    # Stepping to a neighbouring address (same /64) does not dodge the lockout either.
    for i in range(1, 13):
        known.append(answer(attempt(client, "vera@example.org", f"2001:db8:1::{i}")))
        unknown.append(answer(attempt(client, "nobody.here@example.org", f"2001:db8:2::{i}")))
    assert known == unknown
    statuses = [a[0] for a in known]
    assert statuses == [401] * 9 + [429] * 3
    assert {a[1]["code"] for a in known} == {"account_login_failed", "account_locked"}


class CountingHasher(argon2.PasswordHasher):
    """The app's real argon2id hasher, counting its verifications."""

    verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        type(self).verified += 1
        return super().verify(hash, password)


def test_unknown_address_costs_the_same_time_as_a_wrong_password(client, app, victim):  # SEC-8
    """The password hash runs for unknown addresses too: no timing oracle."""
    real = app.state.runtime.password_hasher
    app.state.runtime.password_hasher = CountingHasher(
        time_cost=real.time_cost,
        memory_cost=real.memory_cost,
        parallelism=real.parallelism,
        hash_len=real.hash_len,
        salt_len=real.salt_len,
    )
    known, unknown = [], []
    for i in range(1, 9):  # interleaved, each from its own network, below every limit
        for email, times in (("vera@example.org", known), ("nobody.here@example.org", unknown)):
            before = CountingHasher.verified
            started = time.perf_counter()
            r = attempt(client, email, f"2001:db8:{i}:{len(times) % 2}::1")
            times.append(time.perf_counter() - started)
            assert r.status_code == 401
            assert CountingHasher.verified == before + 1, email  # one argon2id run each
    # The fastest of each (the least disturbed by other work on the machine) are alike; without
    # the dummy hash an unknown address answers in a fraction of the time.
    ratio = min(unknown) / min(known)
    assert 0.5 < ratio < 2, (ratio, known, unknown)


def test_a_lockout_from_elsewhere_does_not_lock_the_owner_out(client, victim, db):  # SEC-8
    _, totp = victim
    for i in range(1, 11):
        attempt(client, "vera@example.org", f"198.51.100.{i}")
    locked = attempt(client, "vera@example.org", "198.51.100.77", PASSWORD, totp.now())
    assert locked.status_code == 429 and locked.json()["code"] == "account_locked"
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    # The owner, on their own network, with the right password and code, gets in.
    r = attempt(client, "Vera@Example.org", "203.0.113.5", PASSWORD, totp.now())
    assert r.status_code == 201, r.text
    assert r.json()["activation_token"]
