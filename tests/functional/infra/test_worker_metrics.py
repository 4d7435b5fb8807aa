"""`portti worker --metrics-port` serves the worker's own series (OPS-11): its deliveries count
there, not in the web processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from portti.infra.outbox import Outbox, outbox_box
from support.sinks import SmtpSink, free_port, wait_until


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_worker_serves_its_deliveries_and_the_backlog(
    settings, session_factory, clock
) -> None:  # OPS-11
    sink = SmtpSink()
    sink.start()
    with session_factory() as db:
        Outbox(db, clock, outbox_box(settings.secret)).email(
            to="eero@example.com", subject="Welcome", text="Hello", kind="invitation"
        )
        db.commit()
    port = free_port()
    env = os.environ | {
        "PORTTI_MODE": "test",
        "PORTTI_DATABASE_URL": settings.database_url,
        "PORTTI_SECRET_KEY": settings.secret_key.get_secret_value(),
        "PORTTI_MAIL_URL": sink.url,
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    portti = Path(sys.executable).parent / "portti"
    proc = subprocess.Popen(
        [str(portti), "worker", "--metrics-port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/metrics"

    def delivered() -> bool:
        try:
            got = samples(httpx.get(url, timeout=2).text)
        except httpx.HTTPError:
            return False
        key = ("portti_outbox_deliveries_total", (("channel", "email"), ("outcome", "sent")))
        return got.get(key) == 1.0

    try:
        assert wait_until(delivered, timeout=40), proc.stderr
        assert sink.count == 1
        got = samples(httpx.get(url, timeout=2).text)
        assert ("portti_outbox_backlog", ()) in got
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
            sink.stop()
    assert proc.returncode == 0
