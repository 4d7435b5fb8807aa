"""Shared fixtures: a fresh database per test (SQLite or PostgreSQL), the app, a browser-like
client, and helpers to log in through the built-in test identity provider."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from portti.app import create_app
from portti.config import Mode, Settings
from portti.db.migrate import upgrade
from portti.db.session import make_engine, make_session_factory
from portti.infra.clock import OffsetClock
from portti.runtime import Runtime
from portti.schema import Model
from portti.strongauth.discovery import DiscoveryCache
from portti.strongauth.oidc.jwks import JwksCache
from portti.wiring import connect_hooks
from support.pg import scratch_database
from support.signatures import read_signatures_once

read_signatures_once()
# Services built by hand in tests announce what ends through the same subscribers as the app.
connect_hooks()

BACKEND = os.environ.get("PORTTI_TEST_DATABASE", "sqlite")
PG_ADMIN = os.environ.get("PORTTI_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
# Rows the initial migration writes: kept between tests.
CATALOGUE = {"roles", "alembic_version"}


def pytest_report_header() -> str:
    return f"portti test database: {BACKEND}"


# The end-to-end and interoperability modules start servers in module (or session) fixtures:
# under pytest-xdist (`make test` runs `pytest -n N --dist loadgroup`) each of those modules runs
# whole on one worker, and every other test is handed out one by one to whichever is free.
WHOLE_MODULES = ("tests/e2e/", "tests/interop/")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ServerModulesTogether(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith(WHOLE_MODULES):
                return nodeid.split("::", 1)[0]
            return nodeid

    return ServerModulesTogether(config, log)


# The PostgreSQL pass runs what the database can change: the functional tests, the end-to-end
# and interoperability tests that start servers on it, and the benchmarks' PostgreSQL runs. The
# unit tests, the OpenAPI contract fuzzing and the browser walks drive the same code whatever the
# database (their servers' storage is covered by the functional tests): they run in the SQLite
# pass only, as do the functional tests that never open Portti's database (the test identity
# provider over HTTP, SQLite's own writer lock). PORTTI_TEST_EVERY_PASS=1 runs them in both.
SQLITE_PASS_ONLY = (
    "tests/unit/",
    "tests/contract/",
    "tests/functional/strongauth/test_oidc.py",
    "tests/functional/strongauth/test_stand_in_provider.py",
    "tests/functional/db/test_sqlite_writers.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if BACKEND != "postgresql" or os.environ.get("PORTTI_TEST_EVERY_PASS"):
        return
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        once = item.nodeid.startswith(SQLITE_PASS_ONLY) or item.get_closest_marker("browser")
        (dropped if once else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session")
def _template_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if BACKEND == "postgresql":
        with scratch_database(PG_ADMIN, "portti_test") as url:
            upgrade(url)
            yield url
    else:
        path = tmp_path_factory.mktemp("db") / "template.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url


@pytest.fixture
def database_url(_template_database: str, tmp_path: Path) -> Iterator[str]:
    """A database with the schema and the catalogue, and nothing else."""
    if BACKEND == "postgresql":
        engine = make_engine(_template_database)
        tables = [t.name for t in Model.metadata.sorted_tables if t.name not in CATALOGUE]
        with engine.begin() as conn:
            # TRUNCATE fires no row triggers, so the append-only audit table empties too.
            conn.execute(
                text(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
                )
            )
        engine.dispose()
        _reseed_profiles(_template_database)
        yield _template_database
    else:
        src = Path(_template_database.removeprefix("sqlite:///"))
        dst = tmp_path / "portti.db"
        shutil.copyfile(src, dst)
        yield f"sqlite:///{dst}"


def _reseed_profiles(url: str) -> None:
    from portti.companies.catalogue import PROFILES

    engine = make_engine(url)
    with engine.begin() as conn:
        for i, (name, desc, codes) in enumerate(PROFILES, start=1):
            conn.execute(
                text(
                    "INSERT INTO profiles (id, company_id, name, description)"
                    " VALUES (:i, NULL, :n, :d)"
                ),
                {"i": i, "n": name, "d": desc},
            )
            for code in codes:
                conn.execute(
                    text("INSERT INTO profile_roles (profile_id, role_code) VALUES (:i, :c)"),
                    {"i": i, "c": code},
                )
        conn.execute(text("SELECT setval('profiles_id_seq', (SELECT max(id) FROM profiles))"))
    engine.dispose()


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        mode=Mode.TEST,
        database_url=database_url,
        base_url="http://testserver",
        secret_key="test-secret-key-" + "x" * 32,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
        outbox_in_process=False,
        # Real-time intervals, short: the tests wait for them.
        qr_keepalive_seconds=0.2,
        qr_recheck_seconds=0.2,
        outbox_poll_seconds=0.05,
        backchannel_poll_seconds=0.05,
    )


@pytest.fixture
def app(settings: Settings, clock: OffsetClock):  # type: ignore[no-untyped-def]
    app = create_app(settings, clock=clock)
    yield app
    # Without a lifespan (tests that use no client) the engine would keep its connections.
    app.state.runtime.engine.dispose()


@pytest.fixture
def runtime(app) -> Runtime:  # type: ignore[no-untyped-def]
    """The app's services, as ``create_app`` wired them: tests take them from here."""
    rt: Runtime = app.state.runtime
    return rt


@pytest.fixture
def client(app, runtime: Runtime) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        # The relying party reaches the built-in provider through this same client.
        runtime.http = c
        runtime.jwks = JwksCache(c)
        runtime.discovery = DiscoveryCache(c)
        yield c


@pytest.fixture
def db(runtime: Runtime) -> Iterator[Session]:
    with runtime.session_factory() as session:
        yield session


@pytest.fixture
def session_factory(runtime: Runtime) -> sessionmaker[Session]:
    return runtime.session_factory


__all__ = ["make_session_factory"]
