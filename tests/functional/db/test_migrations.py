"""Schema migrations (OPS-3): upgrade to head matches the models, and the way back works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from portti.db.migrate import alembic_config, check, current_revision, head_revision, upgrade
from portti.db.session import make_engine
from portti.schema import Model
from support.db import BACKEND_IS_SQLITE
from support.pg import scratch_database

PG_ADMIN = os.environ.get("PORTTI_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def downgrade(url: str, revision: str = "base") -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    engine.dispose()


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_migrated_test_database_matches_the_models(database_url):  # OPS-3
    check(database_url)  # raises when autogenerate would find a difference


@pytest.mark.skipif(not BACKEND_IS_SQLITE, reason="a fresh file database is a SQLite thing")
def test_an_empty_sqlite_database_upgrades_downgrades_and_upgrades_again(
    tmp_path: Path,
):  # OPS-3
    url = f"sqlite:///{tmp_path / 'fresh' / 'portti.db'}"
    upgrade(url)
    check(url)
    model_tables = set(Model.metadata.tables)
    assert model_tables <= tables(url)
    downgrade(url, "base")
    assert tables(url) <= {"alembic_version"}
    upgrade(url)
    check(url)
    assert model_tables <= tables(url)


def _portti(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PORTTI_MODE": "demo", "PORTTI_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "portti.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(not BACKEND_IS_SQLITE, reason="a fresh file database is a SQLite thing")
def test_migrate_to_a_revision_stops_there_and_head_goes_on(tmp_path: Path):  # OPS-3
    url = f"sqlite:///{tmp_path / 'portti.db'}"
    out = _portti(url, "migrate", "--to", "0005")
    assert out.returncode == 0, out.stderr
    assert current_revision(url) == "0005"
    assert "0005" in out.stdout
    assert _portti(url, "migrate").returncode == 0
    assert current_revision(url) == head_revision()


@pytest.mark.skipif(BACKEND_IS_SQLITE, reason="the SQL for a DBA is a PostgreSQL thing")
def test_migrate_sql_prints_the_statements_and_changes_nothing():  # OPS-3
    with scratch_database(PG_ADMIN, "portti_sql") as url:
        upgrade(url, "0009")
        out = _portti(url, "migrate", "--sql", "--to", "0011")
        assert out.returncode == 0, out.stderr
        assert "ALTER TABLE" in out.stdout or "CREATE" in out.stdout
        assert "UPDATE alembic_version SET version_num='0010'" in out.stdout
        assert current_revision(url) == "0009"  # nothing ran
        # To the head: 0014 re-seals keys in Python and cannot be printed. The refusal comes
        # alone, never after half a script a DBA might run.
        whole = _portti(url, "migrate", "--sql")
        assert whole.returncode == 2 and "--to 0014" in whole.stdout
        assert "BEGIN" not in whole.stdout and "Traceback" not in whole.stderr


def test_migrate_sql_on_sqlite_says_it_is_for_postgresql(tmp_path: Path):  # OPS-3
    out = _portti(f"sqlite:///{tmp_path / 'p.db'}", "migrate", "--sql")
    assert out.returncode == 2
    assert "PostgreSQL" in out.stdout
