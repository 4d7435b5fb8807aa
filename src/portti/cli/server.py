"""``portti serve`` and ``portti worker``: the web server, and the worker that delivers the
outbox and back-channel logouts and purges what expired."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta
from pathlib import Path

import structlog
import typer
from prometheus_client import REGISTRY, start_http_server

from portti.cli.common import console, settings_or_exit


def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1),
) -> None:
    """Serve the web UI and the APIs with uvicorn."""
    # Imported when the command runs: `portti --help` and every other command start without it.
    import uvicorn

    from portti.infra.logging import configure_logging

    settings = settings_or_exit()  # fail early on bad settings
    configure_logging(settings.log_level, settings.log_format)
    # The one line that says where to find it (uvicorn's own, at INFO, is left to warnings).
    structlog.get_logger("portti.serve").info(
        "serving",
        url=f"http://{host}:{port}",
        workers=workers,
        database=settings.database_url.split(":", 1)[0],
        mode=str(settings.mode),
    )
    multiproc = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc:
        # Counts of an earlier run would be added to this one's (prometheus-client's rule:
        # empty the directory before the processes start).
        directory = Path(multiproc)
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.db"):
            old.unlink()
    uvicorn.run(
        "portti.asgi:app",
        host=host,
        port=port,
        workers=workers,
        # Portti reads X-Forwarded-* itself, from PORTTI_TRUSTED_PROXIES (web/proxy.py), and
        # writes its own access line (web/access.py); uvicorn's records go through Portti's
        # log handler (log_config=None: uvicorn installs none of its own).
        proxy_headers=False,
        log_level="warning",
        access_log=False,
        log_config=None,
        # SIGTERM: stop accepting, let requests in flight finish this long (OPS-16).
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


def worker(
    metrics_port: int | None = typer.Option(
        None, help="Serve this worker's Prometheus metrics on this port (GET /metrics)."
    ),
    metrics_host: str = typer.Option(
        "127.0.0.1", help="The address the metrics port listens on (not public by default)."
    ),
) -> None:
    """Deliver queued e-mail and SMS (the outbox) and OpenID back-channel logout tokens until
    stopped with Ctrl-C or SIGTERM.

    Run it beside `portti serve` with PORTTI_OUTBOX_IN_PROCESS=false, or as extra capacity: any
    number of workers and app instances share the queue without sending a message twice.
    """
    # Imported when the command runs: `portti --help` and every other command start without it.
    import httpx

    from portti.db.session import make_engine, make_session_factory
    from portti.infra.clock import SystemClock
    from portti.infra.logging import configure_logging
    from portti.infra.metrics import OutboxCollector
    from portti.infra.outbox_worker import build_worker
    from portti.infra.secret_material import load as load_secret_material
    from portti.infra.tls import ssl_context
    from portti.keys.services import key_store_for
    from portti.oidc_provider.backchannel import BackChannelLogout
    from portti.oidc_provider.keys import KeyStoreSigningKeys
    from portti.retention import run_purges
    from portti.web.health import OutboxFacts

    settings = settings_or_exit()
    configure_logging(settings.log_level, settings.log_format)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    clock = SystemClock()
    load_secret_material(factory, settings.secret, clock)
    outbox_worker = build_worker(settings, factory, clock)
    # OpenID back-channel logout tokens (and the ended-membership sweep) go with the outbox:
    # with PORTTI_OUTBOX_IN_PROCESS=false the app runs neither.
    logout_http = httpx.Client(
        timeout=5.0, follow_redirects=False, verify=ssl_context(settings.ca_bundle)
    )
    logouts = BackChannelLogout(
        factory,
        clock,
        KeyStoreSigningKeys(key_store_for(settings, factory, clock)),
        issuer=settings.base_url.rstrip("/"),
        secret=settings.secret,
        http=logout_http,
        sweep_every=timedelta(seconds=settings.oidc_membership_sweep_seconds),
        session_idle=timedelta(minutes=settings.session_idle_minutes),
    )

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await asyncio.gather(
            outbox_worker.run_forever(stop),
            logouts.run_forever(stop),
            run_purges(settings, engine, clock, stop),
        )

    if metrics_port is not None:
        # Its deliveries and back-channel logouts count here, not in the web processes.
        REGISTRY.register(OutboxCollector(OutboxFacts(engine, clock).read))
        start_http_server(metrics_port, addr=metrics_host)
        console.print(f"Metrics at http://{metrics_host}:{metrics_port}/metrics")
    console.print("Delivering the outbox; stop with Ctrl-C.")
    try:
        asyncio.run(run())
    finally:
        logout_http.close()
        engine.dispose()
