"""Token revocation (RFC 7009) at /oidc/revoke: a client revokes a refresh or access token it was
given, which ends the login (its access tokens too); from a single-page app with CORS (OIDC-1)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portti.oidc_provider.models import OidcLogin
from support.db import fresh
from support.oidc import RelyingParty, every_company, register, relying_party, return_url
from support.web import force_login, local

REVOKE = "http://testserver/oidc/revoke"
SPA = "https://spa.example"


def tokens(client, rp: RelyingParty, person) -> dict:  # type: ignore[no-untyped-def]
    force_login(client, person)
    return rp.fetch_token(return_url(client.get(local(rp.authorization_url()))))


def revoke(rp: RelyingParty, token: str, **headers: str):  # type: ignore[no-untyped-def]
    return rp.http.post(
        REVOKE,
        data={"token": token},
        auth=(rp.reg.client_id, rp.reg.client_secret),
        headers=headers,
    )


@pytest.mark.parametrize("which", ["refresh_token", "access_token"])
def test_revoking_a_token_ends_the_login_and_its_tokens(
    client, rp, cast, db, which
) -> None:  # OIDC-1
    token = tokens(client, rp, cast.kaisa)
    r = revoke(rp, token[which])
    assert r.status_code == 200, r.text
    info = rp.http.get(
        "http://testserver/oidc/userinfo",
        headers={"authorization": f"Bearer {token['access_token']}"},
    )
    assert info.status_code == 401
    refreshed = rp.http.post(
        "http://testserver/oidc/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(rp.reg.client_id, rp.reg.client_secret),
    )
    assert refreshed.json()["error"] == "invalid_grant"
    fresh(db)
    assert db.scalars(select(OidcLogin.end_reason)).one() == "tokens_revoked"
    # Again, or a token nobody issued: 200 and nothing else (RFC 7009 §2.2).
    assert revoke(rp, token[which]).status_code == 200
    assert revoke(rp, "not-a-token").status_code == 200


def test_a_client_cannot_revoke_another_clients_token(
    client, rp, cast, db, clock, settings
) -> None:  # OIDC-1
    token = tokens(client, rp, cast.kaisa)
    other = relying_party(
        client._transport,
        "http://testserver",
        register(db, clock, settings.secret, company_ids=every_company(db)),
    )
    for which in ("refresh_token", "access_token"):
        r = revoke(other, token[which])
        assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
    wrong = rp.http.post(
        REVOKE, data={"token": token["refresh_token"]}, auth=(rp.reg.client_id, "x")
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    fresh(db)
    assert db.scalars(select(OidcLogin.ended_at)).one() is None


def test_a_single_page_app_revokes_from_its_origin(
    client, db, clock, settings, cast
) -> None:  # OIDC-1
    reg = register(
        db,
        clock,
        settings.secret,
        company_ids=every_company(db),
        auth_method="none",
        web_origins=[SPA],
    )
    spa = relying_party(
        client._transport, "http://testserver", reg, token_endpoint_auth_method="none"
    )
    token = tokens(client, spa, cast.kaisa)
    pre = client.options(REVOKE, headers={"origin": SPA, "access-control-request-method": "POST"})
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == SPA
    r = client.post(
        "/oidc/revoke",
        data={"token": token["refresh_token"], "client_id": reg.client_id},
        headers={"origin": SPA},
    )
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == SPA
    doc = client.get("/.well-known/openid-configuration").json()
    assert doc["revocation_endpoint"] == "http://testserver/oidc/revoke"
