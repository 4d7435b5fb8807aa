"""What Support registers for an application, in the command line, the JSON API and the admin
page: allowed scopes, the ID token algorithm, the first-party flag and web origins (OIDC-7);
addresses that could mislead or leak are refused (SEC-23); a pairwise client cannot share
another client's sector (SEC-18)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from portti.cli import cli
from portti.oidc_provider.models import OidcClient
from support.db import fresh
from support.web import HTML, api_headers, csrf_from, force_login

from .test_clients_admin import CLIENT, support_person

BAD_URIS = [
    "https://rp.example@evil.example/cb",  # user info: the host is evil.example
    "https://rp.example:pw@evil.example/cb",
    "https://*.example/cb",  # a wildcard host
    "https://rp.example/*",
    "https://rp.example/cb#fragment",
    "http://rp.example/cb",  # http off loopback
    "https://rp.example/c b",
    "https://rp.example:99999/cb",
    "javascript:alert(1)",
    "/relative/cb",
]


@pytest.fixture
def support(client, db):  # type: ignore[no-untyped-def]
    force_login(client, support_person(db), stepped_up=True)
    return client


@pytest.mark.parametrize("uri", BAD_URIS)
def test_misleading_addresses_are_refused_everywhere(support, db, uri) -> None:  # SEC-23
    for bad in (
        {**CLIENT, "redirect_uris": [uri]},
        {**CLIENT, "post_logout_redirect_uris": [uri]},
        {**CLIENT, "backchannel_logout_uri": uri},
        {**CLIENT, "web_origins": [uri]},
    ):
        r = support.post("/api/v1/oidc-clients", json=bad, headers=api_headers(support))
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        # The validator's own sentence, without pydantic's "Value error, " before it.
        assert "Value error" not in r.text
    assert db.scalars(select(OidcClient)).all() == []


def test_loopback_http_stays_allowed_for_native_apps(support) -> None:  # SEC-23
    ok = {**CLIENT, "redirect_uris": ["http://127.0.0.1:8001/callback", "http://[::1]:9/cb"]}
    r = support.post("/api/v1/oidc-clients", json=ok, headers=api_headers(support))
    assert r.status_code == 201, r.text


def test_the_admin_page_refuses_a_wildcard_and_user_info(support, db) -> None:  # SEC-23
    page = support.get("/admin/applications", headers=HTML)
    for uri in ("https://*.example/cb", "https://rp.example@evil.example/cb"):
        r = support.post(
            "/admin/applications",
            data={"name": "Evil", "redirect_uris": uri, "csrf_token": csrf_from(page)},
            headers=HTML,
        )
        assert r.status_code == 422 and "<html" in r.text.lower()
        assert "Value error" not in r.text
    assert db.scalars(select(OidcClient)).all() == []


def test_a_pairwise_client_has_redirect_uris_on_one_host(support, db) -> None:  # SEC-18
    two_hosts = {
        **CLIENT,
        "subject_type": "pairwise",
        "redirect_uris": ["https://own.example/cb", "https://victim.example/cb"],
    }
    r = support.post("/api/v1/oidc-clients", json=two_hosts, headers=api_headers(support))
    assert r.status_code == 422 and "one host" in r.text
    one_host = {**two_hosts, "redirect_uris": ["https://own.example/cb", "https://own.example/b"]}
    assert (
        support.post("/api/v1/oidc-clients", json=one_host, headers=api_headers(support))
    ).status_code == 201
    # A public-subject client may have several hosts: its sub is the Portti ID anyway.
    public = {**two_hosts, "subject_type": "public"}
    assert (
        support.post("/api/v1/oidc-clients", json=public, headers=api_headers(support))
    ).status_code == 201


def test_the_api_sets_scopes_algorithm_first_party_and_web_origins(support, db) -> None:  # OIDC-7
    data = {
        **CLIENT,
        "auth_method": "none",
        "allowed_scopes": ["openid", "profile", "offline_access"],
        "id_token_signed_response_alg": "ES256",
        "first_party": True,
        "web_origins": ["https://App.example:443/", "http://localhost:5173", "http://[::1]:80"],
    }
    r = support.post("/api/v1/oidc-clients", json=data, headers=api_headers(support))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["allowed_scopes"] == ["openid", "profile", "offline_access"]
    assert body["id_token_signed_response_alg"] == "ES256" and body["first_party"] is True
    # As browsers send Origin: lower case, no default port.
    assert body["web_origins"] == ["https://app.example", "http://localhost:5173", "http://[::1]"]
    got = support.get(f"/api/v1/oidc-clients/{body['client_id']}").json()
    assert got["first_party"] is True and got["web_origins"] == body["web_origins"]
    # Unknown algorithms and scopes, and origins with a path, are refused.
    for bad in (
        {**data, "id_token_signed_response_alg": "none"},
        {**data, "id_token_signed_response_alg": "HS256"},
        {**data, "allowed_scopes": ["openid", "everything"]},
        {**data, "web_origins": ["https://app.example/path"]},
    ):
        assert (
            support.post("/api/v1/oidc-clients", json=bad, headers=api_headers(support))
        ).status_code == 422
    # Left out, offline_access is not allowed and the client is not first-party.
    plain = support.post("/api/v1/oidc-clients", json=CLIENT, headers=api_headers(support)).json()
    assert "offline_access" not in plain["allowed_scopes"] and plain["first_party"] is False


def test_the_admin_page_sets_the_new_fields(support, db) -> None:  # OIDC-7
    page = support.get("/admin/applications", headers=HTML)
    for label in ("ID token signing algorithm", "Web origins", "Portti's own application"):
        assert label in page.text
    r = support.post(
        "/admin/applications",
        data={
            "name": "Numerot SPA",
            "redirect_uris": "https://spa.example/cb",
            "auth_method": "none",
            "scopes": ["profile", "offline_access"],
            "web_origins": "https://spa.example\n",
            "id_token_signed_response_alg": "PS256",
            "first_party": "true",
            "csrf_token": csrf_from(page),
        },
        headers=HTML,
    )
    assert r.status_code == 201, r.text
    fresh(db)
    row = db.scalars(select(OidcClient)).one()
    assert row.allowed_scopes == ["openid", "profile", "offline_access"]
    assert row.id_token_signed_response_alg == "PS256" and row.first_party is True
    assert row.web_origins == ["https://spa.example"]


def test_the_command_line_sets_the_new_fields_and_refuses_bad_ones(
    app, db, database_url, monkeypatch, tmp_path
) -> None:  # OIDC-7 SEC-23
    monkeypatch.setenv("PORTTI_MODE", "test")
    monkeypatch.setenv("PORTTI_DATABASE_URL", database_url)
    monkeypatch.setenv("PORTTI_SECRET_KEY", app.state.runtime.settings.secret.decode())
    runner = CliRunner()
    out = tmp_path / "client.json"
    r = runner.invoke(
        cli,
        ["clients", "register", "--name", "SPA", "--redirect-uri", "https://spa.example/cb",
         "--auth-method", "none", "--scope", "profile", "--scope", "offline_access",
         "--id-token-alg", "ES256", "--first-party", "--web-origin", "https://spa.example",
         "--json-out", str(out)],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    body = json.loads(out.read_text())
    assert body["allowed_scopes"] == ["openid", "profile", "offline_access"]
    assert body["id_token_signed_response_alg"] == "ES256" and body["first_party"] is True
    assert body["web_origins"] == ["https://spa.example"]
    r = runner.invoke(
        cli,
        ["clients", "register", "--name", "Evil", "--redirect-uri", "https://*.example/cb"],
    )
    assert r.exit_code == 2 and "wildcard" in r.output and "Value error" not in r.output
    assert "Traceback" not in r.output
    fresh(db)
    assert [c.name for c in db.scalars(select(OidcClient))] == ["SPA"]
