"""Request dependencies as ``Annotated`` aliases. Long-lived objects live on ``app.state``.

Dependencies that only read ``app.state`` or build objects (no I/O) are ``async def``: FastAPI
runs a plain ``def`` dependency in the thread pool, a hop of its own for each one per request."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from portti.audit.services import AuditLog, RequestContext
from portti.companies.services import Actor, MembershipService
from portti.config import Settings
from portti.errors import DomainError, NotAuthenticated
from portti.infra.clock import Clock
from portti.weblogin.models import WebSession
from portti.weblogin.sessions import SessionService

SESSION_COOKIE = "portti_session"


@contextmanager
def kept_on_refusal(db: Session, after: Callable[[], None] | None = None) -> Iterator[None]:
    """Services record a refusal (an audit row, a counted wrong PIN or code) and then raise a
    domain error: commit anyway so that the record stays, then let the error answer."""
    try:
        yield
    except DomainError:
        db.commit()
        if after is not None:
            after()
        raise


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_db(request: Request) -> Iterator[Session]:
    """One session per request; handlers that change data commit explicitly."""
    with request.app.state.session_factory() as session:
        yield session


def client_ip(request: Request) -> str | None:
    settings: Settings = request.app.state.settings
    peer = request.client.host if request.client else None
    forwarded = request.headers.get("x-forwarded-for")
    # Only a proxy we trust may tell us who its client was.
    if forwarded and peer in settings.trusted_proxies:
        return forwarded.split(",")[-1].strip()[:45]
    return peer


async def get_request_context(request: Request) -> RequestContext:
    return RequestContext(ip=client_ip(request), user_agent=request.headers.get("user-agent"))


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
DbSession = Annotated[Session, Depends(get_db)]
RequestCtx = Annotated[RequestContext, Depends(get_request_context)]


async def get_audit(db: DbSession, clock: ClockDep, ctx: RequestCtx) -> AuditLog:
    return AuditLog(db, clock, ctx)


Audit = Annotated[AuditLog, Depends(get_audit)]


def get_session_service(db: DbSession, clock: ClockDep, settings: SettingsDep) -> SessionService:
    from datetime import timedelta

    return SessionService(
        db,
        clock,
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_absolute_hours),
    )


Sessions = Annotated[SessionService, Depends(get_session_service)]


def get_optional_session(request: Request, sessions: Sessions, db: DbSession) -> WebSession | None:
    ws = sessions.resolve(request.cookies.get(SESSION_COOKIE))
    if ws is not None:
        request.state.session_id = ws.id
        if db.dirty:
            db.commit()
    return ws


OptionalWebSession = Annotated[WebSession | None, Depends(get_optional_session)]


def get_current_session(ws: OptionalWebSession) -> WebSession:
    if ws is None:
        raise NotAuthenticated("Log in to continue.")
    return ws


CurrentSession = Annotated[WebSession, Depends(get_current_session)]


def get_actor(ws: CurrentSession) -> Actor:
    return Actor(person_id=ws.person_id, strong_auth_at=ws.strong_auth_at)


CurrentActor = Annotated[Actor, Depends(get_actor)]


def get_membership_service(
    db: DbSession, clock: ClockDep, audit: Audit, settings: SettingsDep
) -> MembershipService:
    return MembershipService(db, clock, audit, step_up_window=settings.step_up_window)


Members = Annotated[MembershipService, Depends(get_membership_service)]
