"""Tokens live no longer than what they rest on: a refresh token without ``offline_access``
ends with the Portti session (SEC-15); a refused refresh does not spend the token (SEC-17); a
reused refresh token ends the access tokens of its family too (SEC-27). Also the optional
nonce of a public client with PKCE (OIDC-2) and discovery's UserInfo algorithms (OIDC-3)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from sqlalchemy import select

from portti.config import Settings
from portti.oidc_provider.models import OidcLogin
from support.db import fresh
from support.oidc import (
    RelyingParty,
    every_company,
    logout_receiver,
    register,
    relying_party,
    return_url,
    verify_logout_token,
)
from support.web import force_login, local

TOKEN = "http://testserver/oidc/token"
USERINFO = "http://testserver/oidc/userinfo"
IDLE = timedelta(minutes=2)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Sessions that end after two idle minutes, as in the review."""
    return settings.model_copy(update={"session_idle_minutes": 2})


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    with logout_receiver() as server:
        yield server


def client_for(client, db, clock, settings, receiver, **fields) -> RelyingParty:  # type: ignore[no-untyped-def]
    scope = fields.pop("scope", "openid profile companies")
    reg = register(
        db,
        clock,
        settings.secret,
        company_ids=every_company(db),
        backchannel_logout_uri=receiver.url,
        **fields,
    )
    return relying_party(client._transport, "http://testserver", reg, scope=scope)


def log_in(client, rp: RelyingParty, person) -> dict:  # type: ignore[no-untyped-def]
    force_login(client, person)
    return rp.fetch_token(return_url(client.get(local(rp.authorization_url()))))


def refresh(rp: RelyingParty, token: str, **extra: str):  # type: ignore[no-untyped-def]
    return rp.http.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": token, **extra},
        auth=(rp.reg.client_id, rp.reg.client_secret),
    )


def userinfo(rp: RelyingParty, access_token: str):  # type: ignore[no-untyped-def]
    return rp.http.get(USERINFO, headers={"authorization": f"Bearer {access_token}"})


def test_refresh_and_userinfo_end_with_the_idle_portti_session(
    client, app, db, clock, settings, receiver, cast
) -> None:  # SEC-15
    rp = client_for(client, db, clock, settings, receiver)
    token = log_in(client, rp, cast.kaisa)
    assert "offline_access" not in token["scope"]
    assert userinfo(rp, token["access_token"]).status_code == 200
    clock.advance(timedelta(seconds=135))  # past the two idle minutes; the access token lives
    assert client.get("/api/v1/me").status_code == 401
    r = userinfo(rp, token["access_token"])
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    # The worker's sweep ends the login and tells the client.
    worker = app.state.runtime.backchannel_logout
    assert worker.sweep_expired_sessions(IDLE) == 1
    assert worker.deliver_due() == 1
    claims = verify_logout_token(
        receiver.tokens[0],
        rp.jwks(),
        rp.issuer,
        rp.reg.client_id,
        now=int(clock.now().timestamp()),
    )
    assert claims["sid"] == rp.id_claims(token["id_token"])["sid"]
    r = refresh(rp, token["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    fresh(db)
    assert db.scalars(select(OidcLogin.end_reason)).one() == "session_expired"
    assert worker.sweep_expired_sessions(IDLE) == 0  # told once


def test_a_refresh_after_the_session_expired_ends_the_login_at_once(
    client, app, db, clock, settings, receiver, cast
) -> None:  # SEC-15
    rp = client_for(client, db, clock, settings, receiver)
    token = log_in(client, rp, cast.kaisa)
    clock.advance(timedelta(seconds=135))
    r = refresh(rp, token["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert app.state.runtime.backchannel_logout.deliver_due() == 1  # no sweep needed


def test_only_offline_access_outlives_the_session(
    client, app, db, clock, settings, receiver, cast
) -> None:  # SEC-15
    plain = client_for(client, db, clock, settings, receiver, scope="openid offline_access")
    force_login(client, cast.kaisa)
    refused = return_url(client.get(local(plain.authorization_url())))
    assert dict(parse_qsl(urlsplit(refused).query))["error"] == "invalid_scope"

    rp = client_for(
        client,
        db,
        clock,
        settings,
        receiver,
        scope="openid profile offline_access",
        allowed_scopes=["openid", "profile", "offline_access"],
    )
    token = log_in(client, rp, cast.kaisa)
    assert "offline_access" in token["scope"].split()
    clock.advance(timedelta(seconds=135))
    assert app.state.runtime.backchannel_logout.sweep_expired_sessions(IDLE) == 0
    r = refresh(rp, token["refresh_token"])
    assert r.status_code == 200, r.text
    assert userinfo(rp, r.json()["access_token"]).status_code == 200
    assert receiver.tokens == []


def test_a_refused_refresh_does_not_spend_the_token(
    client, db, clock, settings, receiver, cast
) -> None:  # SEC-17
    rp = client_for(client, db, clock, settings, receiver)
    token = log_in(client, rp, cast.kaisa)
    wider = refresh(rp, token["refresh_token"], scope="openid offline_access")
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
    normal = refresh(rp, token["refresh_token"])
    assert normal.status_code == 200, normal.text
    narrower = refresh(rp, normal.json()["refresh_token"], scope="openid")
    assert narrower.status_code == 200 and narrower.json()["scope"] == "openid"


def test_a_reused_refresh_token_ends_the_familys_access_tokens(
    client, app, db, clock, settings, receiver, cast
) -> None:  # SEC-27
    rp = client_for(client, db, clock, settings, receiver)
    token = log_in(client, rp, cast.kaisa)
    rotated = refresh(rp, token["refresh_token"]).json()
    assert userinfo(rp, rotated["access_token"]).status_code == 200
    reused = refresh(rp, token["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    for access_token in (token["access_token"], rotated["access_token"]):
        assert userinfo(rp, access_token).status_code == 401
    assert refresh(rp, rotated["refresh_token"]).json()["error"] == "invalid_grant"
    assert app.state.runtime.backchannel_logout.deliver_due() == 1
    fresh(db)
    assert db.scalars(select(OidcLogin.end_reason)).one() == "refresh_token_reused"


def test_a_public_client_with_pkce_needs_no_nonce(
    client, db, clock, settings, cast
) -> None:  # OIDC-2
    reg = register(db, clock, settings.secret, company_ids=every_company(db), auth_method="none")
    rp = relying_party(
        client._transport, "http://testserver", reg, token_endpoint_auth_method="none"
    )
    force_login(client, cast.kaisa)
    url = urlsplit(rp.authorization_url())
    query = [(k, v) for k, v in parse_qsl(url.query) if k != "nonce"]
    callback = return_url(client.get(local(url._replace(query=urlencode(query)).geturl())))
    assert "code=" in callback, callback
    token = rp.fetch_token(callback)
    claims = rp.id_claims(token["id_token"], nonce=None)
    assert claims["sub"] == cast.kaisa.portti_id and "nonce" not in claims
    # Without PKCE a public client is still refused.
    bare = [(k, v) for k, v in query if not k.startswith("code_challenge")]
    r = client.get(local(url._replace(query=urlencode(bare)).geturl()))
    assert "error=invalid_request" in r.headers["location"]


def test_discovery_claims_no_userinfo_signing(client) -> None:  # OIDC-3
    doc = client.get("/.well-known/openid-configuration").json()
    # UserInfo answers plain JSON: the member is left out, never an empty list.
    assert "userinfo_signing_alg_values_supported" not in doc
    assert doc["id_token_signing_alg_values_supported"]
