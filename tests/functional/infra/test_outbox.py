"""The transactional outbox and its worker against a real SMTP server (aiosmtpd), on the test
database (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy import text as sql
from sqlalchemy.orm import Session, sessionmaker

from portti.config import Settings
from portti.db.session import make_engine, make_session_factory
from portti.infra.clock import OffsetClock
from portti.infra.devmailbox import make_dev_mailbox
from portti.infra.mail import make_mailer
from portti.infra.outbox import Outbox, OutboxMessage, OutboxWakeup, failed_messages, outbox_box
from portti.infra.outbox_worker import OutboxWorker, retry_delay
from portti.infra.sms import make_sms_sender
from support.sinks import SmtpSink

CODE = "8362 0194 5512 0047"


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


def make_worker(
    settings: Settings,
    session_factory: sessionmaker[Session],
    clock: OffsetClock,
    sink: SmtpSink | None = None,
    **options: object,
) -> OutboxWorker:
    s = settings.model_copy(update={"mail_url": sink.url}) if sink else settings
    return OutboxWorker(
        session_factory,
        clock,
        outbox_box(settings.secret),
        mailer=make_mailer(s, session_factory, clock),
        sms=make_sms_sender(s, session_factory, clock),
        max_attempts=settings.outbox_max_attempts,
        **options,  # type: ignore[arg-type]
    )


def queue_emails(
    settings: Settings,
    session_factory: sessionmaker[Session],
    clock: OffsetClock,
    n: int = 1,
    **extra: object,
) -> list[int]:
    """Each message committed in its own transaction, as request handlers do."""
    ids = []
    for i in range(n):
        with session_factory() as db:
            m = Outbox(db, clock, outbox_box(settings.secret)).email(
                to=f"p{i}@example.com",
                subject=f"Message {i}",
                text=f"Body {i}: your code is {CODE}",
                html=f"<p>Body {i}: your code is <b>{CODE}</b></p>",
                kind="invitation",
                **extra,  # type: ignore[arg-type]
            )
            db.commit()
            ids.append(m.id)
    return ids


def messages(session_factory: sessionmaker[Session]) -> list[OutboxMessage]:
    with session_factory() as db:
        return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def run_once(worker: OutboxWorker) -> int:
    return asyncio.run(worker.run_once())


def test_rolled_back_message_is_never_sent(
    settings, session_factory, clock, smtp_sink
) -> None:  # INV-7
    with session_factory() as db:
        Outbox(db, clock, outbox_box(settings.secret)).email(
            to="a@example.com", subject="S", text="t", kind="invitation"
        )
        db.rollback()
    assert run_once(make_worker(settings, session_factory, clock, smtp_sink)) == 0
    assert messages(session_factory) == []
    assert smtp_sink.count == 0


def test_committed_message_is_delivered_and_its_body_erased(
    settings, session_factory, clock, smtp_sink
) -> None:  # INV-7 OPS-4
    (mid,) = queue_emails(settings, session_factory, clock, company_id=5, person_id=9)
    with session_factory() as db:
        row = db.execute(sql("SELECT * FROM outbox_messages")).mappings().one()
    assert row["status"] == "pending" and row["sealed_body"]
    for variant in (CODE, CODE.replace(" ", "")):
        assert not any(variant in str(value) for value in row.values())

    assert run_once(make_worker(settings, session_factory, clock, smtp_sink)) == 1

    (got,) = smtp_sink.received()
    assert (got.to, got.subject) == ("p0@example.com", "Message 0")
    assert CODE in got.text and CODE in (got.html or "")
    (m,) = messages(session_factory)
    assert (m.id, m.status, m.attempts, m.company_id, m.person_id) == (mid, "sent", 1, 5, 9)
    assert m.sealed_body is None and m.lease_until is None and m.last_error is None
    assert m.sent_at is not None
    assert run_once(make_worker(settings, session_factory, clock, smtp_sink)) == 0
    assert smtp_sink.count == 1


def test_transient_failure_is_retried_with_back_off(
    settings, session_factory, clock, smtp_sink
) -> None:  # INV-7
    worker = make_worker(settings, session_factory, clock, smtp_sink)
    queue_emails(settings, session_factory, clock)
    smtp_sink.stop()
    before = clock.now()
    assert run_once(worker) == 1
    (m,) = messages(session_factory)
    assert (m.status, m.attempts) == ("pending", 1)
    assert m.last_error is not None and m.last_error.startswith("smtp: cannot connect")
    assert CODE not in m.last_error
    assert m.sealed_body is not None  # kept for the next attempt
    delay = (m.next_attempt_at - before).total_seconds()
    assert 4 * 0.8 <= delay <= 4 * 1.2 + 1  # 2 s × 2^1, ±20 %

    assert run_once(worker) == 0  # not due yet
    clock.advance(timedelta(seconds=3))
    assert run_once(worker) == 0
    clock.advance(timedelta(seconds=3))
    assert run_once(worker) == 1  # second attempt, still down
    (m,) = messages(session_factory)
    assert (m.status, m.attempts) == ("pending", 2)
    assert 8 * 0.8 <= (m.next_attempt_at - clock.now()).total_seconds() <= 8 * 1.2 + 1

    smtp_sink.start()
    clock.advance(timedelta(seconds=10))
    assert run_once(worker) == 1
    (m,) = messages(session_factory)
    assert (m.status, m.attempts, m.sealed_body) == ("sent", 3, None)
    assert smtp_sink.count == 1


def test_retry_delay_doubles_up_to_ten_minutes_with_jitter() -> None:  # INV-7
    rng = random.Random(7)
    for attempts in range(1, 30):
        expected = min(2 * 2**attempts, 600)
        for _ in range(20):
            got = retry_delay(attempts, rng).total_seconds()
            assert expected * 0.8 <= got <= expected * 1.2


def test_message_fails_after_max_attempts_and_is_listed_for_operators(
    settings, session_factory, clock, smtp_sink, db
) -> None:  # INV-7 OPS-4
    settings = settings.model_copy(update={"outbox_max_attempts": 3})
    worker = make_worker(settings, session_factory, clock, smtp_sink)
    (mid,) = queue_emails(settings, session_factory, clock, company_id=7)
    queue_emails(settings, session_factory, clock, company_id=8)
    smtp_sink.stop()
    for _ in range(10):
        run_once(worker)
        clock.advance(timedelta(minutes=15))
    rows = messages(session_factory)
    assert [(m.status, m.attempts) for m in rows] == [("failed", 3), ("failed", 3)]
    assert all(m.sealed_body is None and m.lease_until is None for m in rows)
    assert all(m.last_error and m.last_error.startswith("smtp:") for m in rows)
    assert [m.id for m in failed_messages(db, company_id=7)] == [mid]
    assert failed_messages(db, company_id=99) == []
    assert len(failed_messages(db, company_id=None)) == 2
    smtp_sink.start()
    clock.advance(timedelta(hours=1))
    assert run_once(worker) == 0
    assert smtp_sink.count == 0


def test_permanent_refusal_fails_at_once(
    settings, session_factory, clock, smtp_sink
) -> None:  # INV-7
    smtp_sink.refuse = {"p0@example.com": "550 5.1.1 No such user"}
    queue_emails(settings, session_factory, clock)
    assert run_once(make_worker(settings, session_factory, clock, smtp_sink)) == 1
    (m,) = messages(session_factory)
    assert (m.status, m.attempts, m.sealed_body) == ("failed", 1, None)
    assert m.last_error == "smtp: recipient refused: 550 5.1.1 No such user"


def test_slow_delivery_is_cut_short_inside_the_lease(
    settings, session_factory, clock, smtp_sink
) -> None:  # INV-7
    smtp_sink.delay = 3.0
    worker = make_worker(settings, session_factory, clock, smtp_sink, lease=timedelta(seconds=2))
    queue_emails(settings, session_factory, clock)
    started = time.monotonic()
    assert run_once(worker) == 1
    assert time.monotonic() - started < 2  # 75 % of the lease
    (m,) = messages(session_factory)
    assert (m.status, m.attempts, m.last_error) == ("pending", 1, "delivery timed out")


def test_message_left_sending_is_retried_after_its_lease(
    settings, session_factory, clock, smtp_sink
) -> None:  # INV-7
    (mid,) = queue_emails(settings, session_factory, clock)
    # What a worker that died after claiming leaves behind.
    with session_factory() as db, db.begin():
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == mid)
            .values(status="sending", attempts=1, lease_until=clock.now() + timedelta(seconds=60))
        )
    worker = make_worker(settings, session_factory, clock, smtp_sink)
    assert run_once(worker) == 0  # the lease still holds
    clock.advance(timedelta(seconds=59))
    assert run_once(worker) == 0
    clock.advance(timedelta(seconds=2))
    assert run_once(worker) == 1
    (m,) = messages(session_factory)
    assert (m.status, m.attempts, m.sealed_body) == ("sent", 2, None)
    assert smtp_sink.count == 1


def test_interrupted_last_attempt_is_not_repeated(
    settings, session_factory, clock, smtp_sink
) -> None:  # INV-7
    (mid,) = queue_emails(settings, session_factory, clock)
    with session_factory() as db, db.begin():
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == mid)
            .values(
                status="sending", attempts=settings.outbox_max_attempts, lease_until=clock.now()
            )
        )
    clock.advance(timedelta(seconds=1))
    assert run_once(make_worker(settings, session_factory, clock, smtp_sink)) == 1
    (m,) = messages(session_factory)
    assert (m.status, m.sealed_body) == ("failed", None)
    assert m.last_error == "gave up: the last attempt was interrupted"
    assert smtp_sink.count == 0


def test_concurrent_claims_never_overlap(
    settings, clock, database_url, session_factory, smtp_sink
) -> None:  # INV-7
    engines = [make_engine(database_url) for _ in range(4)]
    workers = [
        # 4 × 10 ≥ 30: every message is claimed in one round, however the claims interleave.
        make_worker(settings, make_session_factory(e), clock, smtp_sink, batch_size=10)
        for e in engines
    ]
    try:
        for _round in range(3):
            ids = queue_emails(settings, session_factory, clock, n=30)
            barrier = threading.Barrier(len(workers))
            claimed: list[list[int]] = [[] for _ in workers]

            def claim(i: int) -> None:
                barrier.wait()
                claimed[i] = [c.id for c in workers[i]._claim()]

            threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(workers))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            everything = [mid for ids_ in claimed for mid in ids_]
            assert sorted(everything) == sorted(ids)  # each claimed once, none left out
    finally:
        for e in engines:
            e.dispose()


@pytest.mark.slow
def test_two_workers_deliver_each_message_exactly_once(
    settings, clock, database_url, session_factory, smtp_sink
) -> None:  # INV-7
    ids = queue_emails(settings, session_factory, clock, n=60)
    engines = [make_engine(database_url) for _ in range(2)]
    workers = [
        make_worker(settings, make_session_factory(e), clock, smtp_sink, batch_size=4)
        for e in engines
    ]
    handled = [0, 0]

    def drain(i: int) -> None:
        async def loop() -> None:
            idle = 0
            while idle < 5:
                n = await workers[i].run_once()
                handled[i] += n
                idle = 0 if n else idle + 1
                if not n:
                    await asyncio.sleep(0.02)

        asyncio.run(loop())

    try:
        threads = [threading.Thread(target=drain, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        for e in engines:
            e.dispose()
    subjects = [r.subject for r in smtp_sink.received()]
    assert len(subjects) == 60
    assert sorted(subjects) == sorted(f"Message {i}" for i in range(60))
    assert sum(handled) == 60
    assert {(m.id, m.status, m.attempts) for m in messages(session_factory)} == {
        (i, "sent", 1) for i in ids
    }


def test_sms_goes_through_the_outbox_with_its_kind(
    settings, session_factory, clock
) -> None:  # INV-7 OPS-1
    with session_factory() as db:
        Outbox(db, clock, outbox_box(settings.secret)).sms(
            to="+358401234567", text=f"Code {CODE}", kind="sms_code", company_id=3
        )
        db.commit()
    assert run_once(make_worker(settings, session_factory, clock)) == 1
    (got,) = make_dev_mailbox(settings, session_factory).latest()
    assert (got.channel, got.recipient, got.text, got.kind) == (
        "sms",
        "+358401234567",
        f"Code {CODE}",
        "sms_code",
    )
    (m,) = messages(session_factory)
    assert (m.channel, m.subject, m.status, m.sealed_body) == ("sms", None, "sent", None)


def test_outbox_refuses_bad_input_and_adds_nothing(settings, db, clock) -> None:  # OPS-4
    outbox = Outbox(db, clock, outbox_box(settings.secret))
    bad = [
        {"to": "a@example.com\r\nBcc: evil@example.com", "subject": "S"},
        {"to": "a@example.com", "subject": "Hi\nBcc: evil@example.com"},
        {"to": " ", "subject": "S"},
        {"to": "a@example.com", "subject": "x" * 999},
    ]
    for fields in bad:
        with pytest.raises(ValueError):
            outbox.email(**fields, text="t", kind="invitation")
    with pytest.raises(ValueError):
        outbox.sms(to="+358401234567", text="", kind="sms_code")
    assert not db.new
    assert db.scalars(select(OutboxMessage)).all() == []


def test_notify_from_another_thread_wakes_the_idle_worker(
    settings, session_factory, clock, smtp_sink
) -> None:  # INV-7
    wakeup = OutboxWakeup()
    worker = make_worker(
        settings, session_factory, clock, smtp_sink, poll_seconds=30.0, wakeup=wakeup
    )

    async def scenario() -> float:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run_forever(stop))
        await asyncio.sleep(0.3)  # idle now, for up to 30 s
        await asyncio.to_thread(queue_emails, settings, session_factory, clock)
        started = time.monotonic()
        await asyncio.to_thread(wakeup.notify)
        while smtp_sink.count == 0 and time.monotonic() - started < 10:
            await asyncio.sleep(0.02)
        elapsed = time.monotonic() - started
        stop.set()
        await asyncio.wait_for(task, timeout=5)  # stops without waiting for the poll
        return elapsed

    assert asyncio.run(scenario()) < 5
    assert smtp_sink.count == 1


def test_notify_before_the_worker_waits_is_not_lost() -> None:  # INV-7
    wakeup = OutboxWakeup()
    wakeup.notify()

    async def wait() -> None:
        await asyncio.wait_for(wakeup.wait(), timeout=1)

    asyncio.run(wait())
