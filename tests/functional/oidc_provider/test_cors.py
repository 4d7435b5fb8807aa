"""CORS for single-page apps (OIDC-1): discovery and the JWK set for anyone; the token endpoint
and UserInfo only for the web origins registered for the client. (The browser itself, with
oidc-client-ts, is in tests/e2e/test_oidc_client_ts_spa.py.)"""

from __future__ import annotations

import pytest

from support.oidc import RelyingParty, every_company, query_of, register, relying_party, return_url
from support.web import force_login, local

SPA = "https://spa.example"
EVIL = "https://evil.example"
TOKEN = "http://testserver/oidc/token"


@pytest.fixture
def spa(client, db, clock, settings, cast) -> RelyingParty:  # type: ignore[no-untyped-def]
    reg = register(
        db,
        clock,
        settings.secret,
        company_ids=every_company(db),
        auth_method="none",
        web_origins=[SPA],
    )
    return relying_party(
        client._transport, "http://testserver", reg, token_endpoint_auth_method="none"
    )


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/.well-known/jwks.json"])
def test_public_documents_are_readable_from_any_origin(client, path) -> None:  # OIDC-1
    r = client.get(path, headers={"origin": EVIL})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    pre = client.options(path, headers={"origin": EVIL, "access-control-request-method": "GET"})
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in pre.headers


def test_token_endpoint_preflight_only_for_registered_origins(client, spa) -> None:  # OIDC-1
    headers = {"access-control-request-method": "POST"}
    ok = client.options("/oidc/token", headers={**headers, "origin": SPA})
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == SPA
    assert "POST" in ok.headers["access-control-allow-methods"]
    bad = client.options("/oidc/token", headers={**headers, "origin": EVIL})
    assert bad.status_code == 403 and "access-control-allow-origin" not in bad.headers


def redeem(client, spa: RelyingParty, callback: str, origin: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/oidc/token",
        data={
            "grant_type": "authorization_code",
            "code": query_of(callback)["code"],
            "redirect_uri": spa.redirect_uri,
            "code_verifier": spa.verifier,
            "client_id": spa.reg.client_id,
        },
        headers={"origin": origin},
    )


def test_tokens_go_only_to_the_clients_origins(client, spa, cast) -> None:  # OIDC-1
    force_login(client, cast.kaisa)
    callback = return_url(client.get(local(spa.authorization_url())))
    refused = redeem(client, spa, callback, EVIL)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
    assert "access-control-allow-origin" not in refused.headers
    # The code was not spent by the refused request.
    r = redeem(client, spa, callback, SPA)
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == SPA and "Origin" in r.headers["vary"]
    access_token = r.json()["access_token"]
    info = client.get(
        "/oidc/userinfo", headers={"authorization": f"Bearer {access_token}", "origin": SPA}
    )
    assert info.status_code == 200 and info.headers["access-control-allow-origin"] == SPA
    other = client.get(
        "/oidc/userinfo", headers={"authorization": f"Bearer {access_token}", "origin": EVIL}
    )
    assert "access-control-allow-origin" not in other.headers
    # A refusal is readable by the app, so it can tell the person.
    bad = client.get("/oidc/userinfo", headers={"authorization": "Bearer x", "origin": SPA})
    assert bad.status_code == 401 and bad.headers["access-control-allow-origin"] == SPA


def test_servers_without_an_origin_are_unaffected(client, rp, cast) -> None:  # OIDC-1
    force_login(client, cast.kaisa)
    token = rp.fetch_token(return_url(client.get(local(rp.authorization_url()))))
    assert token["access_token"]
