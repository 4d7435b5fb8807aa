"""INV-7 must-show: e-mail queued while the SMTP server is down is delivered, each message once,
when it comes back; none is marked failed or lost."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from portti.infra.outbox import Outbox, OutboxMessage, OutboxWakeup, failed_messages, outbox_box
from portti.infra.outbox_worker import build_worker
from support.sinks import SmtpSink

N = 50


def test_no_email_is_lost_while_the_smtp_server_is_down(
    settings, session_factory, clock
) -> None:  # INV-7
    sink = SmtpSink()  # not started: the mail server is down
    settings = settings.model_copy(update={"mail_url": sink.url})
    box = outbox_box(settings.secret)
    for i in range(N):  # each with its own commit, as N separate requests would
        with session_factory() as db:
            Outbox(db, clock, box).email(
                to=f"person{i}@example.com",
                subject=f"Invitation {i}",
                text=f"Your sign-up code is {i:016d}",
                kind="invitation",
                company_id=1,
            )
            db.commit()
    wakeup = OutboxWakeup()
    worker = build_worker(settings, session_factory, clock, wakeup=wakeup)

    def snapshot() -> list[OutboxMessage]:
        with session_factory() as db:
            return list(db.scalars(select(OutboxMessage)))

    def busy(rows: list[OutboxMessage]) -> bool:
        """The worker still has something in hand or due at the clock's present time."""
        now = clock.now()
        return any(
            m.status == "sending" or (m.status == "pending" and m.next_attempt_at <= now)
            for m in rows
        )

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run_forever(stop))
        deadline = time.monotonic() + 60

        # The outage: every attempt fails and is rescheduled. Time moves on only once the
        # worker has done what was due.
        while True:
            assert time.monotonic() < deadline
            rows = await asyncio.to_thread(snapshot)
            if busy(rows):
                await asyncio.sleep(0.02)
                continue
            if min(m.attempts for m in rows) >= 3:
                break
            clock.advance(timedelta(minutes=15))  # past the longest back-off
            wakeup.notify()
        assert sink.count == 0
        assert Counter((m.status, m.attempts) for m in rows) == {("pending", 3): N}
        assert all(m.last_error and "cannot connect" in m.last_error for m in rows)
        assert all(m.sealed_body for m in rows)

        # The server is back: everything goes out.
        await asyncio.to_thread(sink.start)
        while True:
            assert time.monotonic() < deadline
            rows = await asyncio.to_thread(snapshot)
            if all(m.status == "sent" for m in rows):
                break
            if busy(rows):
                await asyncio.sleep(0.02)
                continue
            clock.advance(timedelta(minutes=15))
            wakeup.notify()
        stop.set()
        await asyncio.wait_for(task, timeout=10)

    try:
        asyncio.run(scenario())
        # Let anything still in flight (there should be nothing) reach the server.
        time.sleep(0.2)
        received = sink.received()
    finally:
        sink.stop()

    assert len(received) == N
    assert len({(r.to, r.subject) for r in received}) == N
    assert {(r.to, r.subject, r.text) for r in received} == {
        (f"person{i}@example.com", f"Invitation {i}", f"Your sign-up code is {i:016d}")
        for i in range(N)
    }
    rows = snapshot()
    assert len(rows) == N
    assert Counter(m.status for m in rows) == {"sent": N}
    assert all(m.sealed_body is None and m.sent_at is not None for m in rows)
    with session_factory() as db:
        assert failed_messages(db, company_id=None) == []
