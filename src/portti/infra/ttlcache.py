"""Values fetched by key and kept for a while: the identity providers' discovery documents and
signing keys (``strongauth``).

One lock guards a cache and fetches happen under it: concurrent logins wait for one fetch
instead of each making their own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    def __init__(
        self,
        fetch: Callable[[str], V],
        *,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, V]] = {}

    def get(
        self,
        key: str,
        *,
        keep: Callable[[V, float], bool] | None = None,
        stale_on: tuple[type[Exception], ...] = (),
    ) -> V:
        """The value for ``key``: the cached one while ``keep(value, age_seconds)`` (by default:
        younger than the TTL), else fetched again. When the fetch raises one of ``stale_on``,
        the last value is returned if there is one."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                age = self._clock() - entry[0]
                if keep(entry[1], age) if keep is not None else age < self.ttl_seconds:
                    return entry[1]
            try:
                value = self._fetch(key)
            except stale_on:
                if entry is not None:
                    return entry[1]
                raise
            self._entries[key] = (self._clock(), value)
            return value

    def invalidate(self, key: str | None = None) -> None:
        with self._lock:
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)
