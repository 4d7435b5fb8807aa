"""Browser sessions: created at login with a fresh id, idle and absolute timeouts, revocable."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from portti import hooks
from portti.audit.models import AuditAction
from portti.audit.services import AuditLog, RequestContext
from portti.errors import NotFound
from portti.i18n import _l
from portti.infra.clock import Clock
from portti.weblogin.models import (
    LoginPurpose,
    LoginTransaction,
    LoginTransactionStatus,
    WebSession,
)

# Writing last_seen_at on every request would turn each read into a write.
TOUCH_INTERVAL = timedelta(seconds=60)
# Every page and every authorization resolves the session: a statement built once (``get``
# builds its own each call).
_BY_ID = select(WebSession).where(WebSession.id == bindparam("id"))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionService:
    def __init__(
        self,
        db: Session,
        clock: Clock,
        *,
        idle: timedelta,
        absolute: timedelta,
    ) -> None:
        self.db = db
        self.clock = clock
        self.idle = idle
        self.absolute = absolute

    def start(
        self,
        person_id: int,
        *,
        method: str,
        strong: bool,
        ctx: RequestContext,
        replaces: str | None = None,
        approved_by_device_id: int | None = None,
        acr: str | None = None,
        amr: list[str] | None = None,
        company_scope: list[int] | None = None,
    ) -> tuple[str, WebSession]:
        """A new session with a new id (never the one the browser had before login).
        ``approved_by_device_id``: the app that approved a QR login (SEC-4). ``acr`` and
        ``amr``: what the identity provider said of the login (OIDC-5). ``company_scope``: the
        companies that app carries (SEC-14), None for a login that may enter every company the
        person's rights reach."""
        now = self.clock.now()
        if replaces:
            self.db.execute(
                update(WebSession)
                .where(WebSession.id == replaces, WebSession.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            hooks.sessions_ended.fire(
                hooks.SessionsEnded(
                    self.db, now, reason="session_replaced", web_session_ids=[replaces]
                )
            )
        token = secrets.token_urlsafe(32)
        ws = WebSession(
            id=hash_token(token),
            person_id=person_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.absolute,
            login_method=method,
            login_acr=acr[:100] if acr else None,
            login_amr=amr or None,
            strong_auth_at=now if strong else None,
            strong_auth_method=method if strong else None,
            ip=ctx.ip,
            user_agent=(ctx.user_agent or "")[:300] or None,
            approved_by_device_id=approved_by_device_id,
            company_scope=company_scope,
        )
        self.db.add(ws)
        self.db.flush()
        return token, ws

    def resolve(self, token: str | None) -> WebSession | None:
        if not token or len(token) > 100:
            return None
        ws = self.db.scalars(_BY_ID, {"id": hash_token(token)}).one_or_none()
        if ws is None or ws.revoked_at is not None:
            return None
        now = self.clock.now()
        if now >= ws.expires_at or now - ws.last_seen_at > self.idle:
            return None
        if now - ws.last_seen_at > TOUCH_INTERVAL:
            ws.last_seen_at = now
        return ws

    def for_person(self, person_id: int) -> Sequence[WebSession]:
        now = self.clock.now()
        rows = self.db.scalars(
            select(WebSession)
            .where(WebSession.person_id == person_id, WebSession.revoked_at.is_(None))
            .order_by(WebSession.last_seen_at.desc())
        ).all()
        return [s for s in rows if now < s.expires_at and now - s.last_seen_at <= self.idle]

    def revoke(self, person_id: int, session_id: str, audit: AuditLog, *, actor_id: int) -> None:
        ws = self.db.get(WebSession, session_id)
        if ws is None or ws.person_id != person_id or ws.revoked_at is not None:
            raise NotFound(_l("No such session."))
        ws.revoked_at = self.clock.now()
        hooks.sessions_ended.fire(
            hooks.SessionsEnded(
                self.db, ws.revoked_at, reason="session_revoked", web_session_ids=[ws.id]
            )
        )
        audit.record(
            AuditAction.SESSION_REVOKED,
            actor_person_id=actor_id,
            subject_person_id=person_id,
            session=session_id[:12],
        )

    def log_out(self, ws: WebSession, audit: AuditLog) -> None:
        """The person logs out of this browser: the session ends, and with it the business
        applications' logins it made (their back-channel logout)."""
        ws.revoked_at = self.clock.now()
        hooks.sessions_ended.fire(
            hooks.SessionsEnded(self.db, ws.revoked_at, reason="logout", web_session_ids=[ws.id])
        )
        audit.record(
            AuditAction.LOGOUT, actor_person_id=ws.person_id, subject_person_id=ws.person_id
        )

    def revoke_all(
        self,
        person_id: int,
        audit: AuditLog,
        *,
        actor_id: int,
        company_id: int | None = None,
        except_id: str | None = None,
    ) -> int:
        now = self.clock.now()
        q = update(WebSession).where(
            WebSession.person_id == person_id, WebSession.revoked_at.is_(None)
        )
        if except_id:
            q = q.where(WebSession.id != except_id)
        count = self.db.execute(q.values(revoked_at=now)).rowcount  # type: ignore[attr-defined]
        # The person's logins at business applications end with the sessions they were made in.
        hooks.sessions_ended.fire(
            hooks.SessionsEnded(
                self.db,
                now,
                reason="sessions_revoked",
                person_id=person_id,
                except_web_session_id=except_id,
            )
        )
        audit.record(
            AuditAction.SESSION_REVOKED,
            company_id=company_id,
            actor_person_id=actor_id,
            subject_person_id=person_id,
            all_sessions=True,
            count=count,
        )
        return int(count)

    def revoke_approved_by(
        self, device_id: int, audit: AuditLog, *, person_id: int, reason: str
    ) -> int:
        """SEC-4: ends the web sessions a device let in: QR logins it approved, and sessions
        it stepped up (its completed step-up transactions name them)."""
        stepped_up = select(LoginTransaction.web_session_id).where(
            LoginTransaction.device_id == device_id,
            LoginTransaction.purpose == LoginPurpose.STEP_UP.value,
            LoginTransaction.status == LoginTransactionStatus.COMPLETED.value,
            LoginTransaction.web_session_id.is_not(None),
        )
        result = self.db.execute(
            update(WebSession)
            .where(
                WebSession.revoked_at.is_(None),
                or_(
                    WebSession.approved_by_device_id == device_id,
                    WebSession.id.in_(stepped_up),
                ),
            )
            .values(revoked_at=self.clock.now())
            .execution_options(synchronize_session="fetch")
        )
        count = int(result.rowcount)  # type: ignore[attr-defined]
        if count:
            audit.record(
                AuditAction.SESSION_REVOKED,
                actor_person_id=None,
                subject_person_id=person_id,
                approved_by_device=device_id,
                reason=reason,
                count=count,
            )
        return count

    def record_step_up(
        self, ws: WebSession, method: str, *, device_id: int | None = None
    ) -> tuple[str, WebSession]:
        """Strong authentication raises what the session may do, so the session gets a new
        token (SEC-11): the old token is revoked, and one that leaked or was planted before the
        step-up never carries the stronger rights. The new session keeps the old one's
        absolute limit, so a step-up does not lengthen a session's life. ``device_id``, the app
        that approved the step-up, is remembered: "This wasn't me" for it ends the session (SEC-4)."""
        now = self.clock.now()
        ws.revoked_at = now
        token = secrets.token_urlsafe(32)
        rotated = WebSession(
            id=hash_token(token),
            person_id=ws.person_id,
            created_at=ws.created_at,
            last_seen_at=now,
            expires_at=ws.expires_at,
            login_method=ws.login_method,
            login_acr=ws.login_acr,
            login_amr=ws.login_amr,
            strong_auth_at=now,
            strong_auth_method=method,
            company_id=ws.company_id,
            ip=ws.ip,
            user_agent=ws.user_agent,
            approved_by_device_id=device_id or ws.approved_by_device_id,
            # A step-up proves the person again; it does not widen what the login may enter.
            company_scope=ws.company_scope,
        )
        self.db.add(rotated)
        self.db.flush()
        hooks.session_rotated.fire(hooks.SessionRotated(self.db, ws.id, rotated.id))
        return token, rotated
