"""Ending clients' logins: whatever ends a Portti session ends the logins made in it.

Called from the places that end sessions, devices and memberships (in their transaction). An
ended login's tokens stop working at once (UserInfo and refresh check it), and a client that
registered a back-channel logout URI gets a logout token (``backchannel.py`` delivers it)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import and_, case, exists, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from portti.oidc_provider.models import OidcClient, OidcLogin

_WANTS_LOGOUT_TOKEN = exists(
    select(OidcClient.id).where(
        OidcClient.client_id == OidcLogin.client_id,
        OidcClient.backchannel_logout_uri.is_not(None),
    )
)


def end_client_logins(
    db: Session,
    now: datetime,
    *,
    reason: str,
    person_id: int | None = None,
    web_session_ids: Collection[str] | None = None,
    except_web_session_id: str | None = None,
    device_id: int | None = None,
    company_id: int | None = None,
    login_ids: Collection[int] | None = None,
) -> int:
    """Ends the open logins that match every given condition; returns how many."""
    conditions: list[ColumnElement[bool]] = [OidcLogin.ended_at.is_(None)]
    if person_id is not None:
        conditions.append(OidcLogin.person_id == person_id)
    if web_session_ids is not None:
        if not web_session_ids:
            return 0
        conditions.append(OidcLogin.web_session_id.in_(list(web_session_ids)))
    if except_web_session_id is not None:
        conditions.append(OidcLogin.web_session_id != except_web_session_id)
    if device_id is not None:
        conditions.append(OidcLogin.device_id == device_id)
    if company_id is not None:
        # A login for that company, or one whose claims list every company of the person.
        conditions.append(or_(OidcLogin.company_id == company_id, OidcLogin.company_id.is_(None)))
    if login_ids is not None:
        conditions.append(OidcLogin.id.in_(list(login_ids)))
    result = db.execute(
        update(OidcLogin)
        .where(and_(*conditions))
        .values(
            ended_at=now,
            end_reason=reason[:40],
            logout_status=case((_WANTS_LOGOUT_TOKEN, "pending"), else_=None),
            logout_next_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def move_client_logins(db: Session, old_web_session_id: str, new_web_session_id: str) -> None:
    """A session replaced by a new token (a step-up rotates it) keeps its clients' logins: they
    follow it, so ending the new session ends them too."""
    db.execute(
        update(OidcLogin)
        .where(OidcLogin.web_session_id == old_web_session_id, OidcLogin.ended_at.is_(None))
        .values(web_session_id=new_web_session_id)
        .execution_options(synchronize_session=False)
    )
