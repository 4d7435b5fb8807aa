"""Plain Starlette endpoints for the busiest routes: the provider's authorization and token
endpoints, which every business application's login calls.

A FastAPI route resolves its dependencies (the unit of work, the database session, the
provider) on every request, a fixed cost larger than the work of a login that needs no
page (docs/benchmarks.md, "Single sign-on"). A plain endpoint takes the request alone and
runs its work here: a session of its own, the work and its commit (or rollback) in one hop
to a handler thread, the session closed there. Errors reach the app's exception handlers as
any route's do, and the admission gate counts the request as any other. They are the app's
own routes (``app.router``, not an included router's), so the access log and the metrics name
them by their path (``web/access.py``).

On SQLite they run one at a time, on a lane of their own beside the handler threads. Each of
them writes (a code, a refresh token, an audit row), and SQLite takes one writer at a time, so
running several at once gained nothing: they queued on the write lock (``db/session.py``)
while their threads handed Python's interpreter lock to each other at every statement. One at
a time, a single sign-on round trip costs a fifth less CPU at eight at once
(docs/benchmarks.md). They wait for the database and for no partner on the network (the
token endpoint's rate limit asks Redis, when configured, with a short timeout, and counts in
memory while Redis is down: ``infra/ratelimit.py``), so the lane is not held by a slow one; the
handler threads stay free for the password and PIN checks and the identity providers' calls. On PostgreSQL they run on the handler threads, several at once."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from portti.web.kit import kit
from portti.web.uow import UnitOfWork

T = TypeVar("T")

# Per engine: the event loop its lane was made on, and the lane (a limiter belongs to one loop).
_lanes: weakref.WeakKeyDictionary[Engine, tuple[asyncio.AbstractEventLoop, anyio.CapacityLimiter]]
_lanes = weakref.WeakKeyDictionary()


def sqlite_lane(engine: Engine) -> anyio.CapacityLimiter | None:
    """The lane on which the plain endpoints of ``engine`` run one at a time: SQLite only."""
    if engine.dialect.name != "sqlite":
        return None
    loop = asyncio.get_running_loop()
    held = _lanes.get(engine)
    if held is None or held[0] is not loop:
        held = _lanes[engine] = (loop, anyio.CapacityLimiter(1))
    return held[1]


async def in_unit_of_work(request: Request, work: Callable[[UnitOfWork], T]) -> T:
    """``work`` run in a handler thread within the request's own unit of work: committed
    when it returns or raises a refusal that keeps its writes, else rolled back; after-commit
    effects run once committed, as ``web/uow.py`` says."""
    state = kit(request)
    db = state.session_factory()
    uow = UnitOfWork(db, state.outbox_wakeup)

    def run() -> T:
        try:
            try:
                result = work(uow)
            except BaseException as exc:
                uow.end(exc)
                raise
            uow.end(None)
            return result
        finally:
            db.close()

    lane = sqlite_lane(state.engine)
    if lane is None:
        return await run_in_threadpool(run)
    return await anyio.to_thread.run_sync(run, limiter=lane)
