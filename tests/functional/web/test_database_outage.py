"""The database goes away (PostgreSQL refusing connections, those open cut): requests are
answered 503 with ``Retry-After`` — a problem document, or a readable page — never a 500;
liveness still answers; once the database is back the same process serves again by itself, and
what was written before the outage is still there (OPS-16)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from conftest import BACKEND, PG_ADMIN
from support.web import HTML

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql", reason="an outage of a database server: PostgreSQL"
)


@contextmanager
def database_down(database_url: str) -> Iterator[None]:
    """No new connections to the test's database, and every open one cut, until the block ends."""
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def test_a_database_outage_answers_503_and_the_instance_recovers(  # OPS-16
    kh: TestClient, world: Any, database_url: str
) -> None:
    members = f"/c/{world.client_a.id}/users"
    before = kh.get("/api/v1/me")
    assert before.status_code == 200

    with database_down(database_url):
        started = time.monotonic()
        problem = kh.get("/api/v1/me", headers={"accept": "application/json"})
        page = kh.get(members, headers=HTML)
        took = time.monotonic() - started
        health = kh.get("/healthz")

    assert problem.status_code == 503, problem.text
    assert problem.headers["content-type"] == "application/problem+json"
    assert problem.headers["retry-after"] == "5"
    body = problem.json()
    assert body["code"] == "database_unavailable" and body["status"] == 503
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == "5"
    assert "The service is temporarily unavailable" in page.text
    assert took < 10
    assert health.status_code == 200

    # Back: the pool's cut connections are replaced as they are checked out.
    after = kh.get("/api/v1/me")
    assert after.status_code == 200, after.text
    assert after.json() == before.json()
    assert kh.get(members, headers=HTML).status_code == 200


def test_the_providers_plain_endpoints_answer_503_too(  # OPS-16
    client: TestClient, database_url: str
) -> None:
    """``/oidc/authorize`` and ``/oidc/token`` run outside FastAPI's dependencies
    (``web/plain.py``): an outage reaches the same handlers."""
    with database_down(database_url):
        page = client.get("/oidc/authorize?client_id=portti-any", headers=HTML)
        token = client.post(
            "/oidc/token",
            data={"grant_type": "authorization_code", "code": "x"},
            auth=("portti-any", "secret"),
            headers={"accept": "application/json"},
        )
    assert page.status_code == 503 and page.headers["retry-after"] == "5"
    assert "The service is temporarily unavailable" in page.text
    assert token.status_code == 503 and token.headers["retry-after"] == "5"
    assert token.json()["code"] == "database_unavailable"
    assert client.get("/oidc/authorize?client_id=portti-any").status_code == 400
