"""The event bus on PostgreSQL ``LISTEN``/``NOTIFY``."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import structlog

from portti.db.session import normalise_url
from portti.infra.events.bus import (
    RECONNECT_DELAY_SECONDS,
    Fanout,
    LoopBound,
    Subscription,
    channel_digest,
)

log = structlog.get_logger(__name__)


def pg_identifier(channel: str) -> str:
    """``LISTEN`` takes an identifier (at most 63 bytes); channel names are hashed into one."""
    return "portti_" + channel_digest(channel)[:40]


class PostgresEventBus(LoopBound):
    """``LISTEN``/``NOTIFY`` through two psycopg connections: one listens, one publishes.

    psycopg's ``notifies()`` holds the connection while it waits, so ``LISTEN``/``UNLISTEN``
    for new channels are queued for the listening task, which a ``NOTIFY`` on a control
    channel wakes; a subscriber's ``subscribe()`` returns once its ``LISTEN`` has run.
    """

    def __init__(self, url: str) -> None:
        self._url = normalise_url(url).replace("postgresql+psycopg://", "postgresql://", 1)
        self._fanout = Fanout()
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
