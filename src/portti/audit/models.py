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
    COMPANY_SETTINGS_CHANGED = "company_settings_changed"
    # Set-up by an operator on the server (`portti companies …`, OPS-10).
    COMPANY_CREATED = "company_created"
    ACCOUNTING_OFFICE_LINKED = "accounting_office_linked"
    PERSON_CREATED = "person_created"
    PERSON_UPDATED = "person_updated"
    MEMBERSHIP_ADDED = "membership_added"
    MEMBERSHIP_CHANGED = "membership_changed"
    MEMBERSHIP_REMOVED = "membership_removed"
    ACCESS_DENIED = "access_denied"
    INVITATION_SENT = "invitation_sent"
    INVITEE_IDENTITY_VERIFIED = "invitee_identity_verified"
    INVITATION_CANCELLED = "invitation_cancelled"
    INVITATION_SUPERSEDED = "invitation_superseded"
    SIGNUP_CODE_ENTERED = "signup_code_entered"
    SIGNUP_CODE_REJECTED = "signup_code_rejected"
    SIGNUP_FAILURE_RATE_HIGH = "signup_failure_rate_high"  # an operator alert, not a refusal
    CONFIRMATION_CODE_SENT = "confirmation_code_sent"
    CONFIRMATION_CODE_FAILED = "confirmation_code_failed"
    ADMIN_CODE_ISSUED = "admin_confirmation_code_issued"
    ADMIN_CODE_SAVED = "admin_confirmation_code_saved"
    PHONE_CONFIRMED = "phone_confirmed"
    INVITATION_ACTIVATED = "invitation_activated"
    # QR login and step-up by the app (WEB-1, WEB-2, ADM-2)
    LOGIN_QR_SCANNED = "login_qr_scanned"
    LOGIN_APPROVED_IN_APP = "login_approved_in_app"
    LOGIN_REJECTED_IN_APP = "login_rejected_in_app"
    ACCOUNT_EMAIL_CODE_SENT = "account_email_code_sent"
    ACCOUNT_EMAIL_CODE_FAILED = "account_email_code_failed"
    ACCOUNT_EMAIL_VERIFIED = "account_email_verified"
    ACCOUNT_CREATION_REFUSED = "account_creation_refused"
    ACCOUNT_CREATED = "account_created"
    ACCOUNT_PASSWORD_CHANGED = "account_password_changed"  # noqa: S105 (an action name)
    ACCOUNT_PASSWORD_REJECTED = "account_password_rejected"  # noqa: S105 (an action name)
    TOTP_ENROLMENT_STARTED = "totp_enrolment_started"
    TOTP_ENROLLED = "totp_enrolled"
    TOTP_FAILED = "totp_failed"
    ACCOUNT_LOGIN_SUCCEEDED = "account_login_succeeded"
    ACCOUNT_LOGIN_FAILED = "account_login_failed"
    ACCOUNT_LOCKED = "account_locked"
    ACCOUNT_LINKED = "account_linked"
    TERMS_ACCEPTED = "terms_accepted"
    TERMS_REFUSED = "terms_refused"
    # devices (APP-4 … APP-8)
    DEVICE_BOUND = "device_bound"
    DEVICE_APPROVAL_FAILED = "device_approval_failed"
    PIN_FAILED = "pin_failed"
    DEVICE_LOCKED = "device_locked"
    APP_UNLOCKED = "app_unlocked"
    APP_LOCKED = "app_locked"
    DEVICE_LOGGED_OUT = "device_logged_out"
    DEVICE_REVOKED = "device_revoked"
    DEVICE_REPLACED = "device_replaced"
    LOGOUT_EVERYWHERE = "logout_everywhere"
    DEVICE_REPORTED_NOT_ME = "device_reported_not_me"
    # Portti as an OpenID Provider
    OIDC_CLIENT_REGISTERED = "oidc_client_registered"
    OIDC_CLIENT_CHANGED = "oidc_client_changed"
    OIDC_CLIENT_SECRET_ROTATED = "oidc_client_secret_rotated"  # noqa: S105 (an action name)
    OIDC_CLIENT_DISABLED = "oidc_client_disabled"
    OIDC_AUTHORIZED = "oidc_authorized"
    OIDC_AUTHORIZATION_REFUSED = "oidc_authorization_refused"
    OIDC_TOKENS_ISSUED = "oidc_tokens_issued"
    OIDC_TOKEN_REFUSED = "oidc_token_refused"  # noqa: S105 (an action name)
    OIDC_LOGOUT = "oidc_logout"
    OIDC_CONSENT_GRANTED = "oidc_consent_granted"
    OIDC_CONSENT_REVOKED = "oidc_consent_revoked"
    # Business software provisioning companies (PRV-2)
    COMPANY_RENAMED = "company_renamed"
    COMPANY_CLOSED = "company_closed"


class AuditEvent(Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    action: Mapped[str] = mapped_column(String(40))
    # Plain ids, no foreign keys: the log outlives what it speaks of and is never rewritten.
    company_id: Mapped[int | None]
    actor_person_id: Mapped[int | None]
    # A machine client acting (PRV-1): its OAuth client id; actor_person_id is then None.
    actor_client_id: Mapped[str | None] = mapped_column(String(64))
    subject_person_id: Mapped[int | None]
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


Index("ix_audit_events_company", AuditEvent.company_id, AuditEvent.id)
Index("ix_audit_events_subject", AuditEvent.subject_person_id, AuditEvent.id)
Index("ix_audit_events_actor", AuditEvent.actor_person_id, AuditEvent.id)
Index("ix_audit_events_actor_client", AuditEvent.actor_client_id, AuditEvent.id)
Index("ix_audit_events_occurred_at", AuditEvent.occurred_at)
