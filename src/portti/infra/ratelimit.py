"""Rate limits behind a protocol: in memory for one process, Redis for several.

Built on the ``limits`` package (moving windows); the storage comes from
``settings.rate_limit_storage_url`` (``memory://`` or ``redis://host:port/db``). A limit string
may hold several windows (``"10/minute;100/day"``): every one of them applies.
"""

from __future__ import annotations

import math
import time
from typing import Protocol

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from portti.errors import RateLimited


class RateLimiter(Protocol):
    def hit(self, limit: str, *keys: str) -> None:
        """Counts one attempt; raises ``RateLimited`` when the limit is exceeded."""

    def retry_after(self, limit: str, *keys: str) -> int | None:
        """Seconds until one more hit is allowed, or None while the limit has room (counts
        nothing)."""

    def clear(self, limit: str, *keys: str) -> None:
        """Forgets the hits counted under ``keys``."""

    def reset(self) -> None: ...


class LimitsRateLimiter:
    def __init__(self, storage_url: str = "memory://") -> None:
        self._storage = storage_from_string(storage_url)
        self._limiter = MovingWindowRateLimiter(self._storage)

    def hit(self, limit: str, *keys: str) -> None:
        for item in parse_many(limit):
            if not self._limiter.hit(item, "portti", *keys):
                raise RateLimited(retry_after=self._wait(item, keys))

    def retry_after(self, limit: str, *keys: str) -> int | None:
        waits = [
            self._wait(item, keys)
            for item in parse_many(limit)
            if not self._limiter.test(item, "portti", *keys)
        ]
        return max(waits) if waits else None

    def clear(self, limit: str, *keys: str) -> None:
        for item in parse_many(limit):
            self._limiter.clear(item, "portti", *keys)

    def _wait(self, item: RateLimitItem, keys: tuple[str, ...]) -> int:
        stats = self._limiter.get_window_stats(item, "portti", *keys)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def reset(self) -> None:
        self._storage.reset()
