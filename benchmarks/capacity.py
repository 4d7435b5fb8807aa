"""Capacity (OPS-16): one ``portti serve`` under a concurrency ramp, on SQLite or PostgreSQL.

At each step, ``C`` clients at once, for ``--seconds``: seven in eight fetch a company's *Users
and roles* page as its logged-in KH (the members list, keep-alive connections, one request
after another), the others log in with QR codes approved by the app (a browser starts the
login and listens on its event stream, the app scans and approves by biometrics: the helpers of
``qr_login.py``); a prober asks ``/healthz`` every 20 ms all along. Counted: answers by status,
timeouts (no answer within ``--timeout``), latency; a saturated step should answer 503 with
``Retry-After`` at once rather than hang.

Targets: no 5xx and no timeout at any step; members list p99 at 256 at once ≤ 2 s; ``/healthz``
p99 < 100 ms throughout.

    .venv/bin/python benchmarks/capacity.py [--postgresql | --database-url URL]
        [--steps 8,16,32,64,128,256,512] [--seconds 10] [--members 2000] [--smoke]

``--smoke`` runs a few seconds at small counts and exits 1 on any 5xx, timeout or error (the
test suite runs it: tests/benchmarks/test_smoke.py); it checks completion, never timing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import qr_login
import rawhttp
from benchdb import benchmark_database
from invitations import seed

from portti.audit.services import RequestContext
from portti.db.session import make_engine, make_session_factory
from portti.infra.clock import SystemClock
from portti.weblogin.sessions import SessionService

STEPS = [8, 16, 32, 64, 128, 256, 512]
TARGET_P99_AT_256_S = 2.0
TARGET_HEALTHZ_P99_MS = 100.0


@dataclass
class Step:
    concurrency: int
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    timeouts: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    members: list[float] = field(default_factory=list)
    logins: list[float] = field(default_factory=list)
    healthz: list[float] = field(default_factory=list)
    refusals: list[float] = field(default_factory=list)  # how long a 503 took

    @property
    def failures(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500) + self.timeouts

    def count(self, status: int, took: float) -> None:
        self.statuses[status] += 1
        if status == 503:
            self.refusals.append(took)


def kh_session(database_url: str, person_id: int) -> str:
    """A web session of the company's KH, made as the login callback makes one."""
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as db:
            sessions = SessionService(
                db, SystemClock(), idle=timedelta(minutes=30), absolute=timedelta(hours=12)
            )
            token, _ = sessions.start(
                person_id, method="oidc:fi_bank", strong=True, ctx=RequestContext(ip="127.0.0.1")
            )
            db.commit()
    finally:
        engine.dispose()
    return token


async def members_client(
    url: str, path: str, cookie: str, step: Step, deadline: float, timeout: float
) -> None:
    conn: rawhttp.Connection | None = None
    headers = {"Cookie": cookie, "Accept": "text/html"}
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            if conn is None:
                conn = await asyncio.wait_for(rawhttp.Connection.open(url), timeout)
            status, head, _ = await asyncio.wait_for(
                conn.request("GET", path, headers=headers), timeout
            )
        except TimeoutError:
            step.timeouts += 1
            conn = _drop(conn)
            continue
        except (OSError, asyncio.IncompleteReadError) as exc:
            step.errors[type(exc).__name__] += 1
            conn = _drop(conn)
            await asyncio.sleep(0.05)
            continue
        took = time.perf_counter() - started
        step.count(status, took)
        if status == 200:
            step.members.append(took)
        elif status == 503:
            await asyncio.sleep(float(head.get("retry-after", "1")))
        if head.get("connection") == "close":
            conn = _drop(conn)
    _drop(conn)


def _drop(conn: rawhttp.Connection | None) -> None:
    if conn is not None:
        conn.close()


