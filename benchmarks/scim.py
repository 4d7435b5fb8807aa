"""SCIM provisioning (PRV-3): how fast an identity provider can create a company's users, and
how fast it finds one by ``userName`` in a large company.

Starts ``portti serve`` (one uvicorn worker, a child process) on a fresh database (SQLite in a
temp dir, or with ``--postgresql`` a database it creates and drops), registers a machine client
with the scope ``scim`` for the companies it inserts, takes an access token with the client
credentials grant, and then, over HTTP with keep-alive connections:

* creates ``--users`` users in one company one after another (``POST /Users``, each a new person
  with an identifier, a membership and its SCIM names), then as many in another company from 8
  threads at once: users/s and the latency p50/p99 of a create;
* inserts ``--members`` members with their SCIM ``userName`` into a third company with Core
  executemany (as a large customer's first synchronisation would have left them), then asks
  ``GET /Users?filter=userName eq "…"`` for ``--lookups`` random members: p50/p99.

Every answer must be 201/200 with the expected user; any other status (a 5xx above all) stops
the run with a non-zero exit.

    .venv/bin/python benchmarks/scim.py [--users 10000] [--members 100000] [--lookups 500]
        [--concurrency 8] [--postgresql | --database-url URL] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from benchdb import PG_ADMIN, benchmark_database  # beside this script
from qr_login import Server, start_server  # beside this script
from sqlalchemy import func, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 10_000
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
EXT = "urn:ietf:params:scim:schemas:extension:portti:2.0:User"
SCIM_JSON = "application/scim+json"


class Failed(SystemExit):
    pass


def insert_companies(url: str, names: list[str]) -> list[int]:
    from portti.companies.models import Company
    from portti.db.session import make_engine

    engine = make_engine(url)
    ids = []
    with engine.begin() as conn:
        for i, name in enumerate(names):
            ids.append(
                conn.execute(
                    insert(Company.__table__).values(
                        name=name,
                        business_id=f"765432{i}-{i}",
                        kind="company",
                        timezone="Europe/Helsinki",
                        created_at=NOW,
                    )
                ).inserted_primary_key[0]
            )
    engine.dispose()
    return ids


def seed_members(url: str, company_id: int, members: int) -> list[str]:
    """``members`` persons, memberships and SCIM rows in one company; returns the userNames."""
    from users_list import unique_portti_ids  # beside this script

    from portti.companies.listing import sort_name_of
    from portti.companies.models import Membership
    from portti.db.session import make_engine
    from portti.people.models import Person, PersonIdentifier
    from portti.scim.models import ScimUser

    engine = make_engine(url)
    portti_ids = unique_portti_ids(members)
    user_names = []
    with engine.begin() as conn:
        first_person = (conn.scalar(select(func.max(Person.id))) or 0) + 1
        first_membership = (conn.scalar(select(func.max(Membership.id))) or 0) + 1
        for start in range(0, members, BATCH):
            persons, identifiers, memberships, scim = [], [], [], []
            for i in range(start, min(start + BATCH, members)):
                pid, mid = first_person + i, first_membership + i
                name = f"member{i}@large.example"
                user_names.append(name)
                persons.append(
                    {
                        "id": pid,
                        "portti_id": portti_ids[i],
                        "given_name": "Member",
                        "family_name": f"Large{i}",
                        "email": name,
                        "phone": None,
                        "contact_version": 1,
                        "created_at": NOW,
                    }
                )
                identifiers.append(
                    {
                        "person_id": pid,
                        "kind": "other_code",
                        "country": "DE",
                        "value": f"LARGE-{i}",
                        "created_at": NOW,
                    }
                )
                memberships.append(
                    {
                        "id": mid,
                        "company_id": company_id,
                        "person_id": pid,
                        "valid_from": None,
                        "valid_until": None,
                        "receives_email": True,
                        "sort_name": sort_name_of("Member", f"Large{i}"),
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                )
                scim.append(
                    {
                        "membership_id": mid,
                        "company_id": company_id,
                        "user_name": name,
                        "user_name_key": name.casefold(),
                        "external_id": f"ext-{i}",
                        "display_name": None,
                    }
                )
            conn.execute(insert(Person.__table__), persons)
            conn.execute(insert(PersonIdentifier.__table__), identifiers)
            conn.execute(insert(Membership.__table__), memberships)
            conn.execute(insert(ScimUser.__table__), scim)
        if engine.dialect.name == "postgresql":
            for table in ("persons", "memberships", "person_identifiers"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" (SELECT max(id) FROM {table}))"
                    )
                )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return user_names


def register_machine(server: Server, company_ids: list[int]) -> tuple[str, str]:
    """A machine client with the scope ``scim`` for ``company_ids``, registered as
    ``portti clients register-machine`` registers one: (client id, secret)."""
    from portti.audit.services import AuditLog
    from portti.db.session import make_engine, make_session_factory
    from portti.infra.clock import SystemClock
    from portti.infra.secret_material import load as load_secret_material
    from portti.machines.registry import MachineClientInput, MachineClientService
    from portti.oidc_provider.clients import ClientService

    settings, clock = server.settings, SystemClock()
    engine = make_engine(settings.database_url)
    try:
        load_secret_material(make_session_factory(engine), settings.secret, clock)
        with make_session_factory(engine)() as db:
            clients = ClientService(db, clock, AuditLog(db, clock), settings.secret)
            reg = MachineClientService(clients).register(
                MachineClientInput(
                    name="Benchmark identity provider",
                    scopes=["scim"],
                    companies=company_ids,
                ),
                actor_person_id=None,
            )
            db.commit()
    finally:
        engine.dispose()
    assert reg.client_secret is not None
    return reg.client_id, reg.client_secret


def access_token(server: Server, client_id: str, secret: str) -> str:
    r = httpx.post(
        server.url + "/oidc/token",
        data={"grant_type": "client_credentials", "scope": "scim"},
        auth=(client_id, secret),
        timeout=30,
    )
    if r.status_code != 200:
        raise Failed(f"token: {r.status_code} {r.text[:300]}")
    return str(r.json()["access_token"])


def user_body(n: int, tag: str) -> dict[str, Any]:
    return {
        "schemas": [USER, EXT],
        "userName": f"{tag}{n}@bench.example",
        "externalId": f"{tag}-{n}",
        "name": {"givenName": "Bench", "familyName": f"User{n}"},
        "emails": [{"value": f"{tag}{n}@bench.example", "type": "work", "primary": True}],
        "active": True,
        EXT: {
            "identifier": f"{tag.upper()}-{n}",
            "issuingCountry": "DE",
            "identifierKind": "other_code",
        },
    }


def client(server: Server, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {token}", "Accept": SCIM_JSON},
        timeout=60,
    )


def create_users(
    server: Server, token: str, company_id: int, n: int, tag: str, threads: int
) -> tuple[float, list[float]]:
    """``n`` creates from ``threads`` threads; wall seconds and each create's seconds."""
    path = f"/scim/v2/companies/{company_id}/Users"
    latencies: list[float] = []
    lock = threading.Lock()
    numbers = iter(range(n))

    def worker() -> None:
        with client(server, token) as http:
            while True:
                with lock:
                    i = next(numbers, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                r = http.post(path, json=user_body(i, tag), headers={"Content-Type": SCIM_JSON})
                took = time.perf_counter() - t0
                if r.status_code != 201:
                    raise Failed(f"POST /Users: {r.status_code} {r.text[:300]}")
                with lock:
                    latencies.append(took)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for f in [pool.submit(worker) for _ in range(threads)]:
            f.result()
    return time.perf_counter() - started, latencies


def lookups(
    server: Server, token: str, company_id: int, names: list[str], n: int, rng: random.Random
) -> list[float]:
    path = f"/scim/v2/companies/{company_id}/Users"
    out = []
    with client(server, token) as http:
        for _ in range(n):
            name = rng.choice(names)
            t0 = time.perf_counter()
            r = http.get(path, params={"filter": f'userName eq "{name.upper()}"'})
            out.append(time.perf_counter() - t0)
            if r.status_code != 200 or r.json()["totalResults"] != 1:
                raise Failed(f"filter {name}: {r.status_code} {r.text[:300]}")
            if r.json()["Resources"][0]["userName"] != name:
                raise Failed(f"filter {name}: found {r.json()['Resources'][0]['userName']}")
    return out


def baseline(server: Server, token: str, company_id: int, n: int) -> list[float]:
    """``GET /ServiceProviderConfig``: the token checked and the company read, no search."""
    path = f"/scim/v2/companies/{company_id}/ServiceProviderConfig"
    out = []
    with client(server, token) as http:
        for _ in range(n):
            t0 = time.perf_counter()
            r = http.get(path)
            out.append(time.perf_counter() - t0)
            if r.status_code != 200:
                raise Failed(f"{path}: {r.status_code} {r.text[:300]}")
    return out


def pct(samples: list[float], q: int) -> float:
    if len(samples) < 2:
        return samples[0] * 1000 if samples else 0.0
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] * 1000


