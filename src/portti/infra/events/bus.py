"""The event bus's protocol, a subscription, this process's fan-out to its subscribers, and the
bus of one process (``memory://``)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
from collections.abc import AsyncIterator, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)

# Messages a subscriber has not read yet; beyond this it is too slow and loses the newest ones
# (it re-reads the database anyway).
QUEUE_SIZE = 64
PUBLISH_WAIT_SECONDS = 2.0
RECONNECT_DELAY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


class Subscription:
    """What one subscriber reads: ``await get(timeout)`` or ``async for message in sub``."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)

    def deliver(self, message: str) -> None:
        """From any thread or event loop."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._put(message)
        else:
            with contextlib.suppress(RuntimeError):  # the subscriber's loop has closed
                self._loop.call_soon_threadsafe(self._put, message)

    def _put(self, message: str) -> None:
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("event_dropped", channel_hash=channel_digest(self.channel)[:12])

    async def get(self, timeout: float | None = None) -> str | None:
        """The next message, or None when ``timeout`` seconds pass without one."""
        if timeout is None:
            return await self._queue.get()
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    async def __anext__(self) -> str:
        return await self._queue.get()


class EventBus(Protocol):
    async def start(self) -> None:
        """Open connections (called in the app's lifespan, on its event loop)."""

    async def close(self) -> None: ...

    async def publish(self, channel: str, message: str) -> None: ...

    def publish_threadsafe(self, channel: str, message: str) -> None:
        """From a ``def`` handler (any thread). Logs a failure instead of raising."""

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[Subscription]:
        """Listening has begun when the context is entered: a message published after that
        reaches the subscription."""


def channel_digest(channel: str) -> str:
    return hashlib.sha256(channel.encode()).hexdigest()


class Fanout:
    """This process's subscribers by channel. Thread-safe: publishers may be in any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, set[Subscription]] = {}

    def add(self, sub: Subscription) -> bool:
        """True when ``sub`` is the channel's first subscriber here."""
        with self._lock:
            subs = self._subs.setdefault(sub.channel, set())
            subs.add(sub)
            return len(subs) == 1

    def remove(self, sub: Subscription) -> bool:
        """True when the channel has no subscribers here any more."""
        with self._lock:
            subs = self._subs.get(sub.channel)
            if subs is None:
                return False
            subs.discard(sub)
            if not subs:
                del self._subs[sub.channel]
                return True
            return False

    def deliver(self, channel: str, message: str) -> None:
        with self._lock:
            subs = list(self._subs.get(channel, ()))
        for sub in subs:
            sub.deliver(message)

    def channels(self) -> list[str]:
        with self._lock:
            return list(self._subs)


class LoopBound:
    """``publish_threadsafe`` for buses whose connections live on the lifespan's event loop."""

    _loop: asyncio.AbstractEventLoop | None = None

    async def publish(self, channel: str, message: str) -> None:
        raise NotImplementedError

    def publish_threadsafe(self, channel: str, message: str) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            log.warning("event_bus_not_started")
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            # Called from async code on the bus's own loop: waiting here would deadlock.
            task = loop.create_task(self._logged(self.publish(channel, message)))
            _background.add(task)
            task.add_done_callback(_background.discard)
            return
        future = asyncio.run_coroutine_threadsafe(self.publish(channel, message), loop)
        try:
            future.result(PUBLISH_WAIT_SECONDS)
        except Exception as exc:
            future.cancel()
            log.warning("event_publish_failed", error=type(exc).__name__)

    @staticmethod
    async def _logged(coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except Exception as exc:
            log.warning("event_publish_failed", error=type(exc).__name__)


_background: set[asyncio.Task[None]] = set()


class InMemoryEventBus:
    """One process: publishers hand messages straight to the subscribers' queues."""

    def __init__(self) -> None:
        self._fanout = Fanout()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, channel: str, message: str) -> None:
        self._fanout.deliver(channel, message)

    def publish_threadsafe(self, channel: str, message: str) -> None:
        self._fanout.deliver(channel, message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        sub = Subscription(channel)
        self._fanout.add(sub)
        try:
            yield sub
        finally:
            self._fanout.remove(sub)
