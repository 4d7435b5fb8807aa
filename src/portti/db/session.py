"""Engines and sessions. Handlers get a session per request through ``web.deps.DbSession``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def normalise_url(url: str) -> str:
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,  # SQL parameters hold identity numbers: never in logs
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers run beside the writer; NORMAL is durable across app crashes.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        _queue_writers(engine)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True, **kwargs
    )


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
WRITER_WAIT_SECONDS = 30.0


def _queue_writers(engine: Engine) -> None:
    """One writer at a time per process, queued on a lock, before SQLite's own write lock.

    SQLite lets one connection write; another that wants to write meanwhile is put off by its
    busy handler, which polls with growing sleeps (1, 2, 5 … 100 ms: about a third of a second
    after a dozen misses). Under concurrent writes that polling, not the work, made the slowest
    requests (the token endpoint's p99 was ~340 ms at concurrency 4). Waiting on this lock wakes
    the next writer as soon as the previous one commits. Other processes still meet the busy
    handler; a wait longer than ``WRITER_WAIT_SECONDS`` (a second connection writing in the
    same thread) goes on without the lock and leaves it to SQLite, as before."""
    lock = threading.Lock()

    @event.listens_for(engine, "before_cursor_execute")
    def _take(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        info = conn.info
        if not info.get("portti_writer") and statement.lstrip()[:7].upper().startswith(_WRITES):
            info["portti_writer"] = lock.acquire(timeout=WRITER_WAIT_SECONDS)

    def _give(info: dict[str, Any]) -> None:
        if info.pop("portti_writer", False):
            lock.release()

    @event.listens_for(engine, "commit")
    def _after_commit(conn: Any) -> None:
        _give(conn.info)

    @event.listens_for(engine, "rollback")
    def _after_rollback(conn: Any) -> None:
        _give(conn.info)

    @event.listens_for(engine, "reset")
    def _on_reset(_dbapi_conn: Any, record: Any, _state: Any) -> None:
        # Returned to the pool without commit or rollback through the engine.
        _give(record.info)

    @event.listens_for(engine, "close")
    def _on_close(_dbapi_conn: Any, record: Any) -> None:
        _give(record.info)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    with factory() as session, session.begin():
        yield session
