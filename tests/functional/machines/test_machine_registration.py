"""Support registers machine clients (PRV-1) as it registers the applications that log people
in: the JSON API, the applications page and the command line; the secret is shown once."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from portti.audit.models import AuditEvent
from portti.cli import cli
from portti.oidc_provider.models import OidcClient
from support.machines import TOKEN
from support.web import HTML, api_headers, csrf_from, force_login

MACHINE = {"name": "Numerot payroll", "scopes": ["members:read", "members:write"]}


def test_support_registers_a_machine_client_through_the_api(client, db, world):  # PRV-1 ADM-9
    force_login(client, world.support, stepped_up=True)
    r = client.post(
        "/api/v1/machine-clients",
        json={**MACHINE, "companies": [world.client_a.id]},
        headers=api_headers(client),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["kind"] == "machine" and body["may_create_companies"] is False
    secret = body["client_secret"]
    listed = client.get("/api/v1/machine-clients").json()
    assert [c["client_id"] for c in listed] == [body["client_id"]]
    assert "client_secret" not in listed[0]
    # Not among the applications that log people in.
    assert body["client_id"] not in {
        c["client_id"] for c in client.get("/api/v1/oidc-clients").json()
    }
    token = client.post(
        TOKEN, data={"grant_type": "client_credentials"}, auth=(body["client_id"], secret)
    )
    assert token.status_code == 200
    rotated = client.post(
        f"/api/v1/machine-clients/{body['client_id']}/secret", headers=api_headers(client)
    )
    assert rotated.status_code == 200 and rotated.json()["client_secret"] != secret
    gone = client.delete(
        f"/api/v1/machine-clients/{body['client_id']}", headers=api_headers(client)
    )
    assert gone.status_code == 204
    assert client.get(f"/api/v1/machine-clients/{body['client_id']}").status_code == 404
    registered = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "oidc_client_registered")
    ).one()
    assert registered.details["kind"] == "machine"
    assert registered.actor_person_id == world.support.id


def test_a_machine_clients_registration_is_checked(client, db, world):  # PRV-1
    force_login(client, world.support, stepped_up=True)
    bad = [
        {**MACHINE},  # neither companies nor all
        {**MACHINE, "companies": []},
        {**MACHINE, "companies": "every"},
        {**MACHINE, "companies": [world.client_a.id], "all_companies": True},
        {**MACHINE, "companies": [world.client_a.id], "scopes": ["openid"]},
        {**MACHINE, "companies": [world.client_a.id], "scopes": []},
        {**MACHINE, "companies": [world.client_a.id], "auth_method": "none"},
        {**MACHINE, "companies": [world.client_a.id], "redirect_uris": ["https://x.example/"]},
        {**MACHINE, "companies": [world.operator.id]},  # never the operator's
        {**MACHINE, "companies": [999999]},
        {**MACHINE, "companies": [world.client_a.id], "auth_method": "private_key_jwt"},
    ]
    for data in bad:
        r = client.post("/api/v1/machine-clients", json=data, headers=api_headers(client))
        assert r.status_code == 422, (data, r.text)
        # A readable sentence, not the branches of pydantic's union.
        assert "constrained-int" not in r.text and "literal[" not in r.text, r.text
    missing = client.post("/api/v1/machine-clients", json=MACHINE, headers=api_headers(client))
    assert 'a list of company ids, or \\"all\\"' in missing.text, missing.text
    assert db.scalars(select(OidcClient)).all() == []


def test_only_support_registers_machine_clients_and_after_step_up(client, db, world):  # PRV-1 ADM-9
    force_login(client, world.kh_a, stepped_up=True)
    data = {**MACHINE, "companies": [world.client_a.id]}
    assert (
        client.post("/api/v1/machine-clients", json=data, headers=api_headers(client)).status_code
        == 403
    )
    force_login(client, world.support, stepped_up=False)
    r = client.post("/api/v1/machine-clients", json=data, headers=api_headers(client))
    assert r.status_code == 403 and r.json()["code"] == "step_up_required"
    assert db.scalars(select(OidcClient)).all() == []


def test_support_registers_a_machine_client_on_the_applications_page(client, db, world):  # PRV-1
    force_login(client, world.support, stepped_up=True)
    listing = client.get("/admin/applications", headers=HTML)
    assert 'href="/admin/applications/machines"' in listing.text
    page = client.get("/admin/applications/machines", headers=HTML)
    assert page.status_code == 200
    assert "Register a machine client" in page.text
    r = client.post(
        "/admin/applications/machines",
        data={
            "csrf_token": csrf_from(page),
            "name": "Numerot payroll",
            "auth_method": "client_secret_basic",
            "scopes": ["members:read", "companies:write"],
            "all_companies": "true",
        },
        headers=HTML,
    )
    assert r.status_code == 201, r.text
    row = db.scalars(select(OidcClient)).one()
    assert row.kind == "machine" and row.company_ids is None
    assert row.allowed_scopes == ["members:read", "companies:write"]
    assert 'id="client-secret"' in r.text and "all companies; may create companies" in r.text
    assert "<title>Machine clients (business software)" in r.text
    # Disabled from the same page: its tokens stop working.
    gone = client.post(
        f"/admin/applications/machines/{row.client_id}/disable",
        data={"csrf_token": csrf_from(r)},
        headers=HTML,
    )
    assert gone.status_code == 303
    db.expire_all()
    assert db.scalars(select(OidcClient)).one().disabled_at is not None
    both = client.post(
        "/admin/applications/machines",
        data={
            "csrf_token": csrf_from(page),
            "name": "Two minds",
            "auth_method": "client_secret_basic",
            "scopes": ["members:read"],
            "company_ids": str(world.client_a.id),
            "all_companies": "true",
        },
        headers=HTML,
    )
    assert both.status_code == 422 and "not both" in both.text
    assert len(db.scalars(select(OidcClient)).all()) == 1


def test_the_command_line_registers_a_machine_client_and_prints_the_secret_once(
    database_url, db, world
):  # PRV-1
    env = {
        "PORTTI_MODE": "test",
        "PORTTI_DATABASE_URL": database_url,
        "PORTTI_SECRET_KEY": "test-secret-key-" + "x" * 32,
    }
    r = CliRunner().invoke(
        cli,
        [
            "clients",
            "register-machine",
            "--name",
            "Numerot payroll",
            "--scope",
            "companies:write",
            "--scope",
            "members:write",
            "--all-companies",
        ],
        env=env,
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["client_secret"] and out["may_create_companies"] is True
    assert out["token_endpoint"].endswith("/oidc/token")
    db.expire_all()
    row = db.scalars(select(OidcClient)).one()
    assert row.kind == "machine" and out["client_secret"] not in (row.secret_hash or "")
    refused = CliRunner().invoke(
        cli,
        ["clients", "register-machine", "--name", "X", "--scope", "openid", "--all-companies"],
        env=env,
    )
    assert refused.exit_code == 2 and "scopes" in refused.output
    base = ["clients", "register-machine", "--name", "X", "--scope", "members:read"]
    both = CliRunner().invoke(cli, [*base, "--company-id", "12", "--all-companies"], env=env)
    assert both.exit_code == 2 and "not both" in both.output, both.output
    neither = CliRunner().invoke(cli, base, env=env)
    assert neither.exit_code == 2, neither.output
    assert "--company-id" in neither.output and "--all-companies" in neither.output
    assert "constrained-int" not in neither.output
    db.expire_all()
    assert len(db.scalars(select(OidcClient)).all()) == 1


def test_the_openapi_document_names_the_machine_token_scheme(client):  # PRV-1 PRV-2
    doc = client.get("/api/openapi.json").json()
    scheme = doc["components"]["securitySchemes"]["machineToken"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    for path, method in (
        ("/api/v1/companies", "post"),
        ("/api/v1/companies/{company_id}", "patch"),
        ("/api/v1/companies/{company_id}/close", "post"),
        ("/api/v1/companies/{company_id}/accounting-office", "put"),
        ("/api/v1/companies/{company_id}/first-admin", "post"),
        ("/api/v1/companies/{company_id}/members", "get"),
        ("/api/v1/companies/{company_id}/members", "post"),
        ("/api/v1/companies/{company_id}/members/{membership_id}", "patch"),
    ):
        assert {"machineToken": []} in doc["paths"][path][method]["security"], (path, method)
