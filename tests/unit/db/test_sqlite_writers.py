"""SQLite writers of one process queue on a lock (``db/session.py``) instead of meeting SQLite's
busy handler; the lock is given back however the transaction ends."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import text

from portti.db.session import make_engine


def _engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    return engine


def _write_in_thread(engine) -> float:  # type: ignore[no-untyped-def]
    """Seconds another thread took to write and commit one row."""
    took: list[float] = []

    def run() -> None:
        t = time.monotonic()
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
        took.append(time.monotonic() - t)

    th = threading.Thread(target=run)
    th.start()
    th.join(timeout=60)
    assert took, "the second writer did not finish"
    return took[0]


def test_the_lock_is_given_back_after_commit_rollback_and_close(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    try:
        with engine.connect() as conn:  # commit
            conn.execute(text("INSERT INTO t VALUES (1)"))
            conn.commit()
        assert _write_in_thread(engine) < 5
        with engine.connect() as conn:  # rollback
            conn.execute(text("UPDATE t SET n = 3"))
            conn.rollback()
        assert _write_in_thread(engine) < 5
        with engine.connect() as conn:  # closed without either
            conn.execute(text("DELETE FROM t WHERE n = 2"))
        assert _write_in_thread(engine) < 5
    finally:
        engine.dispose()


def test_a_waiting_writer_starts_when_the_first_commits(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    try:
        with engine.connect() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            waiter: list[float] = []

            def second() -> None:
                waiter.append(_write_in_thread(engine))

            th = threading.Thread(target=second)
            th.start()
            time.sleep(0.3)
            assert not waiter  # still waiting behind the first writer
            conn.commit()
            th.join(timeout=60)
        assert waiter and waiter[0] < 5
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 2
    finally:
        engine.dispose()
