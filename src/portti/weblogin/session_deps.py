"""The browser's Portti session in requests: the session service, the optional and the required
session, with the person's language chosen on the way."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from portti.companies.policy import limit_to_login
from portti.companies.queries import company_language, first_company_language
from portti.errors import NotAuthenticated
from portti.i18n import _l, current_choice
from portti.web.cookies import session_cookie_name
from portti.web.csrf import carries_bearer
from portti.web.deps import DbSession, Uow
from portti.web.kit import Kit, kit
from portti.web.uow import UnitOfWork
from portti.weblogin.models import WebSession
from portti.weblogin.sessions import SessionService


def sessions_from(state: Kit, db: Session) -> SessionService:
    """The web session service with the settings' idle and absolute lifetimes."""
    return SessionService(
        db,
        state.clock,
        idle=timedelta(minutes=state.settings.session_idle_minutes),
        absolute=timedelta(hours=state.settings.session_absolute_hours),
    )


async def get_session_service(request: Request, db: DbSession) -> SessionService:
    return sessions_from(kit(request), db)


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
    sessions = sessions_from(kit(request), uow.db)
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
        if ws.company_id is not None:
            choice.company_default(company_language(db, ws.company_id))
        else:
            choice.company_default(first_company_language(db, ws.person_id))


OptionalWebSession = Annotated[WebSession | None, Depends(get_optional_session)]


async def get_current_session(ws: OptionalWebSession) -> WebSession:
    if ws is None:
        raise NotAuthenticated(_l("Log in to continue."))
    return ws


CurrentSession = Annotated[WebSession, Depends(get_current_session)]
