"""Rate limits behind a protocol: in memory for one process, Redis for several.

Built on the ``limits`` package (moving windows); the storage comes from
``settings.rate_limit_storage_url`` (``memory://`` or ``redis://host:port/db``).

A limit string may hold several limits separated by ``;`` (``"10/minute;50/hour"``): every one
of them counts and applies.

Redis is an accelerator, not a dependency (OPS-16): when it cannot be reached, limits are counted
in this process's memory (a warning is logged once per outage) and Redis is tried again at most
every ``RETRY_SECONDS``, by one request at a time; the others keep counting in memory meanwhile.
Counts made in memory during an outage stay there: each instance limits on its own until Redis
answers again, as Keycloak's brute-force detector does within one node. Limits per client are keyed by ``client_network``: an IPv6 client
controls a whole /64, so keying by its full address would give it 2^64 fresh allowances.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import structlog
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from portti.errors import RateLimited
from portti.infra import metrics

IPV6_CLIENT_PREFIX = 64
# While the shared storage is down, how long the limiter counts in memory before trying it again.
RETRY_SECONDS = 5.0
# A storage that does not answer (a host gone, not a refused connection) costs a request at most
# this long before the limiter counts in memory.
STORAGE_TIMEOUT_SECONDS = 0.5

T = TypeVar("T")


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
    def __init__(
        self, storage_url: str = "memory://", *, retry_seconds: float = RETRY_SECONDS
    ) -> None:
        self._shared = not storage_url.startswith("memory://")
        options: dict[str, float | str | bool] = {}
        if self._shared:
            options = {
                "wrap_exceptions": True,
                "socket_connect_timeout": STORAGE_TIMEOUT_SECONDS,
                "socket_timeout": STORAGE_TIMEOUT_SECONDS,
            }
        self._storage = storage_from_string(storage_url, **options)
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._down_until: float | None = None  # monotonic; None while the storage answers
        self._probing = False

    def reachable(self) -> bool:
        """Whether the shared storage answered the last time it was used (no I/O: cheap enough
        for a readiness probe). Always True for ``memory://``."""
        return self._down_until is None

    def hit(self, limit: str, *keys: str) -> None:
        for item in parse_many(limit):
            if not self._call(MovingWindowRateLimiter.hit, item, "portti", *keys):
                metrics.RATE_LIMITED.labels(keys[0] if keys else "unnamed").inc()
                raise RateLimited(retry_after=self._wait(item, keys))

    def retry_after(self, limit: str, *keys: str) -> int | None:
        waits = [
            self._wait(item, keys)
            for item in parse_many(limit)
            if not self._call(MovingWindowRateLimiter.test, item, "portti", *keys)
        ]
        return max(waits) if waits else None

    def clear(self, limit: str, *keys: str) -> None:
        for item in parse_many(limit):
            self._call(MovingWindowRateLimiter.clear, item, "portti", *keys)

    def _wait(self, item: RateLimitItem, keys: tuple[str, ...]) -> int:
        stats = self._call(MovingWindowRateLimiter.get_window_stats, item, "portti", *keys)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def reset(self) -> None:
        self._call(_reset_storage)
        self._local.storage.reset()

    def _call(self, work: Callable[..., T], *args: Any) -> T:
        """``work`` on the shared storage, or on this process's memory while it is down."""
        if not self._shared:
            return work(self._limiter, *args)
        with self._lock:
            down_until = self._down_until
            probe = down_until is None or (time.monotonic() >= down_until and not self._probing)
            if down_until is not None and probe:
                self._probing = True
        if not probe:
            return work(self._local, *args)
        try:
            result = work(self._limiter, *args)
        except StorageError as exc:
            with self._lock:
                first = self._down_until is None
                self._down_until = time.monotonic() + self._retry_seconds
            if first:
                # A logger looked up now, not one cached at import: these are rare, and the
                # logging set up at start (or a test's capture) is the one that applies.
                structlog.get_logger(__name__).warning(
                    "rate_limit_storage_unavailable",
                    error=type(exc.storage_error).__name__,
                    fallback="memory",
                )
            return work(self._local, *args)
        finally:
            if down_until is not None:
                with self._lock:
                    self._probing = False
        if down_until is not None:
            with self._lock:
                self._down_until = None
            structlog.get_logger(__name__).info("rate_limit_storage_restored")
        return result


def _reset_storage(limiter: MovingWindowRateLimiter) -> None:
    limiter.storage.reset()
