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


# Each transaction reads, then writes (as a service does: look a row up, then insert), while
# the other process does the same; run as its own interpreter, as `portti worker` or a second
# `portti serve` would be.
_WRITER = """
import sys
from sqlalchemy import text
from portti.db.session import make_engine

engine = make_engine(sys.argv[1])
for i in range(int(sys.argv[2])):
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM t")).scalar()
        conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
        conn.execute(text("UPDATE t SET n = n + 1 WHERE rowid = 1"))
        conn.commit()
engine.dispose()
print("done")
"""


def test_processes_writing_one_file_never_meet_database_is_locked(tmp_path: Path) -> None:  # OPS-16
    import subprocess
    import sys

    engine = _engine(tmp_path)
    engine.dispose()
    url = f"sqlite:///{tmp_path / 'w.db'}"
    rounds = 300
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, url, str(rounds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err.decode()[-2000:]
        assert out.decode().strip() == "done"
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 3 * rounds
    finally:
        engine.dispose()
