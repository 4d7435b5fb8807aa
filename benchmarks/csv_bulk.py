"""Add users from a file (PRV-4): seconds from upload to added users for a file of ``--rows``
users, end to end through the web routes.

Migrates a fresh database (SQLite in a temp dir, or with ``--postgresql`` a database it creates
and drops on 127.0.0.1:5432), makes one company and its KH (a web session stepped up, as after
"Authenticate to add users"), writes a CSV of ``--rows`` new users (a Finnish personal identity
code for three in four, an Estonian personal identification code for the rest; two roles each
by their Finnish names; a validity window for one in five) and then, in-process through
``TestClient`` as a browser posts it:

* the preview: the upload page, then the file posted (read, every row checked, nothing written);
* the add: "Add N users" posted with the sealed upload (every row checked again, then added with
  its audit rows, one transaction);

and prints the seconds of each, rows/s, SQL statements per row, and checks that every row was
added (memberships, person and membership audit rows carrying their row numbers). Target
(PRV-4): preview and add of 1,000 rows under 10 s on SQLite.

    .venv/bin/python benchmarks/csv_bulk.py [--rows 1000] [--database-url URL | --postgresql]
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from benchdb import PG_ADMIN, benchmark_database  # beside this script
from sqlalchemy import Engine, event, func, select

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 10.0
NOW = datetime(2026, 1, 1, tzinfo=UTC)


class SqlCounter:
    def __init__(self, engine: Engine) -> None:
        self.count = 0

        @event.listens_for(engine, "before_cursor_execute")
        def _count(*_: Any) -> None:
            self.count += 1


def estonian_code(n: int) -> str:
    from stdnum.ee import ik

    born = date(1960 + n % 40, 1 + n % 12, 1 + n % 28)
    base = f"{3 + n % 2}{born:%y%m%d}{n % 1000:03d}"
    return base + ik.calc_check_digit(base + "0")  # it reads all but the last digit


def users_file(rows: int) -> bytes:
    from portti.people.identity_numbers import make_hetu

    lines = ["Etunimi;Sukunimi;Henkilötunnus tai muu tunniste;Myöntänyt maa;Sähköposti;"
             "Matkapuhelin;Roolit;Voimassa alkaen;Voimassa asti"]  # fmt: skip
    for n in range(rows):
        if n % 4 == 3:
            ident, country, phone = estonian_code(n), "EE", "+372 5123 4567"
        else:
            day = date(1950, 1, 1) + timedelta(days=n // 99)
            ident, country, phone = make_hetu(day, 900 + n % 99), "", "040 123 4567"
        window = ("1.2.2026", "31.12.2026") if n % 5 == 0 else ("", "")
        lines.append(
            ";".join(
                [
                    "Testi",
                    f"Henkilö{n:05d}",
                    ident,
                    country,
                    f"testi.henkilo{n}@example.com",
                    phone,
                    "Kirjaaja, Raportointi",
                    *window,
                ]
            )
        )
    return ("\r\n".join(lines) + "\r\n").encode()


def seed(url: str) -> tuple[int, int]:
    """One company and its KH; returns their ids."""
    from sqlalchemy.orm import Session

    from portti.companies.catalogue import USER_ADMIN
    from portti.companies.listing import sort_name_of
    from portti.companies.models import Company, Membership, MembershipRole
    from portti.db.session import make_engine
    from portti.people.identity_numbers import make_hetu
    from portti.people.models import Person, PersonIdentifier
    from portti.people.portti_id import new_portti_id

    engine = make_engine(url)
    with Session(engine) as db:
        company = Company(name="Tilitoimisto Oy", business_id="1234567-8", created_at=NOW)
        kh = Person(
            portti_id=new_portti_id(),
            given_name="Kaisa",
            family_name="Pääkäyttäjä",
            email="kaisa@example.fi",
            phone="+358401000000",
            created_at=NOW,
        )
        kh.identifiers.append(
            PersonIdentifier(
                kind="fi_hetu",
                country="FI",
                value=make_hetu(date(1980, 5, 17), 999),
                created_at=NOW,
            )
        )
        m = Membership(
            company=company,
            person=kh,
            sort_name=sort_name_of(kh.given_name, kh.family_name),
            created_at=NOW,
            updated_at=NOW,
        )
        m.roles = [MembershipRole(role_code=USER_ADMIN)]
        db.add_all([company, kh, m])
        db.commit()
        ids = company.id, kh.id
    engine.dispose()
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database-url", help="an empty database to migrate and fill")
    where.add_argument(
        "--postgresql", action="store_true", help=f"create and drop a database on {PG_ADMIN}"
    )
    parser.add_argument("--smoke", action="store_true", help="a few seconds, small counts")
    args = parser.parse_args()
    if args.smoke:  # the test suite's check that the benchmark still runs (no timing)
        args.rows = 40

    sys.path.insert(0, str(ROOT / "tests"))
    from fastapi.testclient import TestClient

    from portti.app import create_app
    from portti.audit.models import AuditEvent
    from portti.companies.models import Membership
    from portti.config import Mode, Settings
    from portti.db.migrate import upgrade
    from portti.people.models import Person
    from support.csv_users import confirm, sealed_of
    from support.web import csrf_from, force_login

    data = users_file(args.rows)
    with benchmark_database(args.database_url, args.postgresql, prefix="portti_bench") as url:
        upgrade(url)
        company_id, kh_id = seed(url)
        settings = Settings(
            mode=Mode.TEST,
            database_url=url,
            base_url="http://testserver",
            secret_key="bench-secret-key-" + "x" * 32,
            outbox_in_process=False,
            log_level="WARNING",
        )
        app = create_app(settings)
        engine: Engine = app.state.runtime.engine
        sql = SqlCounter(engine)
        with engine.connect() as conn:
            server = (
                f"SQLite {sqlite3.sqlite_version}"
                if engine.dialect.name == "sqlite"
                else "PostgreSQL " + str(conn.exec_driver_sql("SHOW server_version").scalar())
            )
        print(f"# Add users from a file: {server}, {args.rows:,} rows ({len(data):,} bytes)")
        print(
            f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()},"
            f" load average at start {os.getloadavg()[0]:.2f}"
        )
        with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
            with app.state.runtime.session_factory() as db:
                kh = db.get(Person, kh_id)
                assert kh is not None
            force_login(client, kh, stepped_up=True)
            html = {"accept": "text/html"}

            sql.count = 0
            t0 = time.perf_counter()
            page = client.get(f"/c/{company_id}/users/import", headers=html)
            assert page.status_code == 200, page.text[-2000:]
            preview = client.post(
                f"/c/{company_id}/users/import",
                files={"file": ("users.csv", data, "text/csv")},
                data={"csrf_token": csrf_from(page)},
                headers=html,
            )
            t_preview = time.perf_counter() - t0
            sql_preview = sql.count
            assert preview.status_code == 200, preview.text[-2000:]
            assert "has errors" not in preview.text and "have errors" not in preview.text, (
                "rows with errors in the generated file"
            )
            sealed = sealed_of(preview)

            sql.count = 0
            t0 = time.perf_counter()
            done = confirm(client, company_id, preview, sealed)
            t_add = time.perf_counter() - t0
            sql_add = sql.count
            assert done.status_code == 200, done.text[-2000:]

        with app.state.runtime.session_factory() as db:
            members = db.scalar(
                select(func.count())
                .select_from(Membership)
                .where(Membership.company_id == company_id)
            )
            audited = db.scalars(
                select(AuditEvent.details).where(
                    AuditEvent.action.in_(["membership_added", "person_created"]),
                    AuditEvent.company_id == company_id,
                )
            ).all()
        rows_audited = {d.get("row") for d in audited if d and d.get("source") == "csv_file"}
        ok = members == args.rows + 1 and len(rows_audited) == args.rows
        total = t_preview + t_add
        print()
        print("| step | seconds | rows/s | SQL statements per row |")
        print("|---|---:|---:|---:|")
        for name, secs, stmts in (
            ("preview (upload, check every row, nothing written)", t_preview, sql_preview),
            ("add (check again, add, audit)", t_add, sql_add),
        ):
            print(f"| {name} | {secs:.2f} | {args.rows / secs:,.0f} | {stmts / args.rows:.1f} |")
        print(f"| **end to end** | **{total:.2f}** | {args.rows / total:,.0f} | |")
        print()
        print(
            f"added {members - 1:,} users, {len(audited):,} audit rows"
            f" ({len(rows_audited):,} file rows named);"
            f" target (PRV-4): under {TARGET_SECONDS:.0f} s for 1,000 rows on SQLite"
        )
        app.state.runtime.engine.dispose()
        if not ok:
            print("FAILED: not every row was added and audited")
            sys.exit(1)


if __name__ == "__main__":
    main()