async def qr_client(
    server: qr_login.Server,
    http: httpx.AsyncClient,
    apps_http: rawhttp.Pool,
    app: qr_login.App,
    step: Step,
    deadline: float,
    timeout: float,
) -> None:
    """QR logins one after another: start, listen, scan, approve, hear "approved"."""
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        browser: qr_login.Browser | None = None
        try:
            browser = await asyncio.wait_for(
                qr_login.open_browser(http, server.settings, retry_busy=False), timeout
            )
            step.count(200, 0)
            browser.task = asyncio.create_task(qr_login.listen(server.url, browser))
            await qr_login.wait_for(browser, "pending", timeout)
            number, nonce = await asyncio.wait_for(
                qr_login.scan(http, server.settings, app, browser), timeout
            )
            step.count(200, 0)
            await asyncio.wait_for(
                qr_login.approve(apps_http, app, browser, number, nonce, pin=False), timeout
            )
            step.count(200, 0)
            await qr_login.wait_for(browser, "approved", timeout)
            step.logins.append(time.perf_counter() - started)
        except TimeoutError:
            step.timeouts += 1
        except httpx.HTTPStatusError as exc:
            step.count(exc.response.status_code, time.perf_counter() - started)
            await asyncio.sleep(1)
        except rawhttp.HttpError as exc:
            step.count(int(str(exc).split()[1].rstrip(":")), time.perf_counter() - started)
            await asyncio.sleep(1)
        except RuntimeError as exc:  # qr_login.scan: "scan: <status> <body>"
            status = str(exc).split()[1]
            if not status.isdigit():
                raise
            step.count(int(status), time.perf_counter() - started)
            await asyncio.sleep(1)
        except (OSError, asyncio.IncompleteReadError, httpx.TransportError) as exc:
            step.errors[type(exc).__name__] += 1
            await asyncio.sleep(0.05)
        finally:
            if browser is not None and browser.task is not None:
                browser.task.cancel()
                await asyncio.gather(browser.task, return_exceptions=True)


async def prober(url: str, step: Step, deadline: float) -> None:
    conn = await rawhttp.Connection.open(url)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                status, _, _ = await asyncio.wait_for(conn.request("GET", "/healthz"), 5)
            except TimeoutError:
                step.timeouts += 1
                conn.close()
                conn = await rawhttp.Connection.open(url)
                continue
            step.healthz.append(time.perf_counter() - started)
            if status != 200:
                step.count(status, step.healthz[-1])
            await asyncio.sleep(0.02)
    finally:
        conn.close()


