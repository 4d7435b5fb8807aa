"""Where the outbox worker runs: inside the app (lifespan) by default, or as `portti worker`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from portti.app import create_app
from portti.infra.devmailbox import make_dev_mailbox
from portti.infra.outbox import Outbox, outbox_box
from support.sinks import SmtpSink, wait_until

CODE = "5521 0098 7310 4426"


def queue_email(settings, session_factory, clock) -> int:  # type: ignore[no-untyped-def]
    with session_factory() as db:
        m = Outbox(db, clock, outbox_box(settings.secret)).email(
            to="eero@example.com", subject="Welcome", text=f"Code {CODE}", kind="invitation"
        )
        db.commit()
        return m.id


def test_in_process_worker_delivers_right_after_commit(settings, clock) -> None:  # INV-7 OPS-1
    settings = settings.model_copy(update={"outbox_in_process": True})
    app = create_app(settings, clock=clock)
    with TestClient(app, base_url="http://testserver") as client:
        factory = app.state.runtime.session_factory
        mailbox = make_dev_mailbox(settings, factory)
        queue_email(settings, factory, clock)
        app.state.runtime.outbox_wakeup.notify()  # as a handler does after its commit
        assert wait_until(lambda: len(mailbox.latest()) == 1, timeout=5)
        (mail,) = client.get("/dev/mailbox.json").json()
        assert (mail["to"], mail["subject"], mail["text"]) == (
            "eero@example.com",
            "Welcome",
            f"Code {CODE}",
        )
    # Leaving the client ran the shutdown: the worker stopped with the app.


def test_worker_command_delivers_and_stops_on_sigterm(
    settings, session_factory, clock
) -> None:  # INV-7 OPS-4
    sink = SmtpSink()
    sink.start()
    queue_email(settings, session_factory, clock)
    env = os.environ | {
        "PORTTI_MODE": "test",
        "PORTTI_DATABASE_URL": settings.database_url,
        "PORTTI_SECRET_KEY": settings.secret_key.get_secret_value(),
        "PORTTI_MAIL_URL": sink.url,
        "PORTTI_LOG_LEVEL": "INFO",
    }
    portti = Path(sys.executable).parent / "portti"
    proc = subprocess.Popen(
        [str(portti), "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert wait_until(lambda: sink.count == 1, timeout=30)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        sink.stop()
    assert proc.returncode == 0, err
    assert "event='outbox_delivery'" in err and "outcome='sent'" in err
    assert "kind='invitation'" in err and "attempt=1" in err
    logs = out + err
    assert CODE not in logs and "eero@example.com" not in logs
    (got,) = sink.received()
    assert got.text == f"Code {CODE}"
