"""Looking at the database from a test: row counts and a snapshot of everything an admin action
could change, to prove that a refused request changed nothing."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from portti.audit.models import AuditEvent
from portti.companies.models import Membership, MembershipProfile, MembershipRole
from portti.people.models import Person, PersonIdentifier
from portti.weblogin.models import WebSession

BACKEND_IS_SQLITE = os.environ.get("PORTTI_TEST_DATABASE", "sqlite") == "sqlite"

COUNTED = {
    "persons": Person,
    "identifiers": PersonIdentifier,
    "memberships": Membership,
    "membership_roles": MembershipRole,
    "membership_profiles": MembershipProfile,
    "audit_events": AuditEvent,
    "web_sessions": WebSession,
}

# What the app could change; web_sessions.last_seen_at is left out (reading a page touches it).
SNAPSHOT_QUERIES = {
    "persons": "SELECT id, portti_id, given_name, family_name, email, phone, contact_version"
    " FROM persons ORDER BY id",
    "identifiers": "SELECT id, person_id, kind, country, value FROM person_identifiers ORDER BY id",
    "memberships": "SELECT id, company_id, person_id, valid_from, valid_until, receives_email,"
    " sort_name FROM memberships ORDER BY id",
    "membership_roles": "SELECT membership_id, role_code FROM membership_roles"
    " ORDER BY membership_id, role_code",
    "membership_profiles": "SELECT membership_id, profile_id FROM membership_profiles"
    " ORDER BY membership_id, profile_id",
    "audit_events": "SELECT id, action FROM audit_events ORDER BY id",
    "web_sessions": "SELECT id, person_id, revoked_at, strong_auth_at, company_id"
    " FROM web_sessions ORDER BY id",
}


def fresh(db: Session) -> Session:
    """End the test session's transaction so that the next query sees what the app committed."""
    db.commit()
    db.expire_all()
    return db


def counts(db: Session) -> dict[str, int]:
    fresh(db)
    return {
        name: int(db.scalar(select(func.count()).select_from(model)) or 0)
        for name, model in COUNTED.items()
    }


def snapshot(db: Session) -> dict[str, list[tuple[Any, ...]]]:
    fresh(db)
    return {
        name: [tuple(row) for row in db.execute(text(sql))]
        for name, sql in SNAPSHOT_QUERIES.items()
    }


def audit_actions(db: Session, **where: Any) -> list[str]:
    fresh(db)
    q = select(AuditEvent.action).order_by(AuditEvent.id)
    for column, value in where.items():
        q = q.where(getattr(AuditEvent, column) == value)
    return list(db.scalars(q))


def audit_events(db: Session, action: str) -> list[AuditEvent]:
    fresh(db)
    return list(
        db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
    )


def changed_only_by_audit(db: Session, before: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    """Asserts that nothing but the audit log changed since ``before`` (a ``snapshot``) and
    returns the actions audited since: a refusal that is recorded and changes nothing else."""
    after = snapshot(db)
    for name in SNAPSHOT_QUERIES:
        if name != "audit_events":
            assert after[name] == before[name], name
    old = {row[0] for row in before["audit_events"]}
    return [action for id_, action in after["audit_events"] if id_ not in old]
