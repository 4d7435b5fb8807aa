"""Retention (OPS-14): how big the database gets per 10,000 logins, with and without the purge.

Runs whole QR logins in-process (``TestClient``): a browser opens the login page, the phone types
the code shown, picks the number and approves, the browser completes and, for half of them, logs
out — every row a real login leaves (login transaction, app challenges, web session, audit
events). It runs ``--days`` simulated days of ``--logins-per-day`` logins on a clock moved a day
at a time, twice on fresh databases: once with ``portti purge`` after each day (what
``portti worker`` does every hour), once without. It prints, per day, the rows in the tables the
purge looks after and the database size (SQLite: the file after a WAL checkpoint; PostgreSQL:
``pg_database_size``), and per 10,000 logins: the growth without the purge and the steady-state
size with it. Audit events are kept a year by design (docs/operations.md, "Retention"): they are
counted apart. One phone approves every login, so the app's challenge limit (200 an hour) is
lifted for the run: the figures are storage, not speed.

    .venv/bin/python benchmarks/retention.py [--logins-per-day 2000] [--days 4] [--postgresql]
    .venv/bin/python benchmarks/retention.py --smoke     # a few seconds: completes, no figure
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from benchdb import benchmark_database  # noqa: E402  (beside this script)
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402

from portti.app import create_app  # noqa: E402
from portti.config import Mode, Settings  # noqa: E402
from portti.db.migrate import upgrade  # noqa: E402
from portti.db.session import make_engine, make_session_factory  # noqa: E402
from portti.devices import challenges  # noqa: E402
from portti.infra.clock import OffsetClock  # noqa: E402
from portti.retention import RULES, purge  # noqa: E402
from support import factories as f  # noqa: E402
from support.network import client_at  # noqa: E402
from support.qr import Phone, complete, open_qr_login, phone_of, scanned, status  # noqa: E402
from support.web import page_csrf  # noqa: E402

TRANSIENT = sorted({r.table for r in RULES})


def settings_for(url: str) -> Settings:
    return Settings(
        mode=Mode.TEST,
        database_url=url,
        base_url="http://testserver",
        secret_key="retention-benchmark-" + "k" * 32,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
        outbox_in_process=False,
    )


def size_of(engine: Engine, url: str) -> int:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return Path(path).stat().st_size
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT pg_database_size(current_database())")))


def rows_in(engine: Engine, tables: list[str]) -> int:
    with engine.connect() as conn:
        return sum(int(conn.scalar(text(f"SELECT count(*) FROM {t}"))) for t in tables)


def log_in(browser: TestClient, phone: Phone, db, settings, clock) -> Any:  # type: ignore[no-untyped-def]
    """A whole QR login as the camera does it: the page shows the QR, the phone scans it,
    picks the number the page shows and approves with the PIN; the browser completes."""
    panel = open_qr_login(browser)
    scan = scanned(phone, db, settings, clock, panel)
    number = status(browser, panel.public_id)["number"]
    approved = phone.approve(panel.public_id, number, nonce=scan["challenge"]["nonce"])
    assert approved.status_code == 200, approved.text
    return complete(browser, panel)


def run(
    url: str, logins_per_day: int, days: int, with_purge: bool
) -> list[tuple[int, int, int, int]]:
    upgrade(url)
    settings = settings_for(url)
    clock = OffsetClock()
    app = create_app(settings, clock=clock)
    engine = make_engine(url)
    out: list[tuple[int, int, int, int]] = []
    with TestClient(app):
        db = make_session_factory(engine)()
        person = f.person(db, "Rita", "Retention")
        company = f.company(db, "Retention Oy")
        f.member(db, person, company, ["bookkeeper"])
        db.commit()
        done = 0
        for day in range(days):
            # The app unlocks in the morning (an app session lasts hours, not days).
            phone = phone_of(app, db, settings, clock, person)
            for i in range(logins_per_day):
                # Each login from a browser of its own, spread over client networks (rate limits).
                browser = client_at(app, f"10.{(done // 250) % 250}.{done % 250}.{1 + day}")
                r = log_in(browser, phone, db, settings, clock)
                assert r.status_code == 303, r.text
                if i % 2:
                    out_ = browser.post("/logout", data={"csrf_token": page_csrf(browser)})
                    assert out_.status_code in (200, 303), out_.text
                done += 1
            clock.advance(timedelta(days=1))
            if with_purge:
                purge(
                    engine,
                    clock.now(),
                    grace=timedelta(hours=settings.purge_grace_hours),
                    audit_retention=timedelta(days=settings.audit_retention_days),
                    audit_export_dir=None,
                )
            out.append(
                (
                    done,
                    rows_in(engine, TRANSIENT),
                    rows_in(engine, ["audit_events"]),
                    size_of(engine, url),
                )
            )
        db.close()
    engine.dispose()
    return out


def main() -> int:
    # One phone approves every login here, far more than the 200 an hour a real app may ask
    # for: the benchmark measures storage, not the rate limits, so it lifts the app's limit.
    challenges.CHALLENGE_LIMIT_PER_DEVICE = "1000000/minute"
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("portti").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--logins-per-day", type=int, default=2000)
    p.add_argument("--days", type=int, default=4)
    p.add_argument("--postgresql", action="store_true")
    p.add_argument("--smoke", action="store_true", help="a few logins: checks it completes")
    a = p.parse_args()
    if a.smoke:
        a.logins_per_day, a.days = 6, 2
    results = {}
    for with_purge in (True, False):
        with benchmark_database(None, a.postgresql, prefix="portti_retention") as url:
            t0 = time.perf_counter()
            results[with_purge] = run(url, a.logins_per_day, a.days, with_purge)
            took = time.perf_counter() - t0
        label = "with the purge" if with_purge else "without a purge"
        print(f"\n{label} ({took:.0f} s)")
        print(f"{'day':>4} {'logins':>8} {'transient rows':>15} {'audit rows':>11} {'size':>10}")
        for day, (logins, rows, audit, size) in enumerate(results[with_purge], start=1):
            print(f"{day:>4} {logins:>8} {rows:>15} {audit:>11} {size / 1e6:>8.2f} MB")
    if a.smoke:
        assert results[True][-1][1] < results[False][-1][1], "the purge removed nothing"
        print("\nsmoke: completed")
        return 0
    per = 10_000 / a.logins_per_day / (a.days - 1)
    grow_without = (results[False][-1][3] - results[False][0][3]) * per
    grow_with = (results[True][-1][3] - results[True][0][3]) * per
    rows_without = (results[False][-1][1] - results[False][0][1]) * per
    audit_rows = (results[True][-1][2] - results[True][0][2]) * per
    print(
        f"\nper 10,000 logins a day:\n"
        f"  without a purge: +{grow_without / 1e6:.1f} MB and +{rows_without:.0f} transient rows"
        f" a day, for ever\n"
        f"  with the purge:  +{grow_with / 1e6:.1f} MB a day, which is the audit log"
        f" (+{audit_rows:.0f} events, kept {365} days, then exported and removed); the transient"
        f" tables stay at {results[True][-1][1]} rows (the last day's)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
