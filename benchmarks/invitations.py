"""Invitations and their delivery (INV-7): how fast invitations are created while the outbox
worker delivers their e-mail over SMTP, and how long an e-mail waits between its commit and its
arrival at the mail server.

Migrates a fresh database (SQLite in a temp dir, or with ``--postgresql`` a database it creates
and drops on 127.0.0.1:5432), inserts one company, one KH and ``--invitations`` (+ ``--baseline``)
members with Core executemany, and starts an aiosmtpd ``Controller`` on a free port (port 0)
whose handler notes each message's recipient, its arrival time (``time.perf_counter()``) and the
connections (EHLOs). The server runs in a child process, as a mail server would, so that it does
not share this process's GIL; ``--sink-in-process`` runs it in a thread here instead. Then:

* baselines: an outbox row INSERT + COMMIT (``Outbox.email``, one transaction each); raw
  aiosmtplib sends to the same server — a new connection per message one at a time, 20 at a time
  (as the worker's batch), and one connection for every message;
* invitations alone: ``InvitationService.invite`` for ``--baseline`` members, each in its own
  transaction, with no worker running; then delivery alone: an ``OutboxWorker`` with
  ``SmtpMailer`` drains that backlog;
* the run: ``--invitations`` invitations created one transaction each in a thread (as the web
  handlers run in the threadpool, each calling ``outbox_wakeup.notify()`` after its commit)
  while the worker delivers on the event loop (as the in-process worker does), then the drain.

It prints invitations/s, messages delivered/s, the commit → arrival lag p50/p99/max, the ratios
to the baselines, CPU per item (in the run: the creating thread's own CPU, and the rest of the
process for delivery) and SMTP connections; it checks that no message was lost (every one
received exactly once, every row ``sent`` with its body erased) and exits non-zero if one was.
``--no-reuse`` makes the worker open a connection per message, for comparison.

    .venv/bin/python benchmarks/invitations.py [--invitations 10000] [--postgresql]
        [--database-url URL] [--baseline 1000] [--batch-size N] [--no-reuse]
        [--sink-in-process]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.controller import Controller
from benchdb import PG_ADMIN, benchmark_database  # beside this script
from sqlalchemy import Engine, delete, event, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

NOW = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 10_000
DRAIN_TIMEOUT = 300.0
# About the size of a rendered invitation (text ~1.4 kB, HTML ~2.2 kB), for the baselines.
BASELINE_TEXT = "Your sign-up code: 1234 5678 9012 3456\n" + "x" * 1400
BASELINE_HTML = "<p>Your sign-up code: 1234 5678 9012 3456</p>" + "<p>" + "x" * 2150 + "</p>"


# -- the SMTP server --------------------------------------------------------------------------


class _AnyPortController(Controller):
    """aiosmtpd on port 0: the kernel picks a free port, read back before the readiness probe."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class ArrivalSink:
    """Notes the recipient and the arrival time of every message; keeps nothing else.

    Runs in this process (a thread of its own, sharing the GIL with the code it measures) or,
    with ``in_process=False``, in a child process like a real mail server. ``perf_counter`` is
    the system-wide monotonic clock on Linux, so arrival times compare across the two.
    """

    def __init__(self, *, in_process: bool) -> None:
        self.in_process = in_process
        self.arrivals: list[tuple[str, float]] = []
        self.connections = 0  # EHLOs since the last ``take``: one per SMTP connection
        self.without_code = 0
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self._child: Any = None
        self._pipe: Any = None
        self._port = 0

    def _handler(self) -> Any:
        sink = self

        class Handler:
            async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]
                session.host_name = hostname
                with sink._lock:
                    sink.connections += 1
                return responses

            async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
                at = time.perf_counter()
                with sink._lock:
                    if b"sign-up code" not in envelope.content:
                        sink.without_code += 1
                    sink.arrivals.extend((rcpt, at) for rcpt in envelope.rcpt_tos)
                return "250 Message accepted for delivery"

        return Handler()

    def start(self) -> None:
        if self.in_process:
            self._controller = _AnyPortController(self._handler(), hostname="127.0.0.1", port=0)
            self._controller.start()
            self._port = int(self._controller.port)
            return
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._pipe, child_end = ctx.Pipe()
        self._child = ctx.Process(target=_serve_sink, args=(child_end,), daemon=True)
        self._child.start()
        self._port = self._pipe.recv()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
        if self._child is not None:
            self._pipe.send("stop")
            self._child.join(10)

    def _ask(self, what: str) -> Any:
        self._pipe.send(what)
        return self._pipe.recv()

    @property
    def port(self) -> int:
        return self._port

    @property
    def count(self) -> int:
        if not self.in_process:
            return int(self._ask("count"))
        with self._lock:
            return len(self.arrivals)

    def take(self) -> tuple[list[tuple[str, float]], int]:
        """The arrivals and the number of connections since the last call."""
        if not self.in_process:
            out, connections, without_code = self._ask("take")
            self.without_code += without_code
            return list(out), connections
        with self._lock:
            out, self.arrivals = self.arrivals, []
            connections, self.connections = self.connections, 0
        return out, connections


