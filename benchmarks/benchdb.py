"""The database a benchmark runs on: one it is given, a fresh PostgreSQL database created and
dropped around the run (``tests/support/pg.py``, as the test suite does), or a SQLite file in a
temporary directory."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.pg import scratch_database

PG_ADMIN = os.environ.get("PORTTI_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def benchmark_database(
    database_url: str | None, postgresql: bool, *, prefix: str = "portti_bench"
) -> Iterator[str]:
    if database_url:
        yield database_url
    elif postgresql:
        with scratch_database(PG_ADMIN, prefix) as url:
            yield url
    else:
        with tempfile.TemporaryDirectory(prefix=prefix.replace("_", "-") + "-") as tmp:
            yield f"sqlite:///{tmp}/portti.db"
