"""The small TTL cache behind the discovery documents and the providers' key sets."""

from __future__ import annotations

import pytest

from portti.infra.ttlcache import TtlCache


class Source:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail = False

    def __call__(self, key: str) -> str:
        self.calls.append(key)
        if self.fail:
            raise ConnectionError(key)
        return f"{key}#{len(self.calls)}"


def test_a_value_is_kept_for_the_ttl_then_fetched_again() -> None:
    ticks = [0.0]
    source = Source()
    cache = TtlCache(source, ttl_seconds=10, clock=lambda: ticks[0])
    assert cache.get("a") == "a#1"
    ticks[0] = 9.9
    assert cache.get("a") == "a#1"
    ticks[0] = 10.0
    assert cache.get("a") == "a#2"
    assert cache.get("b") == "b#3"  # keys apart
    cache.invalidate("a")
    assert cache.get("a") == "a#4" and cache.get("b") == "b#3"
    cache.invalidate()
    assert cache.get("b") == "b#5"


def test_keep_decides_when_given() -> None:
    source = Source()
    cache = TtlCache(source, ttl_seconds=60, clock=lambda: 0.0)
    cache.get("a")
    assert cache.get("a", keep=lambda value, age: False) == "a#2"
    assert cache.get("a", keep=lambda value, age: value.endswith("#2")) == "a#2"


def test_a_failed_fetch_gives_the_last_value_only_when_asked() -> None:
    ticks = [0.0]
    source = Source()
    cache = TtlCache(source, ttl_seconds=1, clock=lambda: ticks[0])
    assert cache.get("a") == "a#1"
    ticks[0] = 5.0
    source.fail = True
    assert cache.get("a", stale_on=(ConnectionError,)) == "a#1"
    with pytest.raises(ConnectionError):
        cache.get("a")
    with pytest.raises(ConnectionError):
        cache.get("never", stale_on=(ConnectionError,))