def _serve_sink(pipe: Any) -> None:
    """The child process: an in-process sink, answering ``count``/``take``/``stop``."""
    sink = ArrivalSink(in_process=True)
    sink.start()
    pipe.send(sink.port)
    while (what := pipe.recv()) != "stop":
        if what == "count":
            pipe.send(sink.count)
        else:
            with sink._lock:
                without_code, sink.without_code = sink.without_code, 0
            pipe.send((*sink.take(), without_code))
    sink.stop()


# -- measuring --------------------------------------------------------------------------------


@dataclass
class Rate:
    name: str
    count: int
    seconds: float
    cpu_seconds: float
    sql_per_item: float | None = None
    sessions_per_item: float | None = None  # database connection checkouts
    connections: int | None = None  # SMTP connections the server saw
    note: str = ""

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else float("inf")


@dataclass
class SqlCounter:
    """Statements and connection checkouts (one per session that touched the database), those of
    the "handlers" thread (the invitations in the run) apart from the rest (the worker)."""

    counts: Counter[tuple[str, bool]] = field(default_factory=Counter)
    on: bool = False

    def attach(self, engine: Engine) -> None:
        def counter(what: str) -> Callable[..., None]:
            def count(*_: Any) -> None:
                if self.on:
                    handlers = threading.current_thread().name.startswith("handlers")
                    self.counts[what, handlers] += 1

            return count

        event.listen(engine, "before_cursor_execute", counter("sql"))
        event.listen(engine, "checkout", counter("checkout"))

    def per(self, n: int, *, handlers: bool | None = None) -> dict[str, float]:
        """``sql_per_item`` and ``sessions_per_item`` for ``n`` items."""
        pick = [True, False] if handlers is None else [handlers]
        sql = sum(self.counts["sql", h] for h in pick)
        checkouts = sum(self.counts["checkout", h] for h in pick)
        return {"sql_per_item": sql / n, "sessions_per_item": checkouts / n}

    @contextmanager
    def counting(self) -> Iterator[SqlCounter]:
        self.counts, self.on = Counter(), True
        try:
            yield self
        finally:
            self.on = False


@contextmanager
def timed() -> Iterator[list[float]]:
    """Yields a list that holds (wall seconds, CPU seconds of this process) afterwards."""
    out: list[float] = []
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        yield out
    finally:
        out += [time.perf_counter() - t0, time.process_time() - c0]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# -- database ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    company_id: int
    kh_person_id: int
    members: list[tuple[int, str]] = field(repr=False)  # (membership id, e-mail)


