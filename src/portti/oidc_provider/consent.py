"""Consent (OIDC-4): what a person allowed an application to learn, asked once and remembered.

An application registered as ``first_party`` (the operator's own) is not asked for. Any other
asks the person, on a page naming the application and what it gets (name, e-mail, the
companies and roles, ``offline_access``), the first time and again whenever it asks for a
scope not yet allowed or sends ``prompt=consent``. The person lists and revokes what they
allowed in their basic settings; revoking ends the application's logins of the person (a
back-channel logout) and its refresh tokens, so the next login asks again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.errors import NotFound
from portti.i18n import _l
from portti.infra.clock import Clock
from portti.oidc_provider.logins import end_client_logins
from portti.oidc_provider.models import OidcClient, OidcConsent, OidcLogin, RefreshToken

# The scopes a person is asked about ("openid" alone tells only who they are, by ``sub``).
ASKED_SCOPES = ("profile", "email", "companies", "offline_access")


@dataclass(frozen=True)
class ConsentView:
    id: int
    client_id: str
    client_name: str
    scopes: list[str]
    granted_at: datetime


class ConsentService:
    def __init__(self, db: Session, clock: Clock, audit: AuditLog) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit

    def needed(self, client: OidcClient, person_id: int, scopes: list[str], *, asked: bool) -> bool:
        """Whether the person must be asked: never for a first-party application; always when
        the request says ``prompt=consent`` (``asked``); else when a scope was not allowed."""
        if client.first_party:
            return False
        if asked:
            return True
        row = self._row(person_id, client.client_id)
        return row is None or not set(scopes) <= set(row.scopes)

    def grant(self, client: OidcClient, person_id: int, scopes: list[str]) -> None:
        now = self.clock.now()
        row = self._row(person_id, client.client_id)
        if row is None:
            row = OidcConsent(
                person_id=person_id, client_id=client.client_id, scopes=[], granted_at=now
            )
            self.db.add(row)
        row.scopes = sorted(set(scopes))
        row.granted_at = now
        self.db.flush()
        self.audit.record(
            AuditAction.OIDC_CONSENT_GRANTED,
            actor_person_id=person_id,
            subject_person_id=person_id,
            client=client.client_id,
            scope=" ".join(row.scopes),
        )

    def for_person(self, person_id: int) -> list[ConsentView]:
        rows = self.db.execute(
            select(OidcConsent, OidcClient.name)
            .join(OidcClient, OidcClient.client_id == OidcConsent.client_id)
            .where(OidcConsent.person_id == person_id)
            .order_by(OidcClient.name)
        ).all()
        return [
            ConsentView(c.id, c.client_id, name, list(c.scopes), c.granted_at) for c, name in rows
        ]

    def revoke(self, person_id: int, consent_id: int) -> None:
        """The person's own consent only; another's is "not found" (no oracle)."""
        row = self.db.get(OidcConsent, consent_id)
        if row is None or row.person_id != person_id:
            raise NotFound(_l("No such permission."))
        now = self.clock.now()
        logins = list(
            self.db.scalars(
                select(OidcLogin.id).where(
                    OidcLogin.person_id == person_id,
                    OidcLogin.client_id == row.client_id,
                    OidcLogin.ended_at.is_(None),
                )
            )
        )
        if logins:
            self.db.execute(
                update(RefreshToken)
                .where(RefreshToken.login_id.in_(logins), RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            end_client_logins(self.db, now, reason="consent_revoked", login_ids=logins)
        self.db.delete(row)
        self.audit.record(
            AuditAction.OIDC_CONSENT_REVOKED,
            actor_person_id=person_id,
            subject_person_id=person_id,
            client=row.client_id,
        )

    def _row(self, person_id: int, client_id: str) -> OidcConsent | None:
        return self.db.scalars(
            select(OidcConsent).where(
                OidcConsent.person_id == person_id, OidcConsent.client_id == client_id
            )
        ).one_or_none()
