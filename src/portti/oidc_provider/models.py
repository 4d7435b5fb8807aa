"""Registered clients, pending authorization requests, codes, client logins and refresh tokens.

Every secret (client secret, code, refresh token) is stored as a keyed hash; the access and ID
tokens are signed JWTs and are not stored."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from portti.db.base import Model, UtcDateTime


class ClientAuthMethod(StrEnum):
    CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105 (a method name)
    PRIVATE_KEY_JWT = "private_key_jwt"
    NONE = "none"  # a public client (single-page or native app): PKCE S256 is required


class ClientKind(StrEnum):
    LOGIN = "login"  # a business application that logs people in (authorization code)
    MACHINE = "machine"  # business software acting on its own behalf (client credentials, PRV-1)


class SubjectType(StrEnum):
    PUBLIC = "public"  # sub is the person's Portti ID
    PAIRWISE = "pairwise"  # sub differs per client sector: clients cannot correlate people


class OidcClient(Model):
    """A business application that logs people in through Portti."""

    __tablename__ = "oidc_clients"
    __table_args__ = (
        CheckConstraint(
            "auth_method IN ('client_secret_basic', 'private_key_jwt', 'none')", name="auth_method"
        ),
        CheckConstraint("subject_type IN ('public', 'pairwise')", name="subject_type"),
        CheckConstraint("kind IN ('login', 'machine')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # A machine client has no redirect URIs and only the client credentials grant; its
    # allowed_scopes are machine scopes and company_ids the companies it may act on (None:
    # every company, and it may create companies).
    kind: Mapped[str] = mapped_column(
        String(10), default=ClientKind.LOGIN.value, server_default=ClientKind.LOGIN.value
    )
    auth_method: Mapped[str] = mapped_column(String(30))
    secret_hash: Mapped[str | None] = mapped_column(String(64))  # keyed hash
    # The client's public keys for private_key_jwt (a JWK set).
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)  # exact match
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(500))
    allowed_scopes: Mapped[list[str]] = mapped_column(JSON)
    # None: people of every company may use it; else only members of these companies.
    company_ids: Mapped[list[int] | None] = mapped_column(JSON)
    # The person picks one company at login; the ID token then has `company` and `roles`.
    company_selection: Mapped[bool] = mapped_column(Boolean, default=False)
    subject_type: Mapped[str] = mapped_column(String(10), default=SubjectType.PUBLIC.value)
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(10), default="RS256")
    # Portti's own application: no consent page. Set by Support only.
    first_party: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Origins (scheme://host[:port]) of the client's single-page app: CORS at the token
    # endpoint and UserInfo answers them only.
    web_origins: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by_person_id: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Raised by the ORM on every change (``version_id_col``): each process holds the clients
    # it serves and reads only this number to know its copy is current (``client_cache.py``).
    # A change made without the ORM must raise it too.
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy's own)

    @property
    def is_public(self) -> bool:
        return self.auth_method == ClientAuthMethod.NONE

    @property
    def is_machine(self) -> bool:
        return self.kind == ClientKind.MACHINE


class AuthorizationRequest(Model):
    """A validated authorization request waiting for the person to log in or pick a company.

    The browser carries only its id; the request is bound to the browser that started it."""

    __tablename__ = "oidc_authorization_requests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256(handle) hex
    client_id: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    browser_binding_hash: Mapped[str] = mapped_column(String(64))
    # prompt=login, max_age, acr_values or login_hint asked for a login after this moment.
    login_after: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class OidcLogin(Model):
    """One client's login within one Portti web session: the `sid` of its tokens.

    Ending it (logout, revoked session or device, ended membership) invalidates its access and
    refresh tokens and queues an OpenID Back-Channel Logout to the client."""

    __tablename__ = "oidc_logins"
    __table_args__ = (
        CheckConstraint("logout_status IN ('pending', 'sent', 'failed')", name="logout_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(43), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    # Plain ids: the login outlives neither, but must not block their deletion.
    web_session_id: Mapped[str] = mapped_column(String(64), index=True)
    device_id: Mapped[int | None] = mapped_column(index=True)
    company_id: Mapped[int | None]
    auth_time: Mapped[datetime] = mapped_column(UtcDateTime)
    acr: Mapped[str] = mapped_column(String(60))
    amr: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(40))
    # Back-channel logout delivery: pending → sent | failed (retried with back-off meanwhile).
    logout_status: Mapped[str | None] = mapped_column(String(10))
    logout_attempts: Mapped[int] = mapped_column(default=0)
    logout_next_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    logout_error: Mapped[str | None] = mapped_column(String(200))


Index("ix_oidc_logins_logout_due", OidcLogin.logout_status, OidcLogin.logout_next_at)


class AuthorizationCode(Model):
    """Single use, one minute: claimed with a compare-and-set UPDATE."""

    __tablename__ = "oidc_authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    login_id: Mapped[int] = mapped_column(ForeignKey("oidc_logins.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(String(500))
    scope: Mapped[str] = mapped_column(String(500))
    nonce: Mapped[str | None] = mapped_column(String(200))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RefreshToken(Model):
    """Rotated on every use; a used one presented again revokes its whole family."""

    __tablename__ = "oidc_refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    family: Mapped[str] = mapped_column(String(64), index=True)  # the code it descends from
    client_id: Mapped[str] = mapped_column(String(64))
    login_id: Mapped[int] = mapped_column(ForeignKey("oidc_logins.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class UsedClientAssertion(Model):
    """The `jti` of each private_key_jwt assertion, kept until it expires: single use."""

    __tablename__ = "oidc_used_client_assertions"

    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class OidcConsent(Model):
    """What a person allowed an application to learn (OIDC-4): the scopes, remembered until
    the person revokes them in their basic settings; a request for more asks again."""

    __tablename__ = "oidc_consents"
    __table_args__ = (UniqueConstraint("person_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime)