def seed(engine: Engine, members: int) -> Seeded:
    """One company, its KH (user_admin) and ``members`` persons with e-mail and phone."""
    from portti.companies.listing import sort_name_of
    from portti.companies.models import Company, Membership, MembershipRole
    from portti.people.models import Person
    from portti.people.portti_id import new_portti_id

    ids: set[str] = set()
    while len(ids) < members + 1:
        ids.add(new_portti_id())
    portti_ids = list(ids)
    persons_t, memberships_t, roles_t = (
        Person.__table__,
        Membership.__table__,
        MembershipRole.__table__,
    )
    out: list[tuple[int, str]] = []
    with engine.begin() as conn:
        company_id = conn.execute(
            insert(Company.__table__).values(
                name="Benchmark Oy",
                business_id="1234567-8",
                kind="company",
                timezone="Europe/Helsinki",
                created_at=NOW,
            )
        ).inserted_primary_key[0]
        first_person = (conn.scalar(select(func.max(Person.id))) or 0) + 1
        first_membership = (conn.scalar(select(func.max(Membership.id))) or 0) + 1
        people = [("Kaisa", "Pääkäyttäjä", "kaisa.paakayttaja@example.fi")] + [
            ("Invitee", f"Number{i}", f"invitee{i}@example.fi") for i in range(members)
        ]
        for start in range(0, len(people), BATCH):
            persons, memberships, roles = [], [], []
            for i in range(start, min(start + BATCH, len(people))):
                given, family, email = people[i]
                pid, mid = first_person + i, first_membership + i
                persons.append(
                    {
                        "id": pid,
                        "portti_id": portti_ids[i],
                        "given_name": given,
                        "family_name": family,
                        "email": email,
                        "phone": f"+35840{i:07d}",
                        "contact_version": 1,
                        "created_at": NOW,
                    }
                )
                memberships.append(
                    {
                        "id": mid,
                        "company_id": company_id,
                        "person_id": pid,
                        "receives_email": True,
                        "sort_name": sort_name_of(given, family),
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                )
                roles.append(
                    {"membership_id": mid, "role_code": "user_admin" if i == 0 else "read_only"}
                )
                if i > 0:
                    out.append((mid, email))
            conn.execute(insert(persons_t), persons)
            conn.execute(insert(memberships_t), memberships)
            conn.execute(insert(roles_t), roles)
        if engine.dialect.name == "postgresql":
            for table in ("persons", "memberships", "companies"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" (SELECT max(id) FROM {table}))"
                    )
                )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return Seeded(company_id, first_person, out)