async def run_step(
    server: qr_login.Server,
    path: str,
    cookie: str,
    apps: list[qr_login.App],
    concurrency: int,
    seconds: float,
    timeout: float,
) -> Step:
    step = Step(concurrency)
    qr_clients = min(len(apps), max(1, concurrency // 8))
    limits = httpx.Limits(
        max_connections=qr_clients * 2 + 10, keepalive_expiry=qr_login.KEEPALIVE_S
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=timeout, limits=limits) as http:
        apps_http = rawhttp.Pool(server.url)
        started = time.perf_counter()
        deadline = started + seconds
        chosen = random.sample(apps, qr_clients)
        await asyncio.gather(
            prober(server.url, step, deadline),
            *(
                members_client(server.url, path, cookie, step, deadline, timeout)
                for _ in range(concurrency - qr_clients)
            ),
            *(qr_client(server, http, apps_http, a, step, deadline, timeout) for a in chosen),
        )
        step.seconds = time.perf_counter() - started
        apps_http.close()
    return step


def report(step: Step) -> None:
    pct, ms = qr_login.pct, qr_login.ms
    fivexx = {s: n for s, n in sorted(step.statuses.items()) if s >= 500}
    print(
        f"  {step.concurrency:>4} at once: members list {len(step.members) / step.seconds:>6,.0f}/s "
        f"p50 {ms(pct(step.members, 50)) if step.members else '-':>9} "
        f"p99 {ms(pct(step.members, 99)) if step.members else '-':>9}; "
        f"QR logins {len(step.logins):>4} "
        f"p99 {ms(pct(step.logins, 99)) if step.logins else '-':>9}; "
        f"/healthz p99 {ms(pct(step.healthz, 99)) if step.healthz else '-':>8}; "
        f"5xx {fivexx or 0}, timeouts {step.timeouts}"
        + (f", 503 answered within p99 {ms(pct(step.refusals, 99))}" if step.refusals else "")
        + (f", errors {dict(step.errors)}" if step.errors else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgresql", action="store_true", help="a scratch PostgreSQL database")
    parser.add_argument("--database-url", help="a database to use (migrated here)")
    parser.add_argument("--steps", default=",".join(map(str, STEPS)))
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each step")
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--apps", type=int, default=64, help="persons with an app, for QR logins")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds without an answer")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PORTTI_NAME=VALUE",
        help="a setting for the server (e.g. PORTTI_MAX_CONCURRENT_REQUESTS=8)",
    )
    parser.add_argument("--smoke", action="store_true", help="a few seconds, small counts")
    args = parser.parse_args()
    if args.smoke:
        args.steps, args.seconds, args.members, args.apps = "4,16", 1.5, 30, 4
    steps = [int(s) for s in args.steps.split(",")]

    kind = (
        "PostgreSQL"
        if args.postgresql or (args.database_url or "").startswith("postgres")
        else "SQLite"
    )
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; one "
        f"uvicorn worker, {kind}, the server's settings {' '.join(args.set) or 'by default'}; "
        "the load generator runs on the same machine"
    )
    with (
        benchmark_database(args.database_url, args.postgresql, prefix="portti_capacity") as db_url,
        tempfile.TemporaryDirectory(prefix="portti-capacity-") as tmp,
    ):
        server = qr_login.start_server(
            Path(tmp),
            database_url=db_url,
            settings=dict(s.split("=", 1) for s in args.set),
        )
        failed = False
        try:
            engine = make_engine(db_url)
            seeded = seed(engine, args.members)
            engine.dispose()
            cookie = f"portti_session={kh_session(db_url, seeded.kh_person_id)}"
            apps = qr_login.seed_apps(server.settings, args.apps, label="cap")
            path = f"/c/{seeded.company_id}/users"
            print(
                f"{args.members:,} members, {args.apps} apps; {args.seconds:g} s a step: 7 in 8 "
                "clients fetch the members list, 1 in 8 log in by QR; /healthz every 20 ms"
            )
            results = []
            for concurrency in steps:
                step = qr_login.run_loop(
                    run_step(server, path, cookie, apps, concurrency, args.seconds, args.timeout)
                )
                results.append(step)
                report(step)
            bad = [s for s in results if s.failures or s.errors]
            at_256 = [s for s in results if s.concurrency == 256 and s.members]
            health = [h for s in results for h in s.healthz]
            print(
                f"targets: no 5xx or timeout at any step: {'met' if not bad else 'NOT met'}; "
                + (
                    f"members p99 at 256 ≤ {TARGET_P99_AT_256_S:g} s: "
                    f"{'met' if qr_login.pct(at_256[0].members, 99) <= TARGET_P99_AT_256_S else 'NOT met'}; "
                    if at_256
                    else ""
                )
                + f"/healthz p99 < {TARGET_HEALTHZ_P99_MS:g} ms: "
                + (
                    "met"
                    if health and qr_login.pct(health, 99) * 1000 < TARGET_HEALTHZ_P99_MS
                    else "NOT met"
                )
            )
            failed = bool(bad) or not all(s.members for s in results)
            if "database is locked" in server.log.read_text(errors="replace"):
                print("the server log says 'database is locked'")
                failed = True
        except BaseException:
            print("\n--- server log (tail) ---\n" + server.log.read_text(errors="replace")[-4000:])
            raise
        finally:
            server.stop()
    if args.smoke and failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
