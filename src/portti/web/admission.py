"""Admission: how many requests one process serves at once, and what the others are told.

A request holds its database connection from its first statement to its commit, across
several hops to the handler threads (the session dependency, the handler, the commit). When
more requests ran at once than the pool had connections, those holding one waited for a thread
while every thread waited for a connection: each request hung for the pool's timeout, then
failed (OPS-16). At most ``limit`` requests are let in at once, ``limit`` no larger than the
pool (``Settings.concurrent_requests``: the pool less the connections the workers need), so a
request let in always gets a connection. Others wait in a queue, first come first served, for
at most ``wait_seconds``. A request that finds the queue full, or so long that at the pace
requests are being served (a moving average of the time each holds its place) its turn would
come after ``wait_seconds``, is refused at once; one whose wait runs out anyway, then. Refused
requests are answered by ``refuse`` (503 with ``Retry-After``, ``web/errors.py``): the client
retries, or the load balancer tries another instance, instead of waiting on a hung one.

A person logging in goes first. The requests of a login (the login page and what follows it:
starting one by the app or by bank ID, the QR login's steps, the bank ID's return; the phone's
app API: a scan, an approval; a business application's login at the provider: the
authorization, the company choice and consent, the token endpoint whatever the grant) wait in
a queue of their own. While both queues wait, a place given back goes to a login three times
out of four (``LOGIN_SHARE``), so that at a peak the rest (the admin's pages and API) is turned
away first, but never shut out. With one queue, a saturated step of the capacity ramp
refused every QR login's start: the clients that reload a page as soon as it is answered came
back just as a place came free, and a start, arriving at any moment, found the queue too long;
with logins always first, the pages were shut out instead (docs/benchmarks.md, "Capacity").

Not counted: liveness, readiness and metrics (they must answer however busy the process is),
static files (no database), and an event stream once it streams (it holds no connection while
it waits: ``qrlogin/views.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portti.infra import metrics

# The weight of the latest request in the moving average of the time a place is held.
SMOOTHING = 0.1
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
EXEMPT_PREFIXES = ("/static/", "/app/static/")
# A login's requests (the module's docstring).
LOGIN_PREFIXES = ("/login/", "/app-api/")
LOGIN_PATHS = frozenset(
    {"/login", "/oidc/authorize", "/oidc/continue", "/oidc/company", "/oidc/consent", "/oidc/token"}
)
# While both queues wait: this many places go to logins for each one that goes to the rest.
LOGIN_SHARE = 3


def is_a_login(path: str) -> bool:
    """True for a request of a login: it goes ahead of the rest at a peak."""
    return path in LOGIN_PATHS or path.startswith(LOGIN_PREFIXES)


Refuse = Callable[[Scope, Receive, Send], Awaitable[None]]


class Admission:
    """A counting gate with two bounded first-come-first-served queues, the first (logins)
    given ``LOGIN_SHARE`` places for each one the other gets while both wait. Futures are made
    on the running loop when a request has to wait, so the gate is bound to no loop."""

    def __init__(self, limit: int, queue_length: int, wait_seconds: float) -> None:
        self.limit = limit
        self.queue_length = queue_length
        self.wait_seconds = wait_seconds
        self.active = 0
        self._first: deque[asyncio.Future[None]] = deque()
        self._waiters: deque[asyncio.Future[None]] = deque()
        # Places handed to logins in a row while the rest waited.
        self._logins_in_a_row = 0
        # Seconds a request holds its place, a moving average; 0 until one has left.
        self.service_seconds = 0.0

    @property
    def waiting(self) -> int:
        return len(self._first) + len(self._waiters)

    async def enter(self, first: bool = False) -> bool:
        """True once the request may go on (it must then ``leave``); False when refused.
        ``first``: a login, queued ahead of the rest."""
        if self.active < self.limit and not self.waiting:
            self.active += 1
            return True
        queue = self._first if first else self._waiters
        if len(queue) >= self.queue_length or self.wait_seconds <= 0:
            return False
        if self.expected_wait(first) > self.wait_seconds:
            return False
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        waiting = metrics.ADMISSION_WAITING.labels(_queue_name(first))
        waiting.inc()
        try:
            await asyncio.wait({waiter}, timeout=self.wait_seconds)
        except BaseException:  # the client went away while waiting
            if not self._abandon(queue, waiter):
                self.leave()
            raise
        finally:
            waiting.dec()
        return not self._abandon(queue, waiter)

    @staticmethod
    def _abandon(queue: deque[asyncio.Future[None]], waiter: asyncio.Future[None]) -> bool:
        """Leave the queue; False when a place was handed over first (the caller holds it)."""
        if waiter.done() and not waiter.cancelled():
            return False
        waiter.cancel()
        with contextlib.suppress(ValueError):  # already handed a place and popped
            queue.remove(waiter)
        return True

    def expected_wait(self, first: bool = False) -> float:
        """How long a request joining its queue now would wait for its place: the places to be
        handed over before its turn, in the shares ``leave`` hands them in."""
        logins, rest = len(self._first), len(self._waiters)
        if first:
            ahead = logins + min(rest, logins // LOGIN_SHARE)
        else:
            ahead = rest + min(logins, LOGIN_SHARE * (rest + 1))
        return (ahead + 1) * self.service_seconds / self.limit

    def served(self, seconds: float) -> None:
        """A request held its place ``seconds``: the pace the queue moves at."""
        self.service_seconds += SMOOTHING * (seconds - self.service_seconds)

    def leave(self) -> None:
        """Give the place back, or hand it straight to a request waiting: the first login, or
        the first of the rest when logins have had their share in a row."""
        while self._first or self._waiters:
            logins_turn = bool(self._first) and (
                not self._waiters or self._logins_in_a_row < LOGIN_SHARE
            )
            queue = self._first if logins_turn else self._waiters
            self._logins_in_a_row = self._logins_in_a_row + 1 if logins_turn else 0
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the place passes on: ``active`` stays
                return
        self.active -= 1


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, *, admission: Admission, refuse: Refuse) -> None:
        self.app = app
        self.admission = admission
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        login = is_a_login(path)
        if not await self.admission.enter(login):
            metrics.ADMISSION_REFUSALS.labels(_queue_name(login)).inc()
            await self.refuse(scope, receive, send)
            return
        held = True
        entered = time.monotonic()

        def release() -> None:
            nonlocal held
            if held:
                held = False
                self.admission.served(time.monotonic() - entered)
                self.admission.leave()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start" and _is_event_stream(message):
                release()  # streaming from here on, on no connection of its own
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            release()


def _queue_name(login: bool) -> str:
    return "login" if login else "other"


def _is_event_stream(message: Message) -> bool:
    for name, value in message.get("headers", []):
        if name.lower() == b"content-type":
            return bytes(value).startswith(b"text/event-stream")
    return False