def report(label: str, wall: float, latencies: list[float]) -> None:
    print(
        f"| {label} | {len(latencies):,} | {len(latencies) / wall:.0f} |"
        f" {pct(latencies, 50):.1f} | {pct(latencies, 99):.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database-url", help="an empty database to migrate and fill")
    where.add_argument(
        "--postgresql", action="store_true", help=f"create and drop a database on {PG_ADMIN}"
    )
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, small counts")
    args = parser.parse_args()
    if args.smoke:  # the test suite's check that the benchmark still runs (no timing)
        args.users, args.members, args.lookups = 40, 500, 20

    rng = random.Random(args.seed)
    started = time.perf_counter()
    with (
        benchmark_database(args.database_url, args.postgresql, prefix="portti_bench_scim") as url,
        tempfile.TemporaryDirectory(prefix="portti-bench-scim-") as tmp,
    ):
        server = start_server(
            Path(tmp),
            database_url=url,
            settings={"PORTTI_MACHINE_TOKEN_LIFETIME_SECONDS": "3600"},
        )
        try:
            seq, conc, large = insert_companies(url, ["Sequential Oy", "Concurrent Oy", "Large Oy"])
            t0 = time.perf_counter()
            names = seed_members(url, large, args.members)
            t_seed = time.perf_counter() - t0
            client_id, secret = register_machine(server, [seq, conc, large])
            token = access_token(server, client_id, secret)
            kind = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
            print(f"# SCIM provisioning: {kind}, one uvicorn worker (portti serve)")
            print(
                f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()},"
                f" load average at start {os.getloadavg()[0]:.2f};"
                f" seeded {args.members:,} members in {t_seed:.1f} s"
            )
            print("\n| case | users | users/s | p50 ms | p99 ms |")
            print("|---|---:|---:|---:|---:|")
            if args.users:
                wall, lat = create_users(server, token, seq, args.users, "seq", 1)
                report("POST /Users, one after another", wall, lat)
                wall, lat = create_users(server, token, conc, args.users, "conc", args.concurrency)
                report(f"POST /Users, {args.concurrency} at once", wall, lat)
            base = baseline(server, token, large, args.lookups)
            print(
                f"\nbaseline `GET /ServiceProviderConfig` (token checked, company read):"
                f" p50 {pct(base, 50):.1f} ms, p99 {pct(base, 99):.1f} ms"
            )
            found = lookups(server, token, large, names, args.lookups, rng)
            print(
                f"\n`GET /Users?filter=userName eq` at {args.members:,} members:"
                f" {len(found)} lookups, p50 {pct(found, 50):.1f} ms, p99 {pct(found, 99):.1f} ms"
            )
            if "Traceback" in server.log.read_text(errors="replace"):
                raise Failed("the server logged a traceback:\n" + server.log.read_text()[-3000:])
        except Failed:
            print("\n--- server log (tail) ---\n" + server.log.read_text(errors="replace")[-4000:])
            raise
        finally:
            server.stop()
    print(
        f"\nload average at end {os.getloadavg()[0]:.2f};"
        f" whole run {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "benchmarks"))
    main()
