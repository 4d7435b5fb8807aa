"""Support registers business applications in the admin UI and the JSON API; nobody else may;
changes need a fresh strong authentication; the secret is shown once and stored only hashed."""

from __future__ import annotations

from sqlalchemy import select

from portti.audit.models import AuditEvent
from portti.companies.catalogue import SUPPORT, USER_ADMIN
from portti.companies.models import CompanyKind
from portti.oidc_provider.models import OidcClient
from support import factories as f
from support.web import HTML, api_headers, csrf_from, force_login

CLIENT = {
    "name": "Numerot accounting",
    "redirect_uris": ["https://accounting.example/callback"],
    "backchannel_logout_uri": "https://accounting.example/backchannel-logout",
    "company_selection": True,
}


def support_person(db):  # type: ignore[no-untyped-def]
    operator = f.company(db, "Operator", kind=CompanyKind.OPERATOR)
    sanna = f.person(db, "Sanna", "Tuki")
    f.member(db, sanna, operator, [SUPPORT])
    db.commit()
    return sanna


def test_support_registers_a_client_and_sees_the_secret_once(client, db) -> None:  # ADM-9 OPS-4
    force_login(client, support_person(db), stepped_up=True)
    r = client.post("/api/v1/oidc-clients", json=CLIENT, headers=api_headers(client))
    assert r.status_code == 201, r.text
    body = r.json()
    secret = body["client_secret"]
    assert body["client_id"].startswith("portti-") and len(secret) >= 40
    row = db.scalars(select(OidcClient).where(OidcClient.client_id == body["client_id"])).one()
    assert row.secret_hash and secret not in row.secret_hash
    listed = client.get("/api/v1/oidc-clients").json()
    assert [c["client_id"] for c in listed] == [body["client_id"]]
    assert "client_secret" not in listed[0]
    # A new secret replaces it; the old one no longer authenticates.
    rotated = client.post(
        f"/api/v1/oidc-clients/{body['client_id']}/secret", headers=api_headers(client)
    ).json()
    assert rotated["client_secret"] != secret
    actions = [e.action for e in db.scalars(select(AuditEvent))]
    assert "oidc_client_registered" in actions and "oidc_client_secret_rotated" in actions


def test_only_support_registers_clients(client, db) -> None:  # ADM-9
    kh = f.person(db, "Kaisa", "Kh")
    f.member(db, kh, f.company(db), [USER_ADMIN])
    db.commit()
    force_login(client, kh, stepped_up=True)
    r = client.post("/api/v1/oidc-clients", json=CLIENT, headers=api_headers(client))
    assert r.status_code == 403
    assert client.get("/api/v1/oidc-clients").status_code == 403
    assert db.scalars(select(OidcClient)).all() == []


def test_registering_needs_a_fresh_strong_authentication(client, db) -> None:  # ADM-2
    force_login(client, support_person(db), stepped_up=False)
    r = client.post("/api/v1/oidc-clients", json=CLIENT, headers=api_headers(client))
    assert r.status_code == 403 and r.json()["code"] == "step_up_required"


def test_bad_registrations_are_refused(client, db) -> None:  # OPS-4
    force_login(client, support_person(db), stepped_up=True)
    for bad in [
        {**CLIENT, "redirect_uris": ["http://accounting.example/callback"]},  # http off localhost
        {**CLIENT, "redirect_uris": ["https://accounting.example/cb#frag"]},
        {**CLIENT, "allowed_scopes": ["openid", "admin"]},
        {**CLIENT, "auth_method": "private_key_jwt"},  # without keys
        {**CLIENT, "company_ids": [999999]},
    ]:
        r = client.post("/api/v1/oidc-clients", json=bad, headers=api_headers(client))
        assert r.status_code == 422, (bad, r.text)
    assert db.scalars(select(OidcClient)).all() == []


def test_disabling_a_client_stops_new_logins(client, db) -> None:  # ADM-9
    force_login(client, support_person(db), stepped_up=True)
    body = client.post("/api/v1/oidc-clients", json=CLIENT, headers=api_headers(client)).json()
    r = client.delete(f"/api/v1/oidc-clients/{body['client_id']}", headers=api_headers(client))
    assert r.status_code == 204
    page = client.get(
        f"/oidc/authorize?client_id={body['client_id']}&redirect_uri=https://accounting.example/callback"
        "&response_type=code&scope=openid",
        headers=HTML,
    )
    assert page.status_code == 400 and "not registered" in page.text


def test_admin_page_registers_a_client(client, db) -> None:  # ADM-9
    force_login(client, support_person(db), stepped_up=True)
    page = client.get("/admin/applications", headers=HTML)
    assert page.status_code == 200 and "Register an application" in page.text
    r = client.post(
        "/admin/applications",
        data={
            "csrf_token": csrf_from(page),
            "name": "Numerot accounting",
            "redirect_uris": "https://accounting.example/callback\n",
            "scopes": ["profile", "companies"],
        },
        headers=HTML,
    )
    assert r.status_code == 201, r.text
    assert 'id="client-secret"' in r.text and "shown only now" in r.text
    row = db.scalars(select(OidcClient)).one()
    assert row.allowed_scopes == ["openid", "profile", "companies"]
    again = client.get("/admin/applications", headers=HTML)
    assert 'id="client-secret"' not in again.text and row.client_id in again.text
