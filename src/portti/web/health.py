"""``/healthz``, ``/readyz`` and ``/metrics`` for load balancers, orchestrators and Prometheus
(OPS-11).

Plain Starlette routes ahead of the application's: no per-request database session, no unit of
work, no templates. ``/healthz`` answers that the process runs (a liveness probe restarts a
process that stopped answering, so it must not depend on the database). ``/readyz`` checks what
a request needs — the database, its schema at the migrations' head, Portti's key store — and
answers 503 naming what failed. Redis, when configured, is checked and reported too, but it is an
accelerator (OPS-16: without it logins go on, slower to hear of an approval): an unreachable Redis
makes the answer ``degraded``, still 200, so that a shared Redis's outage does not take every
instance out of the load balancer. The result is kept a second so that a
burst of probes costs one round of checks. ``/metrics`` is the Prometheus exposition, for the
networks in ``PORTTI_METRICS_NETWORKS`` or a bearer ``PORTTI_METRICS_TOKEN``.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import time
from collections.abc import Callable
from datetime import UTC
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import redis
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portti.db.migrate import alembic_config
from portti.errors import Forbidden
from portti.i18n import _l
from portti.infra import metrics
from portti.infra.logging import redact_urls
from portti.infra.outbox import OutboxMessage, OutboxStatus
from portti.web.errors import problem
from portti.web.proxy import is_in, parse_networks

if TYPE_CHECKING:
    from prometheus_client.registry import Collector
    from sqlalchemy import Engine

    from portti.infra.clock import Clock
    from portti.web.kit import Kit

READY_CACHE_SECONDS = 1.0
OUTBOX_CACHE_SECONDS = 5.0
CHECK_TIMEOUT_SECONDS = 3.0
NO_STORE = {"cache-control": "no-store"}


def pool_status(engine: Engine) -> Callable[[], tuple[int, int]]:
    """() -> (connections checked out, threads waiting for one) of the engine's pool."""
    pool: Any = engine.pool

    def read() -> tuple[int, int]:
        in_use = pool.checkedout() if hasattr(pool, "checkedout") else 0
        # QueuePool keeps its idle connections in a queue whose condition holds the waiters
        # (SQLAlchemy has no public count of them).
        condition = getattr(getattr(pool, "_pool", None), "not_empty", None)
        waiting = len(getattr(condition, "_waiters", ()))
        return int(in_use), waiting

    return read


@functools.cache
def migrations_head() -> frozenset[str]:
    """The migrations' head revisions: fixed for the process (read once, not per app)."""
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


class Readiness:
    def __init__(self, rt: Kit) -> None:
        self.rt = rt
        self.heads = migrations_head()
        self.redis_urls = sorted(
            {
                u
                for u in (rt.settings.rate_limit_storage_url, rt.settings.event_bus_url)
                if u.startswith(("redis://", "rediss://"))
            }
        )
        self._result: tuple[float, dict[str, str]] | None = None
        self._lock = asyncio.Lock()

    def _database(self) -> str:
        with self.rt.engine.connect() as conn:
            versions = set(conn.scalars(text("SELECT version_num FROM alembic_version")))
        if versions != self.heads:
            return (
                f"schema at {', '.join(sorted(versions)) or 'nothing'}, "
                f"migrations at {', '.join(sorted(self.heads))}: run `portti migrate`"
            )
        return "ok"

    def _keys(self) -> str:
        store = self.rt.keys
        store.refresh()
        for key in store.published():
            store.private_key(key.kid)  # the sealed part opens with this PORTTI_SECRET_KEY
        return "ok"

    def _redis(self, url: str) -> str:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
        return "ok"

    def _run_checks(self) -> dict[str, str]:
        checks: dict[str, Callable[[], str]] = {
            "database": self._database,
            "keys": self._keys,
        }
        for i, url in enumerate(self.redis_urls):
            checks["redis" if i == 0 else f"redis_{i + 1}"] = functools.partial(self._redis, url)
        results: dict[str, str] = {}
        for name, check in checks.items():
            if name == "keys" and results.get("database", "").startswith("failed"):
                results[name] = "not checked: the database is not ready"
                continue
            try:
                results[name] = check()
            except Exception as exc:  # each failure is named, never raised to the prober
                results[name] = f"failed: {type(exc).__name__}: {redact_urls(str(exc))[:200]}"
        return results

    async def results(self) -> dict[str, str]:
        async with self._lock:
            now = time.monotonic()
            if self._result is None or now - self._result[0] > READY_CACHE_SECONDS:
                with anyio.fail_after(CHECK_TIMEOUT_SECONDS * 4):
                    # Its own thread, not the handlers' pool: a probe must answer while every
                    # handler thread waits on the database.
                    checks = await anyio.to_thread.run_sync(
                        self._run_checks, limiter=anyio.CapacityLimiter(1)
                    )
                self._result = (time.monotonic(), checks)
            return self._result[1]