# -- the phases -------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, url: str, sink: ArrivalSink) -> None:
        from portti.config import Mode, Settings
        from portti.db.session import make_engine, make_session_factory
        from portti.infra.clock import SystemClock
        from portti.infra.logging import configure_logging
        from portti.infra.ratelimit import LimitsRateLimiter
        from portti.templating import make_templates

        self.args = args
        self.sink = sink
        self.settings = Settings(
            mode=Mode.TEST,
            database_url=url,
            base_url="http://testserver",
            secret_key="bench-secret-key-" + "x" * 32,
            outbox_in_process=False,
            mail_url=f"smtp://127.0.0.1:{sink.port}",
            log_level="WARNING",
        )
        configure_logging(self.settings.log_level)
        self.engine = make_engine(url)
        self.factory: sessionmaker[Session] = make_session_factory(self.engine)
        self.clock = SystemClock()
        self.jinja = make_templates().env
        self.limiter = LimitsRateLimiter(self.settings.rate_limit_storage_url)
        self.sql = SqlCounter()
        self.sql.attach(self.engine)

    # -- baselines --

    def outbox_inserts(self, n: int) -> Rate:
        from portti.infra.outbox import Outbox, OutboxMessage, outbox_box

        box = outbox_box(self.settings.secret)
        with self.sql.counting() as counted, timed() as t:
            for i in range(n):
                with self.factory() as db:
                    Outbox(db, self.clock, box).email(
                        to=f"baseline{i}@example.fi",
                        subject="Baseline",
                        text=BASELINE_TEXT,
                        html=BASELINE_HTML,
                        kind="baseline",
                    )
                    db.commit()
        with self.factory() as db:  # nobody is to deliver these
            db.execute(delete(OutboxMessage).where(OutboxMessage.kind == "baseline"))
            db.commit()
        return Rate(
            "outbox row INSERT + COMMIT (`Outbox.email`), one transaction each",
            n,
            *t,
            **counted.per(n),
        )

    async def smtp_sends(self, n: int, *, concurrency: int, reuse: bool) -> Rate:
        import aiosmtplib

        from portti.infra.mail import build_message

        def message(i: int) -> Any:
            return build_message(
                sender=self.settings.mail_from,
                to=f"raw{i}@example.fi",
                subject="Baseline",
                text=BASELINE_TEXT,
                html=BASELINE_HTML,
            )

        async def one_connection_each(i: int) -> None:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=self.sink.port, start_tls=False)
            await client.connect()
            await client.send_message(message(i))
            await client.quit()

        self.sink.take()
        with timed() as t:
            if reuse:
                client = aiosmtplib.SMTP(hostname="127.0.0.1", port=self.sink.port, start_tls=False)
                await client.connect()
                for i in range(n):
                    await client.send_message(message(i))
                await client.quit()
            else:
                for start in range(0, n, concurrency):
                    await asyncio.gather(
                        *(one_connection_each(i) for i in range(start, min(start + concurrency, n)))
                    )
        arrived, connections = self.sink.take()
        assert len(arrived) == n, f"SMTP baseline: {len(arrived)} of {n} arrived"
        if reuse:
            name = "raw aiosmtplib: one connection for all, one at a time"
        elif concurrency == 1:
            name = "raw aiosmtplib: new connection per message, one at a time"
        else:
            name = f"raw aiosmtplib: new connection per message, {concurrency} at a time"
        return Rate(name, n, *t, connections=connections)

    # -- invitations --

    def invite_all(
        self, seeded: Seeded, members: list[tuple[int, str]], notify: Callable[[], None] | None
    ) -> tuple[dict[str, float], float]:
        """``InvitationService.invite`` per member, each its own transaction: the commit times
        and the CPU seconds of this thread."""
        from portti.audit.services import AuditLog
        from portti.companies.actors import Actor
        from portti.infra.outbox import Outbox, outbox_box
        from portti.invitations.services import InvitationService

        box = outbox_box(self.settings.secret)
        committed: dict[str, float] = {}
        cpu = time.thread_time()
        for membership_id, email in members:
            with self.factory() as db:
                service = InvitationService(
                    db,
                    self.clock,
                    AuditLog(db, self.clock),
                    Outbox(db, self.clock, box),
                    secret=self.settings.secret,
                    limiter=self.limiter,
                    jinja=self.jinja,
                    step_up_window=self.settings.step_up_window,
                )
                actor = Actor(person_id=seeded.kh_person_id, strong_auth_at=self.clock.now())
                service.invite(actor, seeded.company_id, membership_id, identity_verified=True)
                db.commit()
            committed[email] = time.perf_counter()
            if notify is not None:
                notify()  # as the unit of work does after a commit that queued messages
        return committed, time.thread_time() - cpu

    def worker(self, wakeup: Any) -> Any:
        from portti.infra.outbox_worker import build_worker

        worker = build_worker(self.settings, self.factory, self.clock, wakeup=wakeup)
        if self.args.batch_size:
            worker.batch_size = self.args.batch_size
        return worker

    async def until_received(self, n: int) -> None:
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while self.sink.count < n:
            if time.monotonic() > deadline:
                raise SystemExit(f"LOST: only {self.sink.count} of {n} messages arrived")
            await asyncio.sleep(0.01)

    async def alone(self, seeded: Seeded, members: list[tuple[int, str]]) -> list[Rate]:
        """Invitations with no worker running, then the worker draining that backlog."""
        from portti.infra.outbox import OutboxWakeup

        n = len(members)
        with self.sql.counting() as counted, timed() as t:
            self.invite_all(seeded, members, None)
        created = Rate("invitations, no worker running", n, *t, **counted.per(n))
        self.sink.take()
        wakeup = OutboxWakeup()
        worker = self.worker(wakeup)
        stop = asyncio.Event()
        with self.sql.counting() as counted:
            with timed() as t:
                task = asyncio.create_task(worker.run_forever(stop))
                await self.until_received(n)
            stop.set()
            await task
        arrived, connections = self.sink.take()
        assert {to for to, _ in arrived} == {email for _, email in members}
        drained = Rate(
            f"delivery alone: worker drains {n:,} queued invitations",
            n,
            *t,
            **counted.per(n),
            connections=connections,
        )
        return [created, drained]

    async def together(
        self, seeded: Seeded, members: list[tuple[int, str]]
    ) -> tuple[Rate, Rate, Rate, list[float]]:
        """Invitations in a thread while the worker delivers on this loop; commit → arrival."""
        from portti.infra.outbox import OutboxWakeup

        n = len(members)
        self.sink.take()
        wakeup = OutboxWakeup()
        worker = self.worker(wakeup)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        with (
            ThreadPoolExecutor(1, thread_name_prefix="handlers") as handlers,
            self.sql.counting() as counted,
        ):
            task = asyncio.create_task(worker.run_forever(stop))
            with timed() as t_all:
                with timed() as t_create:
                    committed, creation_cpu = await loop.run_in_executor(
                        handlers, self.invite_all, seeded, members, wakeup.notify
                    )
                created_at = time.perf_counter()
                await self.until_received(n)
            stop.set()
            await task
        arrived, connections = self.sink.take()
        if len(arrived) != n or {to for to, _ in arrived} != set(committed):
            raise SystemExit(f"LOST or DUPLICATED: {len(arrived)} arrivals for {n} invitations")
        lags = [at - committed[to] for to, at in arrived]
        first_commit = min(committed.values())
        last_arrival = max(at for _, at in arrived)
        during = sum(1 for _, at in arrived if at <= created_at)
        return (
            Rate(
                "invitations while the worker delivers",
                n,
                t_create[0],
                creation_cpu,
                **counted.per(n, handlers=True),
            ),
            Rate(
                "delivered while invitations are created (first commit → last arrival)",
                n,
                last_arrival - first_commit,
                t_all[1] - creation_cpu,  # the event loop and the threads it uses
                **counted.per(n, handlers=False),
                connections=connections,
                note=f"{during:,} of {n:,} arrived before the last invitation was committed;"
                f" drain after it {last_arrival - created_at:.1f} s",
            ),
            Rate("the whole run (creation + drain)", n, *t_all),
            lags,
        )

    def check_rows(self, expected: int) -> Counter[str]:
        from portti.infra.outbox import OutboxMessage

        with self.factory() as db:
            statuses = Counter(
                dict(
                    db.execute(
                        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                    ).all()
                )
            )
            bodies = db.scalar(select(func.count()).where(OutboxMessage.sealed_body.is_not(None)))
        if statuses != Counter({"sent": expected}) or bodies:
            raise SystemExit(f"outbox rows not all sent: {dict(statuses)}, {bodies} bodies kept")
        return statuses


