"""Request dependencies as ``Annotated`` aliases. Long-lived objects live on the app's
``Runtime`` (``portti.runtime``).

Dependencies that only read the runtime or build objects (no I/O) are ``async def``: FastAPI
runs a plain ``def`` dependency in the thread pool, a hop of its own for each one per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
import anyio.to_thread
import structlog
from fastapi import Depends, Path, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.audit.services import AuditLog, RequestContext
from portti.companies.actors import Actor
from portti.companies.models import Company, Membership
from portti.companies.policy import limit_to_login
from portti.companies.services import MembershipService
from portti.config import Settings
from portti.errors import NotAuthenticated
from portti.i18n import _l, current_choice
from portti.infra.clock import Clock
from portti.infra.outbox import Outbox, outbox_box
from portti.runtime import Runtime, runtime
from portti.web.cookies import session_cookie_name
from portti.web.csrf import carries_bearer
from portti.web.uow import UnitOfWork
from portti.weblogin.models import WebSession
from portti.weblogin.sessions import SessionService

log = structlog.get_logger(__name__)


async def get_settings(request: Request) -> Settings:
    settings: Settings = runtime(request).settings
    return settings


async def get_clock(request: Request) -> Clock:
    clock: Clock = runtime(request).clock
    return clock


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One session per request. Its transaction is ended by the unit of work
    (``get_unit_of_work``); this closes it once the response is sent.

    Opening a session does no I/O (it connects on first use), and neither does closing one
    whose work was committed: both stay on the event loop. Only a session still holding a
    connection (a read-only handler, or an error mid-transaction) is closed in the thread pool,
    where its rollback may wait on the database."""
    session: Session = runtime(request).session_factory()
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


async def get_unit_of_work(db: DbSession) -> AsyncIterator[UnitOfWork]:
    """Every route runs in one (``create_app`` adds it to all of them): commits when the
    handler returns or raises a refusal that keeps its writes, rolls back otherwise, then runs
    the after-commit effects. ``scope="function"``: this ends before the response is sent, and
    sees the handler's exception (see ``web/uow.py``)."""
    uow = UnitOfWork(db)
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


def sessions_from(rt: Runtime, db: Session) -> SessionService:
    """The web session service with the settings' idle and absolute lifetimes."""
    from datetime import timedelta

    return SessionService(
        db,
        rt.clock,
        idle=timedelta(minutes=rt.settings.session_idle_minutes),
        absolute=timedelta(hours=rt.settings.session_absolute_hours),
    )


async def get_session_service(request: Request, db: DbSession) -> SessionService:
    return sessions_from(runtime(request), db)


Sessions = Annotated[SessionService, Depends(get_session_service)]


def get_optional_session(request: Request, uow: Uow) -> WebSession | None:
    return optional_session(request, uow)


def optional_session(request: Request, uow: UnitOfWork) -> WebSession | None:
    """The browser's Portti session, or None. A handler thread's work (it reads the database):
    ``get_optional_session`` as a dependency, or called in a route's own hop to a thread.

    The session service is built here, not taken as a dependency: nearly every page and the
    provider's authorization endpoint resolve the session, and each sub-dependency is a step
    of FastAPI's own on every request."""
    if carries_bearer(request):
        # A machine client's request (PRV-1): it acts by its token only, never by a cookie
        # the same client might carry; and it skipped the CSRF check on that ground.
        return None
    sessions = sessions_from(runtime(request), uow.db)
    ws = sessions.resolve(request.cookies.get(session_cookie_name(request)))
    if ws is not None:
        request.state.session_id = ws.id
        # Everything this request decides for the person reaches no further than the login
        # (SEC-14): an app login carries only its device's companies.
        limit_to_login(uow.db, ws.person_id, ws.company_scope)
        choose_language(uow.db, ws)
        if uow.db.dirty:
            # The idle time slides even when the route then refuses (and rolls back).
            uow.commit_now()
    return ws


def choose_language(db: Session, ws: WebSession) -> None:
    """The person's own language, else (when the browser named none) the company's default:
    the chosen company's, or before a choice the company the person joined first."""
    choice = current_choice()
    if choice is None:
        return
    choice.person_setting(ws.person.language)
    if not choice.explicit:
        query = select(Company.default_language)
        if ws.company_id is not None:
            query = query.where(Company.id == ws.company_id)
        else:
            query = (
                query.join(Membership, Membership.company_id == Company.id)
                .where(Membership.person_id == ws.person_id)
                .order_by(Membership.id)
                .limit(1)
            )
        choice.company_default(db.scalar(query))


OptionalWebSession = Annotated[WebSession | None, Depends(get_optional_session)]


async def get_current_session(ws: OptionalWebSession) -> WebSession:
    if ws is None:
        raise NotAuthenticated(_l("Log in to continue."))
    return ws


CurrentSession = Annotated[WebSession, Depends(get_current_session)]


async def get_actor(ws: CurrentSession) -> Actor:
    return Actor(person_id=ws.person_id, strong_auth_at=ws.strong_auth_at)


CurrentActor = Annotated[Actor, Depends(get_actor)]


async def get_membership_service(
    request: Request, db: DbSession, clock: ClockDep, audit: Audit, settings: SettingsDep
) -> MembershipService:
    return MembershipService(
        db,
        clock,
        audit,
        step_up_window=settings.step_up_window,
        outbox=Outbox(db, clock, outbox_box(settings.secret)),
        jinja=runtime(request).templates.env,
    )


Members = Annotated[MembershipService, Depends(get_membership_service)]
