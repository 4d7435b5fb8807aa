"""Rate limits behind a protocol: in memory for one process, Redis for several.

Built on the ``limits`` package (moving windows); the storage comes from
``settings.rate_limit_storage_url`` (``memory://`` or ``redis://host:port/db``).
"""

from __future__ import annotations

import math
import time
from typing import Protocol

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from portti.errors import RateLimited


class RateLimiter(Protocol):
    def hit(self, limit: str, *keys: str) -> None:
        """Counts one attempt; raises ``RateLimited`` when the limit is exceeded."""

    def reset(self) -> None: ...


class LimitsRateLimiter:
    def __init__(self, storage_url: str = "memory://") -> None:
        self._storage = storage_from_string(storage_url)
        self._limiter = MovingWindowRateLimiter(self._storage)

    def hit(self, limit: str, *keys: str) -> None:
        item = parse(limit)
        if not self._limiter.hit(item, "portti", *keys):
            stats = self._limiter.get_window_stats(item, "portti", *keys)
            retry = max(1, math.ceil(stats.reset_time - time.time()))
            raise RateLimited(retry_after=retry)

    def reset(self) -> None:
        self._storage.reset()