def print_rates(title: str, rates: list[Rate], base: Rate | None, base_name: str) -> None:
    print(f"\n{title}\n")
    print(
        f"| what | n | s | per s | × {base_name} | CPU ms / item | SQL / item"
        " | DB sessions / item | SMTP conns |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rates:
        ratio = f"{r.per_second / base.per_second:.2f}" if base else ""
        sql = f"{r.sql_per_item:.1f}" if r.sql_per_item is not None else ""
        sessions = f"{r.sessions_per_item:.2f}" if r.sessions_per_item is not None else ""
        conns = f"{r.connections:,}" if r.connections is not None else ""
        print(
            f"| {r.name} | {r.count:,} | {r.seconds:.2f} | {r.per_second:,.0f} | {ratio} |"
            f" {r.cpu_seconds / r.count * 1000:.2f} | {sql} | {sessions} | {conns} |"
        )
        if r.note:
            print(f"| ↳ {r.note} | | | | | | | | |")


# -- the run ----------------------------------------------------------------------------------


async def run(args: argparse.Namespace, url: str, sink: ArrivalSink) -> None:
    from portti.db.migrate import upgrade

    n, b = args.invitations, args.baseline
    started = time.perf_counter()
    with timed() as t_migrate:
        upgrade(url)
    bench = Bench(args, url, sink)
    with timed() as t_seed:
        seeded = seed(bench.engine, b + n)
    with bench.engine.connect() as conn:
        server = (
            f"SQLite {sqlite3.sqlite_version}"
            if bench.engine.dialect.name == "sqlite"
            else "PostgreSQL " + str(conn.exec_driver_sql("SHOW server_version").scalar())
        )
    worker = bench.worker(None)
    reuse = "one per message (no reuse)" if args.no_reuse else "reused while the worker runs"
    print(
        f"# Invitations and delivery: {server}, {n:,} invitations"
        f" (+ {b:,} for the baselines), worker batch {worker.batch_size},"
        f" SMTP connections {reuse}"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()},"
        f" load average at start {os.getloadavg()[0]:.2f}"
    )
    print(f"migrate {t_migrate[0]:.1f} s; seed {b + n + 1:,} persons {t_seed[0]:.1f} s")

    baseline_members, run_members = seeded.members[:b], seeded.members[b:]
    insert_rate = bench.outbox_inserts(b)
    smtp_one = await bench.smtp_sends(b, concurrency=1, reuse=False)
    smtp_batch = await bench.smtp_sends(b, concurrency=worker.batch_size, reuse=False)
    smtp_reuse = await bench.smtp_sends(b, concurrency=1, reuse=True)
    created_alone, drained_alone = await bench.alone(seeded, baseline_members)
    created, delivered, whole, lags = await bench.together(seeded, run_members)
    statuses = bench.check_rows(b + n)
    if sink.without_code:
        raise SystemExit(f"{sink.without_code} invitation e-mails without a sign-up code")

    print_rates(
        "Writing (each its own transaction)",
        [insert_rate, created_alone, created],
        insert_rate,
        "INSERT+COMMIT",
    )
    print_rates(
        "Delivering over SMTP (aiosmtpd "
        + ("in a thread of this process)" if sink.in_process else "in a child process)"),
        [smtp_one, smtp_batch, smtp_reuse, drained_alone, delivered],
        smtp_batch,
        f"raw {worker.batch_size} at a time",
    )
    print(
        f"\nthe whole run (creation + drain): {whole.seconds:.1f} s,"
        f" {whole.cpu_seconds / n * 1000:.2f} ms of this process's CPU per invitation"
    )
    ms = [lag * 1000 for lag in lags]
    print(f"\nCommit → arrival lag over {len(ms):,} invitation e-mails\n")
    print("| p50 ms | p90 ms | p99 ms | max ms | mean ms |")
    print("|---:|---:|---:|---:|---:|")
    print(
        f"| {quantile(ms, 0.5):,.1f} | {quantile(ms, 0.9):,.1f} | {quantile(ms, 0.99):,.1f} |"
        f" {max(ms):,.1f} | {statistics.fmean(ms):,.1f} |"
    )
    print(
        f"\nnone lost: {n:,} of {n:,} received once each; outbox rows {dict(statuses)}, no body"
        " kept"
    )
    print(
        f"load average at end {os.getloadavg()[0]:.2f};"
        f" whole run {time.perf_counter() - started:.0f} s"
    )
    bench.engine.dispose()


