"""Liveness, readiness and Prometheus metrics (OPS-11)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import event, text

from portti.db.session import make_engine
from portti.infra.outbox import Outbox, outbox_box
from support.network import client_at
from support.web import HTML, force_login

TOKEN = "metrics-token-" + "m" * 24


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})


def series(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def scrape(app) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:  # type: ignore[no-untyped-def]
    r = client_at(app, "127.0.0.1").get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    return series(r.text)


def checkouts(engine) -> list[int]:  # type: ignore[no-untyped-def]
    seen: list[int] = []
    event.listen(engine, "checkout", lambda *a: seen.append(1))
    return seen


def test_healthz_answers_without_touching_the_database(client, runtime):  # OPS-11
    seen = checkouts(runtime.engine)
    r = client.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    assert r.headers["cache-control"] == "no-store"
    assert seen == []
    # A probe is no browser: it is given no cookie to keep (a page is).
    assert "set-cookie" not in r.headers
    assert "set-cookie" in client.get("/login").headers


def test_readyz_is_ready_with_database_schema_and_keys(client, runtime):  # OPS-11
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "checks": {"database": "ok", "keys": "ok"}}
    # A burst of probes costs one round of checks.
    seen = checkouts(runtime.engine)
    for _ in range(5):
        assert client.get("/readyz").status_code == 200
    assert len(seen) <= 2


def test_readyz_names_an_unreachable_database_and_healthz_stays_up(client, runtime):  # OPS-11
    runtime.engine.dispose()
    runtime.engine = make_engine("postgresql://nobody:pw@127.0.0.1:1/none")
    from portti.web import health

    health.READY_CACHE_SECONDS = 0.0
    try:
        r = client.get("/readyz")
    finally:
        health.READY_CACHE_SECONDS = 1.0
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unavailable" and body["failing"] == ["database", "keys"]
    assert body["checks"]["database"].startswith("failed: OperationalError")
    assert "pw" not in body["checks"]["database"]
    assert client.get("/healthz").status_code == 200


def test_readyz_refuses_a_schema_behind_the_migrations(client, runtime):  # OPS-11
    with runtime.engine.begin() as conn:
        head = conn.scalar(text("SELECT version_num FROM alembic_version"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        r = client.get("/readyz")
    finally:  # on PostgreSQL the catalogue tables outlive the test
        with runtime.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert r.status_code == 503
    assert r.json()["failing"] == ["database"]
    assert "run `portti migrate`" in r.json()["checks"]["database"]


def test_readyz_refuses_keys_sealed_under_another_secret(settings, clock):  # OPS-11
    from fastapi.testclient import TestClient

    from portti.app import create_app

    first = create_app(settings, clock=clock)
    first.state.runtime.keys.ensure()
    # Without the stored keys (an instance pointed at another secret is refused at start, see
    # tests/functional/infra/test_secret_rotation.py), the key store is what fails.
    with first.state.runtime.engine.begin() as conn:
        conn.execute(text("DELETE FROM secret_material"))
    first.state.runtime.engine.dispose()
    other = create_app(settings.model_copy(update={"secret_key": SecretStr("another-" + "y" * 40)}))
    with TestClient(other) as c:
        r = c.get("/readyz")
    other.state.runtime.engine.dispose()
    assert r.status_code == 503
    assert r.json()["failing"] == ["keys"]


@pytest.mark.parametrize(
    ("url", "ready"), [("redis://127.0.0.1:6379/0", True), ("redis://127.0.0.1:1/0", False)]
)
def test_readyz_checks_redis_when_configured(settings, clock, url, ready):  # OPS-11
    from fastapi.testclient import TestClient

    from portti.app import create_app

    if ready:
        import redis

        try:
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        except redis.RedisError:
            if os.environ.get("CI"):
                raise
            pytest.skip("no Redis on 127.0.0.1:6379")
    app = create_app(settings.model_copy(update={"rate_limit_storage_url": url}), clock=clock)
    with TestClient(app) as c:
        r = c.get("/readyz")
    app.state.runtime.engine.dispose()
    assert (
        r.json()["checks"]["redis"] == "ok"
        if ready
        else r.json()["checks"]["redis"].startswith("failed")
    )
    # Redis is an accelerator (OPS-16): without it the instance is degraded, not unready.
    assert r.status_code == 200
    assert r.json()["status"] == ("ok" if ready else "degraded")
    assert ("degraded" in r.json()) is (not ready)


def test_metrics_only_for_configured_networks_or_the_token(app, client):  # OPS-11
    refused = client.get("/metrics")  # the test client's peer is no configured network
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "PORTTI_METRICS_NETWORKS" in refused.json()["detail"]
    assert refused.json()["code"] == "metrics_forbidden"
    finnish = client.get("/metrics", headers={"Accept-Language": "fi"}).json()
    assert (
        finnish["detail"].startswith("Mittaustiedot")
        and "PORTTI_METRICS_TOKEN" in finnish["detail"]
    )
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    ok = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and "portti_http_requests_total" in ok.text
    assert client_at(app, "127.0.0.1").get("/metrics").status_code == 200
    assert client_at(app, "::1").get("/metrics").status_code == 200
    assert client_at(app, "192.0.2.10").get("/metrics").status_code == 403


def test_metrics_count_requests_by_route_template_with_latency(app, client, world):  # OPS-11
    force_login(client, world.kh_a)
    before = scrape(app)
    for _ in range(3):
        assert client.get(f"/c/{world.client_a.id}/users", headers=HTML).status_code == 200
    client.get("/nothing/here/42")
    after = scrape(app)
    key = (
        "portti_http_requests_total",
        (("method", "GET"), ("route", "/c/{company_id}/users"), ("status", "200")),
    )
    assert after[key] - before.get(key, 0) == 3
    count = (
        "portti_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/c/{company_id}/users")),
    )
    assert after[count] - before.get(count, 0) == 3
    assert any(name == "portti_http_request_duration_seconds_bucket" for name, _ in after)
    unmatched = (
        "portti_http_requests_total",
        (("method", "GET"), ("route", "unmatched"), ("status", "404")),
    )
    assert after[unmatched] - before.get(unmatched, 0) == 1
    assert not any(str(world.client_a.id) in dict(labels).get("route", "") for _, labels in after)
    assert ("portti_db_pool_connections_in_use", ()) in after
    assert ("portti_db_pool_waiting", ()) in after


def test_metrics_show_the_outbox_backlog_and_its_oldest_age(
    app, client, runtime, settings, clock, session_factory
):  # OPS-11
    from datetime import timedelta

    from portti.web import health

    health.OUTBOX_CACHE_SECONDS = 0.0
    try:
        assert scrape(app)[("portti_outbox_backlog", ())] == 0
        with session_factory() as db:
            Outbox(db, clock, outbox_box(settings.secret)).sms(
                to="+358401234567", text="x", kind="sms_code"
            )
            db.commit()
        clock.advance(timedelta(seconds=90))
        got = scrape(app)
    finally:
        health.OUTBOX_CACHE_SECONDS = 5.0
    assert got[("portti_outbox_backlog", ())] == 1
    assert 89 <= got[("portti_outbox_oldest_age_seconds", ())] <= 120


def test_metrics_scrapes_share_one_outbox_query(app, runtime, monkeypatch):  # OPS-11
    from portti.web import health

    # Scrapes within the window share the count. The window is set long here: six scrapes on a
    # machine whose cores the suite keeps busy can outlast the 5-s default.
    monkeypatch.setattr(health, "OUTBOX_CACHE_SECONDS", 3600.0)
    scrape(app)
    seen = checkouts(runtime.engine)
    for _ in range(5):
        scrape(app)
    assert seen == [], "each scrape opened a database connection"


def test_rate_limit_refusals_are_counted_by_limit(app, runtime):  # OPS-11
    from portti.errors import RateLimited

    before = scrape(app).get(("portti_rate_limit_refusals_total", (("limit", "test-limit"),)), 0)
    with pytest.raises(RateLimited):
        for _ in range(3):
            runtime.limiter.hit("2/minute", "test-limit", "k")
    after = scrape(app)[("portti_rate_limit_refusals_total", (("limit", "test-limit"),))]
    assert after - before == 1


def test_multiprocess_mode_adds_up_every_process(tmp_path: Path):  # OPS-11
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = textwrap.dedent(
        """
        from portti.infra import metrics
        metrics.HTTP_REQUESTS.labels("GET", "/login", "200").inc(2)
        metrics.OIDC_TOKENS.labels("authorization_code").inc()
        """
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, check=True, timeout=60)
    show = "from portti.infra import metrics; import sys; sys.stdout.write(metrics.render([]).decode())"
    out = subprocess.run(
        [sys.executable, "-c", show],
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    got = series(out)
    assert (
        got[
            (
                "portti_http_requests_total",
                (("method", "GET"), ("route", "/login"), ("status", "200")),
            )
        ]
        == 4
    )
    assert got[("portti_oidc_tokens_issued_total", (("grant", "authorization_code"),))] == 2