class OutboxFacts:
    """The outbox's backlog and oldest message, read at most every few seconds."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self._value: tuple[float, tuple[int, float]] | None = None

    def read(self) -> tuple[int, float]:
        now = time.monotonic()
        if self._value is not None and now - self._value[0] < OUTBOX_CACHE_SECONDS:
            return self._value[1]
        waiting = (OutboxStatus.PENDING.value, "sending")
        with self.engine.connect() as conn:
            count, oldest = conn.execute(
                select(func.count(), func.min(OutboxMessage.created_at)).where(
                    OutboxMessage.status.in_(waiting)
                )
            ).one()
        age = 0.0
        if oldest is not None:
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=UTC)
            age = max(0.0, (self.clock.now() - oldest).total_seconds())
        value = (int(count), age)
        self._value = (now, value)
        return value


def health_routes(rt: Kit) -> list[Route]:
    settings = rt.settings
    readiness = Readiness(rt)
    outbox: list[Collector] = [metrics.OutboxCollector(OutboxFacts(rt.engine, rt.clock).read)]
    networks = parse_networks(settings.metrics_networks)
    token = settings.metrics_token.get_secret_value().encode() if settings.metrics_token else None
    read_pool = pool_status(rt.engine)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"}, headers=NO_STORE)

    async def readyz(request: Request) -> Response:
        try:
            checks = await readiness.results()
        except TimeoutError:
            checks = {"database": "failed: the checks did not finish in time"}
        failing = [k for k, v in checks.items() if v != "ok" and not k.startswith("redis")]
        degraded = [k for k, v in checks.items() if v != "ok" and k.startswith("redis")]
        status = "unavailable" if failing else "degraded" if degraded else "ok"
        body: dict[str, Any] = {"status": status, "checks": checks}
        if failing:
            body["failing"] = failing
        if degraded:
            body["degraded"] = degraded
        return JSONResponse(body, status_code=503 if failing else 200, headers=NO_STORE)

    def allowed(request: Request) -> bool:
        if token is not None:
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token):
                return True
        return is_in(request.client.host if request.client else None, networks)

    async def metrics_view(request: Request) -> Response:
        if not allowed(request):
            refused = problem(
                403,
                "metrics_forbidden",
                Forbidden.title,
                _l(
                    "Metrics are served to the networks in PORTTI_METRICS_NETWORKS or with the "
                    "bearer token PORTTI_METRICS_TOKEN."
                ),
            )
            refused.headers.update({**NO_STORE, "www-authenticate": "Bearer"})
            return refused
        in_use, waiting = read_pool()
        metrics.DB_POOL_IN_USE.set(in_use)
        metrics.DB_POOL_WAITING.set(waiting)
        body = await anyio.to_thread.run_sync(
            metrics.render, outbox, limiter=anyio.CapacityLimiter(1)
        )
        return Response(body, media_type=metrics.CONTENT_TYPE_LATEST, headers=NO_STORE)

    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"], name="healthz"),
        Route("/readyz", readyz, methods=["GET", "HEAD"], name="readyz"),
        Route("/metrics", metrics_view, methods=["GET"], name="metrics"),
    ]
