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


def make_engine(
    url: str,
    *,
    pool_size: int = 20,
    max_overflow: int = 10,
    pool_timeout: float = 3.0,
    **kwargs: Any,
) -> Engine:
    """An engine whose pool holds ``pool_size`` connections (``max_overflow`` more when busy);
    a checkout that waits longer than ``pool_timeout`` seconds raises ``sqlalchemy.exc.
    TimeoutError``, which a request answers 503 (``web/errors.py``)."""
    url = normalise_url(url)
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
    if url.startswith("sqlite"):
        in_memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            connect_args={
                "check_same_thread": False,
                "timeout": BUSY_TIMEOUT_SECONDS,
                # Python's sqlite3 begins a transaction before the first INSERT, UPDATE or
                # DELETE (reads before it run on their own): IMMEDIATE takes the write lock
                # as the transaction begins, waiting for it on the busy handler, so no writing
                # transaction holds a read snapshot that another process's commit makes stale
                # (a write on a stale snapshot fails at once, busy handler or not).
                "isolation_level": "IMMEDIATE",
            },
            hide_parameters=True,  # SQL parameters hold identity numbers: never in logs
            **({} if in_memory else pool),
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers run beside the writer; NORMAL is durable across app crashes.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
            cur.close()

        @event.listens_for(engine, "checkout")
        def _immediate(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
            # SQLAlchemy sets "" (deferred) back after a connection was used in AUTOCOMMIT.
            if dbapi_conn.isolation_level == "":
                dbapi_conn.isolation_level = "IMMEDIATE"

        _queue_writers(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, **pool, **kwargs)


def engine_for(settings: Any) -> Engine:
    """The engine of ``settings`` (``portti.config.Settings``): its URL and pool settings."""
    return make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
    )


# How long a SQLite writer waits for the write lock another process holds before it fails with
# "database is locked": far longer than any transaction of Portti's holds it.
BUSY_TIMEOUT_SECONDS = 30.0
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
