"""The kit's request dependencies as ``Annotated`` aliases: settings, clock, the database
session, the unit of work, the audit log. Long-lived objects are the app's ``Kit``
(``web/kit.py``); the domains' dependencies are in their own ``deps`` modules.

Dependencies that only read the kit or build objects (no I/O) are ``async def``: FastAPI
runs a plain ``def`` dependency in the thread pool, a hop of its own for each one per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
import anyio.to_thread
import structlog
from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session

from portti.audit.services import AuditLog, RequestContext
from portti.config import Settings
from portti.infra.clock import Clock
from portti.web.kit import kit
from portti.web.uow import UnitOfWork

log = structlog.get_logger(__name__)


async def get_settings(request: Request) -> Settings:
    settings: Settings = kit(request).settings
    return settings


async def get_clock(request: Request) -> Clock:
    clock: Clock = kit(request).clock
    return clock


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One session per request. Its transaction is ended by the unit of work
    (``get_unit_of_work``); this closes it once the response is sent.

    Opening a session does no I/O (it connects on first use), and neither does closing one
    whose work was committed: both stay on the event loop. Only a session still holding a
    connection (a read-only handler, or an error mid-transaction) is closed in the thread pool,
    where its rollback may wait on the database."""
    session: Session = kit(request).session_factory()
    try:
        yield session
    finally:
        # Shielded: a request cancelled here (its client went away) must still give back its
        # connection and, on SQLite, the write lock its transaction holds.
        with anyio.CancelScope(shield=True):
            await _end_session(session)


async def _end_session(session: Session) -> None:
    if session.in_transaction():
        # Not in the handlers' pool: when every worker thread waits for a database
        # connection, the close that gives one back must still run (FastAPI closes
        # ``def`` dependencies on a limiter of their own, one per call, for the same reason).
        await anyio.to_thread.run_sync(_close, session, limiter=anyio.CapacityLimiter(1))
    else:
        session.close()


def _close(session: Session) -> None:
    try:
        session.close()
    except Exception:  # the connection is gone (a database outage); the answer is already out
        log.warning("session_close_failed")


def client_ip(request: Request) -> str | None:
    """The client's address: a trusted proxy's ``X-Forwarded-For`` was read already
    (``web/proxy.py``, OPS-15)."""
    return request.client.host if request.client else None


def request_context(request: Request) -> RequestContext:
    return RequestContext(ip=client_ip(request), user_agent=request.headers.get("user-agent"))


async def get_request_context(request: Request) -> RequestContext:
    return request_context(request)


# Row ids are INTEGER columns (PostgreSQL's int4): a larger number in a URL could only fail in
# the database, so it is refused as a validation error before (SEC-10).
MAX_ID = 2**31 - 1
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]

SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
DbSession = Annotated[Session, Depends(get_db)]
RequestCtx = Annotated[RequestContext, Depends(get_request_context)]


async def get_unit_of_work(request: Request, db: DbSession) -> AsyncIterator[UnitOfWork]:
    """Every route runs in one (``create_app`` adds it to all of them): commits when the
    handler returns or raises a refusal that keeps its writes, rolls back otherwise, then runs
    the after-commit effects. ``scope="function"``: this ends before the response is sent, and
    sees the handler's exception (see ``web/uow.py``)."""
    uow = UnitOfWork(db, kit(request).outbox_wakeup)
    try:
        yield uow
    except BaseException as exc:
        with anyio.CancelScope(shield=True):  # a cancelled request still rolls back
            await uow.finish(exc)
        raise
    await uow.finish(None)


UnitOfWorkDep = Depends(get_unit_of_work, scope="function")
Uow = Annotated[UnitOfWork, UnitOfWorkDep]


async def get_audit(db: DbSession, clock: ClockDep, ctx: RequestCtx) -> AuditLog:
    return AuditLog(db, clock, ctx)


Audit = Annotated[AuditLog, Depends(get_audit)]
