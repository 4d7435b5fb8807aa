"""SEC-9: ``POST /devices/{id}/challenges`` needs nothing but a device id, and every answer is
a row. It is limited per device and per client network, and a device holds at most
``MAX_OPEN_CHALLENGES`` unused, unexpired nonces; refusals are 429 problem documents with
Retry-After. Each attack is made over HTTP."""

from __future__ import annotations

import secrets
from datetime import timedelta

import httpx
import pytest
from limits import parse
from sqlalchemy import func, select

from portti.devices.challenges import (
    CHALLENGE_LIMIT_PER_DEVICE,
    CHALLENGE_LIMIT_PER_NETWORK,
    CHALLENGE_VALIDITY,
    MAX_OPEN_CHALLENGES,
)
from portti.devices.models import Device, DeviceChallenge
from support import factories as f
from support.db import fresh
from support.device_keys import SimulatedApp
from support.devices import PIN, bind, make_service
from support.network import client_at

API = "/app-api/v1"


@pytest.fixture
def phone(app, db, settings, clock) -> SimulatedApp:  # type: ignore[no-untyped-def]
    person = f.person(db, "Ville")
    db.commit()
    _, sim, _ = bind(make_service(db, app), db, person, clock)
    return sim


def ask(http: httpx.Client, device_id: str | None) -> httpx.Response:
    return http.post(f"{API}/devices/{device_id}/challenges", json={"purpose": "unlock"})


def open_rows(db, sim: SimulatedApp) -> int:  # type: ignore[no-untyped-def]
    fresh(db)
    return int(
        db.scalar(
            select(func.count())
            .select_from(DeviceChallenge)
            .join(Device, Device.id == DeviceChallenge.device_id)
            .where(Device.public_id == sim.public_id)
        )
        or 0
    )


def assert_429(r: httpx.Response, code: str) -> dict:  # type: ignore[type-arg]
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == code
    assert 0 < int(r.headers["retry-after"]) == problem["retry_after"]
    assert problem["next_step"] and problem["detail"]
    return problem  # type: ignore[no-any-return]


def test_the_open_challenges_of_a_device_are_capped(
    app, client, db, clock, phone
) -> None:  # SEC-9 APP-4
    attacker = client_at(app, "198.51.100.7")
    for _ in range(MAX_OPEN_CHALLENGES):
        assert ask(attacker, phone.public_id).status_code == 201
    problem = assert_429(ask(attacker, phone.public_id), "too_many_challenges")
    assert problem["open_challenges"] == MAX_OPEN_CHALLENGES
    assert problem["retry_after"] <= CHALLENGE_VALIDITY.total_seconds()
    assert open_rows(db, phone) == MAX_OPEN_CHALLENGES  # the refusal wrote nothing


def test_a_used_challenge_frees_a_place(app, client, db, clock, phone) -> None:  # SEC-9 APP-4
    nonces = [ask(client, phone.public_id).json()["nonce"] for _ in range(MAX_OPEN_CHALLENGES)]
    assert_429(ask(client, phone.public_id), "too_many_challenges")
    unlocked = client.post(
        f"{API}/devices/{phone.public_id}/unlock",
        json={"nonce": nonces[0], "signature": phone.sign("unlock", nonces[0]), "pin": PIN},
    )
    assert unlocked.status_code == 200, unlocked.text
    assert ask(client, phone.public_id).status_code == 201
    assert_429(ask(client, phone.public_id), "too_many_challenges")


def test_expired_challenges_free_their_places(app, client, db, clock, phone) -> None:  # SEC-9
    for _ in range(MAX_OPEN_CHALLENGES):
        ask(client, phone.public_id)
    problem = assert_429(ask(client, phone.public_id), "too_many_challenges")
    # Retry-After is when the oldest expires: then there is a place again ...
    clock.advance(timedelta(seconds=problem["retry_after"]))
    assert ask(client, phone.public_id).status_code == 201
    # ... and once all have expired, they are gone and only the new one is open.
    clock.advance(CHALLENGE_VALIDITY)
    assert ask(client, phone.public_id).status_code == 201
    assert open_rows(db, phone) == 1


def test_challenges_are_rate_limited_per_device(
    app, client, db, settings, clock, phone
) -> None:  # SEC-9
    """20 asks a minute (``CHALLENGE_LIMIT_PER_DEVICE``), served or refused by the cap. Within one real minute (the limiter's
    clock), expiring the nonces on the app's clock does not reset the allowance."""
    answers = []
    while True:
        r = ask(client, phone.public_id)
        if r.status_code == 429 and r.json()["code"] == "too_many_challenges":
            clock.advance(CHALLENGE_VALIDITY)  # all of them expire: the cap is not the limit
        elif r.status_code != 201:
            break
        answers.append(r.status_code)
    per_minute = parse(CHALLENGE_LIMIT_PER_DEVICE).amount
    assert len(answers) == per_minute and answers.count(201) == per_minute - 1
    problem = assert_429(r, "rate_limited")
    assert problem["limited_by"] == "device"
    # From any network: it is the device's limit ...
    assert_429(ask(client_at(app, "203.0.113.99"), phone.public_id), "rate_limited")
    # ... and another device is not affected.
    other = f.person(db, "Other")
    db.commit()
    _, other_sim, _ = bind(make_service(db, app), db, other, clock)
    assert ask(client, other_sim.public_id).status_code == 201


def test_challenges_are_rate_limited_per_client_network(app, client, phone) -> None:  # SEC-9
    """Every ask counts, for a device that exists or not; an IPv6 client's limit is its /64."""
    prober = client_at(app, "2001:db8:1:2::1")
    for _ in range(parse(CHALLENGE_LIMIT_PER_NETWORK).amount):
        r = ask(prober, "dev_" + secrets.token_urlsafe(16))
        assert r.status_code == 401 and r.json()["code"] == "device_unknown"
    problem = assert_429(ask(prober, phone.public_id), "rate_limited")
    assert problem["limited_by"] == "network"
    # Another address in the same /64 is the same client ...
    neighbour = client_at(app, "2001:db8:1:2:abcd:ef01:2345:6789")
    assert_429(ask(neighbour, phone.public_id), "rate_limited")
    # ... the next /64 is not, nor is an IPv4 client.
    assert ask(client_at(app, "2001:db8:1:3::1"), phone.public_id).status_code == 201
    assert ask(client_at(app, "192.0.2.10"), phone.public_id).status_code == 201
