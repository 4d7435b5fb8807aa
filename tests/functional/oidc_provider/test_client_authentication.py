"""Attacks on client authentication at the token endpoint: private_key_jwt assertions made
for more than Portti or for too long (SEC-19), and guessing a client secret (SEC-21)."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import select

from portti.audit.models import AuditEvent
from support.network import client_at
from support.oidc import RelyingParty, every_company, query_of, register, relying_party, return_url
from support.web import force_login, local

from .test_refusals import TOKEN, code_for

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def keyed(client, db, clock, settings, cast):  # type: ignore[no-untyped-def]
    key = ECKey.generate_key("P-256", {"kid": "rp-1"}, private=True)
    reg = register(
        db,
        clock,
        settings.secret,
        company_ids=every_company(db),
        auth_method="private_key_jwt",
        jwks={"keys": [key.as_dict(private=False)]},
    )
    return reg, key


def assertion(reg, key, **claims: Any) -> str:  # type: ignore[no-untyped-def]
    now = int(time.time())
    body = {
        "iss": reg.client_id,
        "sub": reg.client_id,
        "aud": TOKEN,
        "jti": secrets.token_urlsafe(12),
        "iat": now,
        "exp": now + 60,
        **claims,
    }
    return jwt.encode(
        {"alg": "ES256", "kid": "rp-1"}, {k: v for k, v in body.items() if v is not None}, key
    )


def exchange(client, reg, key, cast, **claims: Any) -> httpx.Response:  # type: ignore[no-untyped-def]
    """A fresh code redeemed with an assertion carrying ``claims``."""
    rp = relying_party(client._transport, "http://testserver", reg, client_secret=None)
    callback = code_for(client, rp, cast.kaisa)
    http = httpx.Client(transport=client._transport)
    return http.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": query_of(callback)["code"],
            "redirect_uri": rp.redirect_uri,
            "code_verifier": rp.verifier,
            "client_assertion_type": JWT_BEARER,
            "client_assertion": assertion(reg, key, **claims),
        },
    )


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": [TOKEN, "https://other.example"]},  # also addressed to another server
        {"aud": ["http://testserver"]},  # a list, even of one
        {"aud": "https://other.example/token"},
        {"exp": int(time.time()) + 59 * 60},  # valid for an hour
        {"iat": int(time.time()) - 10 * 60, "exp": int(time.time()) + 60},  # made long ago
        {"iat": None},
        {"jti": None},
    ],
)
def test_assertions_for_others_or_for_long_are_refused(
    client, keyed, cast, claims
) -> None:  # SEC-19
    reg, key = keyed
    r = exchange(client, reg, key, cast, **claims)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text


def test_a_short_assertion_for_portti_is_accepted_once(client, keyed, cast) -> None:  # SEC-19
    reg, key = keyed
    for aud in ("http://testserver", TOKEN):
        assert exchange(client, reg, key, cast, aud=aud).status_code == 200
    jti = secrets.token_urlsafe(8)
    assert exchange(client, reg, key, cast, jti=jti).status_code == 200
    assert exchange(client, reg, key, cast, jti=jti).status_code == 401


def guess(rp: RelyingParty, secret: str) -> httpx.Response:
    return rp.http.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=(rp.reg.client_id, secret),
    )


def test_guessing_a_client_secret_is_stopped(client, rp, cast, db) -> None:  # SEC-21
    statuses = [guess(rp, f"wrong-{i}").status_code for i in range(15)]
    assert statuses[:10] == [401] * 10
    assert set(statuses[10:]) == {429}
    r = guess(rp, "wrong")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert r.json()["error"] == "invalid_client"
    # The right secret is still checked and accepted: the client id is public, and whoever
    # knows it must not stop the application's own exchanges (its network has not failed 20
    # times a minute: that limit is the next test's).
    right = guess(rp, rp.reg.client_secret or "")
    assert right.status_code == 400 and right.json()["error"] == "invalid_grant"
    reasons = [e.details.get("reason") for e in db.scalars(select(AuditEvent))]
    assert reasons.count("client_auth_failed") == 16  # every wrong secret
    assert reasons.count("client_auth_rate_limited") == 1  # once a minute, not per request


def test_guessing_across_client_ids_is_stopped_per_network(
    app, client, db, clock, settings, cast
) -> None:  # SEC-21
    rps = [
        relying_party(
            client._transport,
            "http://testserver",
            register(db, clock, settings.secret, company_ids=every_company(db)),
        )
        for _ in range(3)
    ]
    statuses = [guess(rps[i % 3], f"wrong-{i}").status_code for i in range(25)]
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
    # From that network not even the right secret is checked now; from another it is.
    assert guess(rps[0], rps[0].reg.client_secret or "").status_code == 429
    elsewhere = relying_party(
        client_at(app, "192.0.2.10")._transport, "http://testserver", rps[0].reg
    )
    assert guess(elsewhere, rps[0].reg.client_secret or "").status_code == 400


def test_a_good_client_is_not_slowed_by_its_own_successes(client, rp, cast) -> None:  # SEC-21
    force_login(client, cast.kaisa)
    for _ in range(12):
        callback = client.get(local(rp.authorization_url()))
        assert rp.fetch_token(return_url(callback))["access_token"]