@asynccontextmanager
async def _not_reusing(mailer: Any) -> AsyncIterator[None]:
    yield None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invitations", type=int, default=10_000)
    parser.add_argument(
        "--baseline", type=int, default=1_000, help="messages per baseline (SMTP, INSERT, alone)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=0, help="override the worker's batch size"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database-url", help="an empty database to migrate and fill")
    where.add_argument(
        "--postgresql", action="store_true", help=f"create and drop a database on {PG_ADMIN}"
    )
    parser.add_argument(
        "--sink-in-process",
        action="store_true",
        help="run the SMTP server in a thread of this process (shares the GIL) instead of a child",
    )
    parser.add_argument(
        "--no-reuse",
        action="store_true",
        help="the worker opens a connection per message (as before connections were reused)",
    )
    parser.add_argument("--smoke", action="store_true", help="a few seconds, small counts")
    args = parser.parse_args()
    if args.smoke:  # the test suite's check that the benchmark still runs (no timing)
        args.invitations, args.baseline = 40, 20
    if args.no_reuse:
        import portti.infra.outbox

        portti.infra.outbox.reusing_connections = _not_reusing  # type: ignore[assignment]
    sink = ArrivalSink(in_process=args.sink_in_process)
    sink.start()
    try:
        with benchmark_database(
            args.database_url, args.postgresql, prefix="portti_bench_inv"
        ) as url:
            asyncio.run(run(args, url, sink))
    finally:
        sink.stop()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
