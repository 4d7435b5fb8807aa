"""The event bus on Redis pub/sub."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
import structlog

from portti.infra.events.bus import (
    RECONNECT_DELAY_SECONDS,
    Fanout,
    LoopBound,
    Subscription,
)

log = structlog.get_logger(__name__)


class RedisEventBus(LoopBound):
    """Redis pub/sub: one shared subscriber connection per process, read by one task.

    ``SUBSCRIBE`` is confirmed by the server in order on that connection; ``subscribe()``
    returns once its confirmation has arrived, so nothing published afterwards is missed.

    Redis is an accelerator, not a dependency (OPS-16): the app starts without it, a
    ``subscribe()`` while it is down returns at once (the stream learns from the database's
    re-check), ``publish`` drops the hint instead of waiting, and the reader connects again in
    the background, subscribing to every channel that has subscribers by then. A warning is
    logged once per outage.
    """

    PREFIX = "portti:events:"
    # How long start() waits for a first connection before serving without one.
    START_WAIT_SECONDS = 2.0
    # How long subscribe() waits for the server's confirmation before going on without it.
    SUBSCRIBE_WAIT_SECONDS = 2.0
    CONNECT_TIMEOUT_SECONDS = 1.0
    # PING on an idle subscriber connection this often: finds a Redis that went away silently.
    HEALTH_CHECK_SECONDS = 5

    def __init__(self, url: str) -> None:
        self._url = url
        self._fanout = Fanout()
        self._redis: Any = None
        self._pubsub: Any = None  # while connected
        self._reader: asyncio.Task[None] | None = None
        self._unconfirmed: dict[str, int] = {}
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._control = self.PREFIX + "_control"
        self._up = asyncio.Event()

    def reachable(self) -> bool:
        """Whether the subscriber connection is up now (no I/O: cheap enough for a readiness
        probe)."""
        return self._pubsub is not None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._up = asyncio.Event()
        self._redis = aioredis.Redis.from_url(
            self._url,
            socket_connect_timeout=self.CONNECT_TIMEOUT_SECONDS,
            health_check_interval=self.HEALTH_CHECK_SECONDS,
        )
        self._reader = asyncio.create_task(self._read_forever(), name="event-bus-reader")
        # Serves without Redis after that (the reader has logged why).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), self.START_WAIT_SECONDS)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
        self._release_waiters()

    async def publish(self, channel: str, message: str) -> None:
        if self._pubsub is None:
            return  # Redis is down: the hint is lost, the database re-check carries the change
        await self._redis.publish(self.PREFIX + channel, message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        sub = Subscription(channel)
        key = self.PREFIX + channel
        first = self._fanout.add(sub)
        try:
            pubsub = self._pubsub
            if pubsub is not None and (first or self._unconfirmed.get(key)):
                fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._waiters.setdefault(key, []).append(fut)
                try:
                    if first:
                        self._unconfirmed[key] = self._unconfirmed.get(key, 0) + 1
                        await pubsub.subscribe(key)
                    await asyncio.wait_for(fut, self.SUBSCRIBE_WAIT_SECONDS)
                except Exception as exc:  # a timeout or redis.exceptions.*
                    # The reader sees the lost connection too and subscribes again on reconnect.
                    log.info("event_bus_subscribe_unconfirmed", error=type(exc).__name__)
            yield sub
        finally:
            if self._fanout.remove(sub) and self._pubsub is not None:
                with contextlib.suppress(Exception):
                    await self._pubsub.unsubscribe(key)

    def _release_waiters(self) -> None:
        self._unconfirmed.clear()
        waiters, self._waiters = self._waiters, {}
        for futs in waiters.values():
            for fut in futs:
                if not fut.done():
                    fut.set_result(None)

    async def _read_forever(self) -> None:
        delays = iter(RECONNECT_DELAY_SECONDS)
        outage = False
        while True:
            pubsub = self._redis.pubsub()
            try:
                keys = [self._control] + [self.PREFIX + c for c in self._fanout.channels()]
                await pubsub.subscribe(*keys)
                self._pubsub = pubsub
                # Channels that gained their first subscriber while we were connecting.
                missing = {self.PREFIX + c for c in self._fanout.channels()} - set(keys)
                if missing:
                    await pubsub.subscribe(*missing)
                self._up.set()
                if outage:
                    log.info("event_bus_restored", bus="redis")
                    outage = False
                delays = iter(RECONNECT_DELAY_SECONDS)
                while True:
                    msg = await pubsub.get_message(timeout=self.HEALTH_CHECK_SECONDS)
                    if msg:
                        self._handle(msg)
            except asyncio.CancelledError:
                self._pubsub = None
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                raise
            except Exception as exc:
                # What was published in between is lost (subscribers re-read the database).
                self._pubsub = None
                self._release_waiters()
                if not outage:
                    log.warning("event_bus_unavailable", bus="redis", error=type(exc).__name__)
                    outage = True
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                await asyncio.sleep(next(delays, RECONNECT_DELAY_SECONDS[-1]))

    def _handle(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        raw = msg.get("channel")
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        if kind == "message" and key.startswith(self.PREFIX):
            data = msg.get("data")
            text = data.decode() if isinstance(data, bytes) else str(data)
            self._fanout.deliver(key.removeprefix(self.PREFIX), text)
        elif kind == "subscribe":
            left = self._unconfirmed.get(key, 0) - 1
            if left > 0:
                self._unconfirmed[key] = left
                return
            self._unconfirmed.pop(key, None)
            for fut in self._waiters.pop(key, []):
                if not fut.done():
                    fut.set_result(None)
