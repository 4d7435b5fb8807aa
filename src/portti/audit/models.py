"""Audit events: rows that are written once and never changed (triggers refuse it)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portti.db.base import Model, UtcDateTime


class AuditAction(StrEnum):
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    SESSION_REVOKED = "session_revoked"
    STEP_UP_SUCCEEDED = "step_up_succeeded"
    STEP_UP_FAILED = "step_up_failed"
    COMPANY_SELECTED = "company_selected"
    PERSON_CREATED = "person_created"
    PERSON_UPDATED = "person_updated"
    MEMBERSHIP_ADDED = "membership_added"
    MEMBERSHIP_CHANGED = "membership_changed"
    MEMBERSHIP_REMOVED = "membership_removed"
    ACCESS_DENIED = "access_denied"


class AuditEvent(Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    action: Mapped[str] = mapped_column(String(40))
    # Plain ids, no foreign keys: the log outlives what it speaks of and is never rewritten.
    company_id: Mapped[int | None]
    actor_person_id: Mapped[int | None]
    subject_person_id: Mapped[int | None]
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


Index("ix_audit_events_company", AuditEvent.company_id, AuditEvent.id)
Index("ix_audit_events_subject", AuditEvent.subject_person_id, AuditEvent.id)
Index("ix_audit_events_actor", AuditEvent.actor_person_id, AuditEvent.id)
