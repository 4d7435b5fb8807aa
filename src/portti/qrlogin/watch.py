"""The event streams' safety net: one re-read for all waiting browsers of a process (WEB-1).

Events between processes are hints (``infra.events``): one can be lost while a connection to
PostgreSQL or Redis is re-established, or never sent when instances were started without a
shared bus. So every few seconds the database is asked again, and the answer also carries
expiry, which nothing publishes. Each stream used to do that for itself: 200 waiting browsers
made 67 reads a second, each a thread hop, a pooled connection and a statement (about a tenth
of a core). Here one task per process reads the states of every watched transaction in one
statement per ``interval`` seconds (``settings.qr_recheck_seconds``) and hands each stream its
state as if it had been published; a stream ignores a state that does not move it on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import structlog
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from portti.infra.events import Subscription
from portti.qrlogin.queries import WATCHED_STATES
from portti.qrlogin.state import browser_state_of

log = structlog.get_logger(__name__)

# SQLite allows 32,766 parameters; PostgreSQL 65,535. Larger watch lists are read in chunks.
CHUNK = 500


class StreamWatch:
    def __init__(self, engine: Engine, now: Callable[[], datetime], interval: float) -> None:
        self.engine = engine
        self.now = now
        self.interval = interval
        self._watched: dict[str, set[Subscription]] = {}
        self._task: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def watch(self, public_id: str, sub: Subscription) -> AsyncIterator[None]:
        """While inside, ``sub`` receives the transaction's state every ``interval`` seconds.
        Only for a stream that has checked the browser's binding cookie itself."""
        self._watched.setdefault(public_id, set()).add(sub)
        self._ensure_running()
        try:
            yield
        finally:
            subs = self._watched.get(public_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._watched[public_id]

    async def close(self) -> None:
        """At shutdown: stop re-reading (the streams end with the server)."""
        task, self._task = self._task, None
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def watching(self) -> int:
        return len(self._watched)

    def _ensure_running(self) -> None:
        loop = asyncio.get_running_loop()
        task = self._task
        if task is None or task.done() or task.get_loop() is not loop:
            self._task = loop.create_task(self._run(), name="qr-stream-watch")

    async def _run(self) -> None:
        while self._watched:
            await asyncio.sleep(self.interval)
            ids = list(self._watched)
            if not ids:
                return
            try:
                states = await run_in_threadpool(self._read, ids)
            except Exception as exc:  # the next round tries again; the streams keep waiting
                log.warning("qr_stream_recheck_failed", error=type(exc).__name__)
                continue
            for public_id, message in states:
                for sub in list(self._watched.get(public_id, ())):
                    sub.deliver(message)

    def _read(self, ids: Sequence[str]) -> list[tuple[str, str]]:
        now = self.now()
        out: list[tuple[str, str]] = []
        with self.engine.connect() as conn:
            for start in range(0, len(ids), CHUNK):
                rows = conn.execute(WATCHED_STATES, {"ids": list(ids[start : start + CHUNK])})
                out += [(row.public_id, browser_state_of(row, now).to_json()) for row in rows]
        return out
