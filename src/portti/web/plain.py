"""Plain Starlette endpoints for the busiest routes: the provider's authorization and token
endpoints, which every business application's login calls.

A FastAPI route resolves its dependencies (the unit of work, the database session, the
provider) on every request, a fixed cost larger than the work of a login that needs no
page (docs/benchmarks.md, "Single sign-on"). A plain endpoint takes the request alone and
runs its work here: a session of its own, the work and its commit (or rollback) in one hop
to a handler thread, the session closed there. Errors reach the app's exception handlers as
any route's do, and the admission gate counts the request as any other. They are the app's
own routes (``app.router``, not an included router's), so the access log and the metrics name
them by their path (``web/access.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from portti.web.kit import kit
from portti.web.uow import UnitOfWork

T = TypeVar("T")


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

    return await run_in_threadpool(run)
