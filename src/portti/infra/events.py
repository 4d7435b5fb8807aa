"""Publish/subscribe between requests and between processes (server push, WEB-1, OPS-2).

A waiting browser's stream subscribes to a channel (one per login transaction); the handler that
changes the transaction publishes to it after the commit. Three implementations behind one
protocol, picked by ``settings.event_bus_url``:

* ``memory://`` — one process (the default; tests, ``make run``);
* ``postgresql`` — PostgreSQL ``LISTEN``/``NOTIFY`` on the application database (no extra
  service); a ``postgresql://…`` URL names another database;
* ``redis://…`` — Redis pub/sub.

Delivery is at most once and best effort: a subscriber that is slow, or a message lost while a
connection was being re-established, is not retried; a subscriber may also see a message
published just before it subscribed (PostgreSQL unlistens lazily). Subscribers therefore treat
a message as a hint, re-read the database on connect and every few seconds, and never move
backwards: the database is the truth.

``publish`` is a coroutine for async code; ``publish_threadsafe`` is for ``def`` handlers that
run in the threadpool, and never raises (the commit has happened; a lost hint only delays the
browser until its next re-check).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
from collections.abc import AsyncIterator, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import psycopg
import redis.asyncio as aioredis
import structlog

from portti.db.session import normalise_url

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


class _Fanout:
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


class _LoopBound:
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
        self._fanout = _Fanout()

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


def pg_identifier(channel: str) -> str:
    """``LISTEN`` takes an identifier (at most 63 bytes); channel names are hashed into one."""
    return "portti_" + channel_digest(channel)[:40]


class PostgresEventBus(_LoopBound):
    """``LISTEN``/``NOTIFY`` through two psycopg connections: one listens, one publishes.

    psycopg's ``notifies()`` holds the connection while it waits, so ``LISTEN``/``UNLISTEN``
    for new channels are queued for the listening task, which a ``NOTIFY`` on a control
    channel wakes; a subscriber's ``subscribe()`` returns once its ``LISTEN`` has run.
    """

    def __init__(self, url: str) -> None:
        self._url = normalise_url(url).replace("postgresql+psycopg://", "postgresql://", 1)
        self._fanout = _Fanout()
        self._by_identifier: dict[str, str] = {}
        self._listening: set[str] = set()
        self._to_listen: dict[str, list[asyncio.Future[None]]] = {}
        self._to_unlisten: set[str] = set()
        self._control = "portti_bus_" + hashlib.sha256(str(id(self)).encode()).hexdigest()[:16]
        self._publish_conn: Any = None
        self._publish_lock = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._publish_lock = asyncio.Lock()
        self._ready = asyncio.Event()
        self._listener = asyncio.create_task(self._listen_forever(), name="event-bus-listener")
        await asyncio.wait_for(self._ready.wait(), 10)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        if self._publish_conn is not None:
            with contextlib.suppress(Exception):
                await self._publish_conn.close()
            self._publish_conn = None
        for waiters in self._to_listen.values():
            for fut in waiters:
                if not fut.done():
                    fut.cancel()

    async def _connect(self) -> Any:
        return await psycopg.AsyncConnection.connect(self._url, autocommit=True)

    async def _notify(self, identifier: str, message: str) -> None:
        async with self._publish_lock:
            for attempt in (1, 2):
                try:
                    if self._publish_conn is None or self._publish_conn.closed:
                        self._publish_conn = await self._connect()
                    await self._publish_conn.execute(
                        "SELECT pg_notify(%s, %s)", (identifier, message)
                    )
                    return
                except Exception:
                    self._publish_conn = None
                    if attempt == 2:
                        raise

    async def publish(self, channel: str, message: str) -> None:
        await self._notify(pg_identifier(channel), message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        sub = Subscription(channel)
        identifier = pg_identifier(channel)
        self._by_identifier[identifier] = channel
        self._fanout.add(sub)
        try:
            if identifier not in self._listening or identifier in self._to_unlisten:
                self._to_unlisten.discard(identifier)
                fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._to_listen.setdefault(identifier, []).append(fut)
                await self._notify(self._control, "")  # wake the listener
                await asyncio.wait_for(fut, 10)
            yield sub
        finally:
            if self._fanout.remove(sub):
                # Lazily: the listener runs it at its next wake-up.
                self._by_identifier.pop(identifier, None)
                self._to_unlisten.add(identifier)

    async def _listen_forever(self) -> None:
        delays = iter(RECONNECT_DELAY_SECONDS)
        while True:
            try:
                conn = await self._connect()
            except Exception as exc:
                log.warning("event_bus_connect_failed", error=type(exc).__name__)
                await asyncio.sleep(next(delays, RECONNECT_DELAY_SECONDS[-1]))
                continue
            try:
                await conn.execute(f'LISTEN "{self._control}"')
                # After a reconnect: listen again to every channel that has subscribers.
                self._listening = set()
                for channel in self._fanout.channels():
                    self._to_listen.setdefault(pg_identifier(channel), [])
                await self._apply(conn)
                self._ready.set()
                delays = iter(RECONNECT_DELAY_SECONDS)
                while True:
                    # One packet's notifications at a time (never break out of a batch: what
                    # follows in it would be lost), then the queued LISTEN/UNLISTEN commands.
                    batch = conn.notifies(timeout=5.0, stop_after=1)
                    async with contextlib.aclosing(batch) as notifies:
                        async for n in notifies:
                            target = self._by_identifier.get(n.channel)
                            if target is not None:
                                self._fanout.deliver(target, n.payload)
                    await self._apply(conn)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await conn.close()
                raise
            except Exception as exc:
                log.warning("event_bus_listener_failed", error=type(exc).__name__)
                with contextlib.suppress(Exception):
                    await conn.close()
                await asyncio.sleep(next(delays, RECONNECT_DELAY_SECONDS[-1]))

    async def _apply(self, conn: Any) -> None:
        """Runs the queued LISTEN/UNLISTEN commands, then releases the waiting subscribers."""
        for identifier in list(self._to_unlisten):
            self._to_unlisten.discard(identifier)
            if identifier in self._listening and identifier not in self._to_listen:
                # Marked first: a subscriber arriving during the await queues a new LISTEN.
                self._listening.discard(identifier)
                await conn.execute(f'UNLISTEN "{identifier}"')
        pending, self._to_listen = self._to_listen, {}
        for identifier, waiters in pending.items():
            if identifier not in self._listening:
                await conn.execute(f'LISTEN "{identifier}"')
                self._listening.add(identifier)
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)


class RedisEventBus(_LoopBound):
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
        self._fanout = _Fanout()
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


def make_event_bus(event_bus_url: str, database_url: str) -> EventBus:
    if event_bus_url.startswith("memory://"):
        return InMemoryEventBus()
    if event_bus_url in {"postgresql", "postgres"}:
        if not database_url.startswith(("postgresql", "postgres")):
            raise ValueError(
                "PORTTI_EVENT_BUS_URL=postgresql needs a PostgreSQL PORTTI_DATABASE_URL"
            )
        return PostgresEventBus(database_url)
    if event_bus_url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return PostgresEventBus(event_bus_url)
    if event_bus_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisEventBus(event_bus_url)
    raise ValueError(f"Unknown event bus URL scheme: {event_bus_url.split('://', 1)[0]!r}")
