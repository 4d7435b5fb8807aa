"""Rate limits behind a protocol: in memory for one process, Redis for several.

Built on the ``limits`` package (moving windows); the storage comes from
``settings.rate_limit_storage_url`` (``memory://`` or ``redis://host:port/db``).

A limit string may hold several limits separated by ``;`` (``"10/minute;50/hour"``): every one
of them counts and applies. Limits per client are keyed by ``client_network``: an IPv6 client
controls a whole /64, so keying by its full address would give it 2^64 fresh allowances.
"""

from __future__ import annotations

import ipaddress
import math
import time
from typing import Protocol

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from portti.errors import RateLimited
from portti.infra import metrics

IPV6_CLIENT_PREFIX = 64


def client_network(ip: str | None, *, ipv4_prefix: int = 32) -> str:
    """The key a client's limits are counted under: the address for IPv4 (or its network of
    ``ipv4_prefix`` bits), its /64 for IPv6 (an IPv4 address mapped into IPv6 counts as the IPv4
    address); anything else as given."""
    text = (ip or "").strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text[:45] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return client_network(str(address.ipv4_mapped), ipv4_prefix=ipv4_prefix)
        network = ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False)
        return str(network)
    if ipv4_prefix < 32:
        return str(ipaddress.IPv4Network((address, ipv4_prefix), strict=False))
    return str(address)


class RateLimiter(Protocol):
    def hit(self, limit: str, *keys: str) -> None:
        """Counts one attempt against every limit in ``limit``; raises ``RateLimited`` (with
        the seconds until the exceeded window frees a slot) when one of them is exceeded."""

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
                metrics.RATE_LIMITED.labels(keys[0] if keys else "unnamed").inc()
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
