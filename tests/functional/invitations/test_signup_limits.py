"""SEC-5: sign-up codes are limited per client network (an IPv6 client's /64) and per code,
and by nothing over all clients: outsiders guessing from many networks cannot lock the rightful
invitee out. A high overall failure rate raises an operator alert (a log line and an audit
row), never a refusal. The invitee who shares a network with a guesser is told why they wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import structlog
import time_machine
from sqlalchemy import select

from portti.invitations.models import Invitation
from support.activation import invite, latest_signup_code
from support.db import audit_events, fresh
from support.network import client_at

PER_NETWORK_PER_MINUTE = 10


@pytest.fixture
def code(kh, db, settings, world) -> str:  # type: ignore[no-untyped-def]
    """The invitee's real sign-up code (the admin, KH, invited them)."""
    invite(kh, world.client_a.id, world.employee_a_membership.id)
    return latest_signup_code(db, settings.secret, world.employee_a)


def redeem(http: httpx.Client, code: str) -> httpx.Response:
    return http.post("/app-api/v1/activations", json={"signup_code": code})


def wrong(n: int) -> str:
    return f"{n:016d}"


def exhaust(http: httpx.Client, start: int = 0) -> None:
    for i in range(start, start + PER_NETWORK_PER_MINUTE):
        r = redeem(http, wrong(i))
        assert r.status_code == 400 and r.json()["code"] == "invitation_invalid", r.text


def assert_told_to_wait(r: httpx.Response, limited_by: str) -> dict:  # type: ignore[type-arg]
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "rate_limited" and problem["limited_by"] == limited_by
    assert 0 < int(r.headers["retry-after"]) == problem["retry_after"] <= 60
    assert problem["next_step"].startswith("Wait ")
    return problem  # type: ignore[no-any-return]


def status_of_invitation(db) -> str:  # type: ignore[no-untyped-def]
    fresh(db)
    return str(db.scalar(select(Invitation.status)))


@pytest.mark.slow
def test_guessing_from_many_networks_does_not_lock_the_invitee_out(
    app, db, code
) -> None:  # SEC-5 INV-2
    """610 wrong codes from 61 networks in a minute (the old global limit was 600 a minute):
    each network runs out of its own allowance only, the invitee's code still works, and the
    operators are alerted once."""
    with structlog.testing.capture_logs() as logs:
        for n in range(61):
            attacker = client_at(app, f"198.51.100.{n + 1}")
            exhaust(attacker, start=n * 100)
            assert_told_to_wait(redeem(attacker, wrong(n * 100 + 99)), "network")
    r = redeem(client_at(app, "192.0.2.44"), code)
    assert r.status_code == 201, r.text
    assert status_of_invitation(db) == "code_entered"
    alerts = [e for e in logs if e["event"] == "signup_code_failure_rate_high"]
    assert alerts and all(e["log_level"] == "warning" for e in alerts)
    rows = audit_events(db, "signup_failure_rate_high")
    # At most one row a minute (the test takes seconds; two if a slow run crosses a minute).
    assert 1 <= len(rows) <= 2 < len(alerts)
    assert rows[0].details["threshold"] == "300/minute"


def test_an_invitee_on_the_guessers_network_is_told_why_and_how_long_to_wait(
    app, db, code
) -> None:  # SEC-5 INV-2
    shared = client_at(app, "203.0.113.5")
    exhaust(shared)
    problem = assert_told_to_wait(redeem(shared, code), "network")
    assert "another network" in problem["next_step"]
    assert "network" in problem["detail"]
    assert status_of_invitation(db) == "sent"  # the code was not even looked at
    # Once the minute has passed, the same code from the same network works.
    later = datetime.now(UTC) + timedelta(seconds=problem["retry_after"] + 1)
    with time_machine.travel(later, tick=True):
        assert redeem(shared, code).status_code == 201
    assert status_of_invitation(db) == "code_entered"


@pytest.mark.slow
def test_ipv6_addresses_in_one_64_share_a_limit(app, db, code) -> None:  # SEC-5
    exhaust(client_at(app, "2001:db8:aa:1::1"))
    neighbour = client_at(app, "2001:db8:aa:1:ffff:ffff:ffff:fffe")
    assert_told_to_wait(redeem(neighbour, code), "network")
    # The next /64 is another client.
    assert redeem(client_at(app, "2001:db8:aa:2::1"), code).status_code == 201


def test_one_code_is_limited_across_networks(app, db, code) -> None:  # SEC-5
    """The same code from many networks: 5 tries a minute; another code is not affected."""
    for n in range(5):
        r = redeem(client_at(app, f"198.51.100.{n + 1}"), wrong(42))
        assert r.status_code == 400
    problem = assert_told_to_wait(redeem(client_at(app, "198.51.100.200"), wrong(42)), "code")
    assert "16 digits" in problem["next_step"]
    assert redeem(client_at(app, "198.51.100.201"), code).status_code == 201
