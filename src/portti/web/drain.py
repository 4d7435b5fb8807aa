"""A graceful stop (OPS-16): on SIGTERM the server stops accepting, lets the requests in flight
finish (at most ``settings.shutdown_grace_seconds``, uvicorn's ``timeout_graceful_shutdown``), and
the long-lived responses end at once with a reconnection hint, so that browsers open them again
on another instance instead of holding this one until the grace runs out.

uvicorn tells the application nothing before its connections have closed (the lifespan's
shutdown comes after), so ``Drain.start`` chains a handler in front of the server's own for
SIGTERM and SIGINT: it marks the drain and hands on to uvicorn's handler, which stops the
server as before. Only the main thread can set signal handlers; elsewhere (an in-process test
client) ``begin()`` is called directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import threading
from collections.abc import AsyncIterator
from types import FrameType
from typing import Any

import structlog

from portti.infra.events import Subscription

log = structlog.get_logger(__name__)

# What a subscription receives when the server drains (never a valid published message).
DRAINING = "\x00draining"
# Browsers are told to reconnect after this many milliseconds, spread so that a whole
# instance's streams do not arrive at the others in the same instant.
RECONNECT_MS = (250, 1500)


class Drain:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subs: set[Subscription] = set()
        self.draining = False

    def start(self) -> None:
        """In the lifespan, on the server's event loop (after uvicorn set its handlers)."""
        self._loop = asyncio.get_running_loop()
        self.draining = False
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)
            if callable(previous):
                signal.signal(sig, self._chained(previous))

    def _chained(self, previous: Any) -> Any:
        def on_signal(signum: int, frame: FrameType | None) -> None:
            self.begin()
            previous(signum, frame)

        return on_signal

    def begin(self) -> None:
        """From a signal handler or any thread: every held stream ends soon after."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self.draining = True
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._begin)

    def _begin(self) -> None:
        if not self.draining:
            log.info("server_draining", streams=len(self._subs))
        self.draining = True
        for sub in list(self._subs):
            sub.deliver(DRAINING)

    @contextlib.asynccontextmanager
    async def hold(self, sub: Subscription) -> AsyncIterator[None]:
        """While inside, ``sub`` receives ``DRAINING`` when the server begins to stop (at once
        when it already has)."""
        self._subs.add(sub)
        if self.draining:
            sub.deliver(DRAINING)
        try:
            yield
        finally:
            self._subs.discard(sub)

    @staticmethod
    def reconnect_hint() -> str:
        """The Server-Sent Events lines that end a stream and ask the browser to come back."""
        return f"retry: {random.randint(*RECONNECT_MS)}\n: draining\n\n"
