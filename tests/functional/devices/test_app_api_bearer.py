"""SEC-26: every app-API route that takes a bearer token refuses one it never issued with a
401 problem document, and changes nothing. Found by ``POST /session/lock`` answering 204 to
``Authorization: Bearer bogus``; the test walks the OpenAPI document, so a new route is
covered the day it is added."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from portti.audit.models import AuditEvent
from support.db import fresh


def bearer_operations(app: Any) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every app-API operation that takes a bearer token, with a body its schema accepts (the
    body is checked before the token is looked up: a bad body is a 422 either way)."""
    spec = app.openapi()
    found = []
    for path, operations in spec["paths"].items():
        if not path.startswith("/app-api/"):
            continue
        for method, op in operations.items():
            if any("HTTPBearer" in s for s in op.get("security", [])):
                schema = (
                    op.get("requestBody", {})
                    .get("content", {})
                    .get("application/json", {})
                    .get("schema")
                )
                body = valid_body(spec, schema) if schema else None
                found.append((method.upper(), path, body))
    return sorted(found, key=lambda o: (o[1], o[0]))


def valid_body(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return valid_body(spec, spec["components"]["schemas"][name])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return valid_body(spec, schema[key][0])
    kind = schema.get("type")
    if kind == "object":
        return {
            name: valid_body(spec, prop)
            for name, prop in schema.get("properties", {}).items()
            if name in schema.get("required", [])
        }
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if "enum" in schema:
        return schema["enum"][0]
    return "1" * max(6, schema.get("minLength", 0))


def test_sec26_the_app_api_has_bearer_routes_to_check(app):  # SEC-26
    ops = bearer_operations(app)
    assert ("POST", "/app-api/v1/session/lock", None) in ops
    assert len(ops) >= 20


@pytest.mark.parametrize("token", ["bogus", "x" * 43, "x" * 101])
def test_sec26_every_bearer_route_refuses_a_token_it_never_issued(app, client, db, token):  # SEC-26
    before = fresh(db).scalar(select(func.count()).select_from(AuditEvent))
    answered = {}
    for method, path, body in bearer_operations(app):
        url = re.sub(r"\{[^}]+\}", "abc", path)
        r = client.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"})
        answered[(method, path)] = r.status_code
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["status"] == 401 and problem["code"] and problem["title"]
    assert answered
    # Nothing was recorded as done.
    assert fresh(db).scalar(select(func.count()).select_from(AuditEvent)) == before


def test_sec26_locking_a_real_session_twice_is_still_fine(
    app, client, db, settings, clock
):  # SEC-26 APP-6
    from support import factories as f
    from support.qr import phone_of

    p = f.person(db, "Lotta", "Lukko")
    f.member(db, p, f.company(db, "Lukko Oy"))
    db.commit()
    phone = phone_of(app, db, settings, clock, p)
    first = phone.http.post("/app-api/v1/session/lock", headers=phone.auth)
    again = phone.http.post("/app-api/v1/session/lock", headers=phone.auth)
    assert (first.status_code, again.status_code) == (204, 204)
    after = phone.http.get("/app-api/v1/me", headers=phone.auth)
    assert after.status_code == 401
