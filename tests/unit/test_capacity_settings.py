"""The concurrency settings (OPS-16): requests let in at once never exceed what the pool and
the handler threads can serve, by default or by choice."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from portti.config import DB_RESERVED_CONNECTIONS, Mode, Settings


def _settings(**kw: object) -> Settings:
    return Settings(mode=Mode.TEST, **kw)  # type: ignore[arg-type]


def test_requests_let_in_default_to_the_threads_within_the_pool() -> None:  # OPS-16
    assert _settings(database_url="sqlite:///x.db").concurrent_requests == 4
    assert _settings(database_url="postgresql://h/db").concurrent_requests == 16
    small_pool = _settings(database_url="postgresql://h/db", db_pool_size=8, db_max_overflow=2)
    assert small_pool.concurrent_requests == 10 - DB_RESERVED_CONNECTIONS
    assert _settings(db_pool_size=1, db_max_overflow=0).concurrent_requests == 1


def test_more_requests_at_once_than_connections_are_refused() -> None:  # OPS-16
    with pytest.raises(ValidationError, match="PORTTI_MAX_CONCURRENT_REQUESTS"):
        _settings(db_pool_size=5, db_max_overflow=0, max_concurrent_requests=6)
    assert _settings(max_concurrent_requests=30).concurrent_requests == 30


def test_the_concurrency_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # OPS-16
    monkeypatch.setenv("PORTTI_DB_POOL_SIZE", "40")
    monkeypatch.setenv("PORTTI_DB_POOL_TIMEOUT_SECONDS", "1.5")
    monkeypatch.setenv("PORTTI_REQUEST_QUEUE_SECONDS", "0.5")
    s = _settings()
    assert (s.db_pool_size, s.db_pool_timeout_seconds, s.request_queue_seconds) == (40, 1.5, 0.5)
    monkeypatch.setenv("PORTTI_DB_POOL_SIZE", "0")
    with pytest.raises(ValidationError):
        _settings()
