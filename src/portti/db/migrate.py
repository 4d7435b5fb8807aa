"""Running migrations from code: ``portti migrate``, the app's tests and the demo."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from portti.db.session import make_engine, normalise_url

INI = Path(__file__).resolve().parent.parent / "alembic.ini"


def alembic_config(url: str) -> Config:
    cfg = Config(str(INI))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()


def upgrade_sql(url: str, revision: str = "head", current: str | None = None) -> None:
    """Print the SQL that brings a PostgreSQL database from ``current`` (default: what the
    database says it is at) to ``revision``, without running it (Alembic's offline mode)."""
    if url.startswith("sqlite"):
        raise ValueError("--sql is for PostgreSQL; SQLite migrates in place (`portti migrate`)")
    if current is None:
        current = current_revision(url)
    if current is not None and current == (head_revision() if revision == "head" else revision):
        raise ValueError(f"Nothing to print: the database is at {current} already")
    cfg = alembic_config(url)
    # Into a buffer first: a migration that refuses offline mode must not leave half a script
    # on standard output.
    buffer = io.StringIO()
    cfg.output_buffer = buffer
    try:
        command.upgrade(cfg, f"{current}:{revision}" if current else revision, sql=True)
    except RuntimeError as exc:
        raise ValueError(str(exc)) from None
    sys.stdout.write(buffer.getvalue())


def current_revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def check(url: str) -> None:
    """Fails when the models and the migrations disagree (``alembic check``)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.check(cfg)
    engine.dispose()
