"""SEC-20: what schemathesis ``--checks all`` found, each pinned down without the fuzzer: the
``Allow`` header of a 405, a disabled client read by id, and request schemas as strict as the
server."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from support import factories as f
from support.web import api_headers, force_login


def test_sec20_a_405_allows_every_method_of_the_path(client: TestClient, db) -> None:  # SEC-20
    world = f.World(db)
    db.commit()
    force_login(client, world.kh_a, stepped_up=True)
    r = client.put(f"/api/v1/companies/{world.client_a.id}/members", headers=api_headers(client))
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} >= {"GET", "POST"}
    r = client.patch("/api/v1/oidc-clients", headers=api_headers(client))
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} >= {"GET", "POST"}


def test_sec20_a_disabled_client_is_no_longer_read_or_changed_by_id(client, db) -> None:  # SEC-20
    world = f.World(db)
    db.commit()
    force_login(client, world.support, stepped_up=True)
    body = {"name": "Numerot", "redirect_uris": ["https://accounting.example/callback"]}
    made = client.post("/api/v1/oidc-clients", json=body, headers=api_headers(client))
    assert made.status_code == 201, made.text
    client_id = made.json()["client_id"]
    assert client.get(f"/api/v1/oidc-clients/{client_id}").status_code == 200
    gone = client.delete(f"/api/v1/oidc-clients/{client_id}", headers=api_headers(client))
    assert gone.status_code == 204
    after = client.get(f"/api/v1/oidc-clients/{client_id}")
    assert after.status_code == 404
    assert after.headers["content-type"].startswith("application/problem+json")
    changed = client.put(
        f"/api/v1/oidc-clients/{client_id}", json=body, headers=api_headers(client)
    )
    assert changed.status_code == 404
    # Still in the list, marked.
    listed = {c["client_id"]: c for c in client.get("/api/v1/oidc-clients").json()}
    assert listed[client_id]["disabled"] is True


def test_sec20_request_schemas_say_what_the_server_refuses(app) -> None:  # SEC-20
    doc = app.openapi()
    schemas = doc["components"]["schemas"]
    person = schemas["ChangePersonInput"]["properties"]
    for field in ("given_name", "family_name", "email", "phone"):
        assert person[field]["minLength"] == 1 and person[field]["pattern"] == r"\S"
    code = schemas["SignupCodeIn"]["properties"]["signup_code"]["pattern"]
    assert re.fullmatch(code, "1234 5678 9012 3456") and not re.fullmatch(code, "0.1.0")
    assert not re.fullmatch(code, "1234")
    client = schemas["ClientInput"]["properties"]
    uri = client["redirect_uris"]["items"]["pattern"]
    assert re.match(uri, "https://accounting.example/callback")
    assert re.match(uri, "http://localhost:8001/cb")
    assert not re.match(uri, "http://accounting.example/cb") and not re.match(uri, "")
    assert client["allowed_scopes"]["contains"] == {"const": "openid"}
    assert client["id_token_signed_response_alg"]["enum"] == ["RS256", "PS256", "ES256"]
    # 409 is declared wherever it can be answered.
    for operations in doc["paths"].values():
        for op in operations.values():
            assert "409" in op["responses"]


def test_sec20_blank_names_are_refused_as_the_schema_says(client, db) -> None:  # SEC-20
    world = f.World(db)
    db.commit()
    force_login(client, world.support, stepped_up=True)
    r = client.put(
        f"/api/v1/companies/{world.client_a.id}/members/{world.employee_a_membership.id}/person",
        json={
            "given_name": " ",
            "family_name": "",
            "email": "e@example.org",
            "phone": "+358401234567",
        },
        headers=api_headers(client),
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} >= {"given_name", "family_name"}
