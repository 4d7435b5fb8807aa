"""The database a benchmark runs on: one it is given, a fresh PostgreSQL database created and
dropped around the run, or a SQLite file in a temporary directory."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

PG_ADMIN = os.environ.get("PORTTI_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def benchmark_database(
    database_url: str | None, postgresql: bool, *, prefix: str = "portti_bench"
) -> Iterator[str]:
    if database_url:
        yield database_url
    elif postgresql:
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        with tempfile.TemporaryDirectory(prefix=prefix.replace("_", "-") + "-") as tmp:
            yield f"sqlite:///{tmp}/portti.db"
