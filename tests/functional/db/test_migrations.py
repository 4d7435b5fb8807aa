"""Schema migrations (OPS-3): upgrade to head matches the models, and the way back works."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from portti.db.migrate import alembic_config, check, upgrade
from portti.db.models import Model
from portti.db.session import make_engine
from support.db import BACKEND_IS_SQLITE


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
