"""Prometheus metrics for operators (OPS-11): what each series counts, and how they are read.

The series are module-level objects, as prometheus-client means them to be: each process counts
into its own, and with ``PROMETHEUS_MULTIPROC_DIR`` set (several uvicorn workers, or a worker
beside the web processes on one host) every process writes to memory-mapped files in that
directory and ``/metrics`` adds them up (``render``). Counting is an increment under a lock, a
few hundred nanoseconds: the services call these directly at the point the thing happens.

Nothing here holds a secret or a person: labels are route templates, statuses, outcomes,
channel and limit names.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

__all__ = ["CONTENT_TYPE_LATEST", "render"]

# Request latency buckets (seconds): most pages answer in milliseconds, a login at an identity
# provider in a second or two.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "portti_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "portti_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by method and route template",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
DB_POOL_IN_USE = Gauge(
    "portti_db_pool_connections_in_use",
    "Database connections checked out of the pool (summed over live processes)",
    multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "portti_db_pool_waiting",
    "Threads waiting for a database connection from the pool (summed over live processes)",
    multiprocess_mode="livesum",
)
QR_LOGINS = Counter(
    "portti_qr_logins",
    "QR logins (and step-ups) by outcome: started, approved, refused, expired",
    ["outcome"],
)
APP_APPROVALS = Counter(
    "portti_app_approvals",
    "Logins approved in the app, by how the person confirmed (pin, biometric)",
    ["method"],
)
INVITATIONS_SENT = Counter("portti_invitations_sent", "Invitations sent to the app")
DELIVERIES = Counter(
    "portti_outbox_deliveries",
    "Outbox delivery attempts by channel (email, sms) and outcome (sent, retry, failed)",
    ["channel", "outcome"],
)
RATE_LIMITED = Counter(
    "portti_rate_limit_refusals",
    "Requests refused by a rate limit, by the limit's name",
    ["limit"],
)
BACKCHANNEL_LOGOUTS = Counter(
    "portti_backchannel_logouts",
    "Back-channel logout token deliveries to applications by outcome (sent, retry, failed)",
    ["outcome"],
)
ADMISSION_REFUSALS = Counter(
    "portti_admission_refusals",
    "Requests answered 503 busy at the admission gate, by queue (login, other)",
    ["queue"],
)
ADMISSION_WAITING = Gauge(
    "portti_admission_waiting",
    "Requests waiting at the admission gate now, by queue (summed over live processes)",
    ["queue"],
    multiprocess_mode="livesum",
)
OIDC_TOKENS = Counter(
    "portti_oidc_tokens_issued",
    "Token responses issued to applications, by grant type",
    ["grant"],
)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class OutboxCollector(Collector):
    """The outbox's backlog and the age of its oldest waiting message, read at scrape time
    through ``read`` (the caller caches it: a scrape must not cost a query each time)."""

    def __init__(self, read: Callable[[], tuple[int, float]]) -> None:
        self.read = read

    def collect(self):  # type: ignore[no-untyped-def]  # prometheus-client's own signature
        try:
            backlog, age = self.read()
        except Exception:  # the database is away: /readyz says so; the other series still count
            return
        yield GaugeMetricFamily(
            "portti_outbox_backlog", "Messages waiting in the outbox (e-mail and SMS)", backlog
        )
        yield GaugeMetricFamily(
            "portti_outbox_oldest_age_seconds",
            "Age of the oldest message waiting in the outbox (0 when none waits)",
            age,
        )


def render(extra: list[Collector]) -> bytes:
    """The exposition: this process's series, or every process's with multiprocess mode, and
    the ``extra`` collectors (facts of the shared database, the same from any process)."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        own = generate_latest(registry)
    else:
        own = generate_latest(REGISTRY)
    shared = CollectorRegistry(auto_describe=False)
    for collector in extra:
        shared.register(collector)
    return own + generate_latest(shared)
