"""Client logins that live only as long as the Portti session they were made in (SEC-15).

A client login rests on a Portti web session. A session that is revoked or logged out ends its
logins at once (``weblogin.sessions``); one that simply expires (idle or absolute timeout) is
noticed by nobody, as no request arrives to notice it. This sweep, run by the back-channel
logout worker with the ended-membership sweep, finds the open client logins whose session has
expired, is revoked or is gone, and ends them like any other: their access tokens stop working
at UserInfo, their refresh tokens at the token endpoint, and each client that registered a
back-channel logout URI gets a logout token.

A login for which the client was granted ``offline_access`` is the exception: the person
allowed the application to go on without them (OIDC Core §11), so its refresh tokens outlive
the session (until they expire, are revoked, or the login is ended explicitly: logout, a revoked
session or device, an ended membership). The token endpoint and UserInfo check the session
themselves too, so no token outlives its session by the sweep's interval."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import Exists

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.infra.clock import Clock
from portti.oidc_provider.logins import end_client_logins
from portti.oidc_provider.models import OidcLogin, RefreshToken
from portti.weblogin.models import WebSession

OFFLINE_ACCESS = "offline_access"
SESSION_ENDED = "session_expired"
BATCH = 500


def session_alive(db: Session, login_id: int, now: datetime, idle: timedelta) -> bool:
    """Whether the Portti session of this client login is still valid, by the same rule as
    ``SessionService.resolve`` (not revoked, within the absolute and idle timeouts)."""
    row = db.execute(
        select(WebSession.revoked_at, WebSession.expires_at, WebSession.last_seen_at)
        .join(OidcLogin, OidcLogin.web_session_id == WebSession.id)
        .where(OidcLogin.id == login_id)
    ).first()
    if row is None:
        return False
    revoked_at, expires_at, last_seen_at = row
    return revoked_at is None and now < expires_at and now - last_seen_at <= idle


def _has_offline_access(now: datetime) -> Exists:
    """A live refresh token of the login that was granted ``offline_access``."""
    return exists(
        select(RefreshToken.token_hash).where(
            RefreshToken.login_id == OidcLogin.id,
            RefreshToken.scope.contains(OFFLINE_ACCESS),
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > now,
        )
    )


def end_logins_of_expired_sessions(db: Session, clock: Clock, idle: timedelta) -> int:
    """Ends the open client logins whose Portti session is over; returns how many."""
    now = clock.now()
    ended_session = or_(
        WebSession.id.is_(None),
        WebSession.revoked_at.is_not(None),
        WebSession.expires_at <= now,
        WebSession.last_seen_at < now - idle,
    )
    rows = db.execute(
        select(OidcLogin.id, OidcLogin.person_id, OidcLogin.client_id, OidcLogin.company_id)
        .outerjoin(WebSession, WebSession.id == OidcLogin.web_session_id)
        .where(and_(OidcLogin.ended_at.is_(None), ended_session, ~_has_offline_access(now)))
        .limit(BATCH)
    ).all()
    if not rows:
        return 0
    count = end_client_logins(db, now, reason=SESSION_ENDED, login_ids=[r.id for r in rows])
    audit = AuditLog(db, clock)
    for _, person_id, client_id, company_id in rows:
        audit.record(
            AuditAction.OIDC_LOGOUT,
            company_id=company_id,
            subject_person_id=person_id,
            client=client_id,
            reason=SESSION_ENDED,
        )
    return count
