"""Machine access tokens (PRV-1): issued at ``/oidc/token`` for the client credentials grant and
checked on ``/api/v1`` and ``/scim/v2``.

A JWT signed with the provider's own keys (``op``, SEC-25), typed ``machine-at+jwt``: the login
side's UserInfo takes only ``at+jwt`` tokens naming a login (``sid``), and this side takes only
its own type naming a machine client, so neither kind of token is accepted by the other.
Nothing is stored: a token lives minutes (``machine_token_lifetime_seconds``), and every use
reads the client again, so a disabled or narrowed client loses its power at once."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.companies.principal import MACHINE_SCOPES, MachinePrincipal
from portti.errors import DomainError
from portti.i18n import _l
from portti.infra import metrics
from portti.infra.clock import Clock
from portti.oidc_provider.errors import BearerError, TokenError
from portti.oidc_provider.keys import (
    ACCESS_TOKEN_ALGORITHM,
    SigningKeys,
    registry_for,
    sign_compact,
)
from portti.oidc_provider.models import ClientKind, OidcClient

MACHINE_TOKEN_TYPE = "machine-at+jwt"  # noqa: S105 (a JOSE type, not a secret)
GRANT_TYPE = "client_credentials"
DEFAULT_LIFETIME = timedelta(minutes=10)
EXPIRED = "The access token has expired"


class MachineTokenInvalid(DomainError):
    """No valid machine access token: 401 with ``WWW-Authenticate`` (RFC 6750 §3)."""

    status = 401
    code = "invalid_token"
    title = _l("The access token is not valid")

    def __init__(self, message: str | None = None, *, description: str | None = None) -> None:
        super().__init__(message)
        challenge = 'Bearer error="invalid_token"'
        if description is not None:
            challenge += f', error_description="{description}"'
        self.headers = {"WWW-Authenticate": challenge}


class MachineTokenMissing(DomainError):
    """No credentials at all on a route that takes a machine's bearer token: 401 with a bare
    ``WWW-Authenticate: Bearer`` challenge, without an error code (RFC 6750 §3.1)."""

    status = 401
    code = "not_authenticated"
    title = _l("The access token is missing")

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message)
        self.headers = {"WWW-Authenticate": "Bearer"}


class MachineTokens:
    def __init__(
        self,
        db: Session,
        clock: Clock,
        keys: SigningKeys,
        *,
        issuer: str,
        lifetime: timedelta = DEFAULT_LIFETIME,
    ) -> None:
        self.db = db
        self.clock = clock
        self.keys = keys
        self.issuer = issuer
        self.lifetime = lifetime

    def issue(self, client: OidcClient, scope: str | None, audit: AuditLog) -> dict[str, Any]:
        """The token endpoint's answer to an authenticated machine client (RFC 6749 §4.4)."""
        if not client.is_machine:
            audit.record(
                AuditAction.OIDC_TOKEN_REFUSED, client=client.client_id, reason="not_a_machine"
            )
            raise TokenError(
                "unauthorized_client", "This client may not use the client_credentials grant."
            )
        allowed = [s for s in client.allowed_scopes if s in MACHINE_SCOPES]
        wanted = list(dict.fromkeys(scope.split())) if scope else allowed
        if not wanted or not set(wanted) <= set(allowed):
            audit.record(
                AuditAction.OIDC_TOKEN_REFUSED,
                machine=client,
                client=client.client_id,
                reason="scope_not_allowed",
            )
            raise TokenError("invalid_scope", "Scope not allowed for this client.")
        granted = " ".join(wanted)
        iat = int(self.clock.now().timestamp())
        lifetime = int(self.lifetime.total_seconds())
        token = sign_compact(
            self.keys.active_signing_key(ACCESS_TOKEN_ALGORITHM),
            ACCESS_TOKEN_ALGORITHM,
            {
                "iss": self.issuer,
                "sub": client.client_id,
                "aud": self.issuer,
                "client_id": client.client_id,
                "scope": granted,
                "iat": iat,
                "exp": iat + lifetime,
                "jti": secrets.token_urlsafe(16),
            },
            typ=MACHINE_TOKEN_TYPE,
        )
        audit.record(
            AuditAction.OIDC_TOKENS_ISSUED,
            machine=client,
            client=client.client_id,
            grant=GRANT_TYPE,
            scope=granted,
        )
        metrics.OIDC_TOKENS.labels(GRANT_TYPE).inc()
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": granted,
        }

    def verify(self, token: str) -> MachinePrincipal:
        """The principal a machine access token stands for, or ``BearerError``."""
        invalid = BearerError("invalid_token", "The access token is not valid.")
        try:
            decoded = jwt.decode(
                token, self.keys.verification_keys(), registry=registry_for(self.keys.algorithms)
            )
            if decoded.header.get("typ") != MACHINE_TOKEN_TYPE:
                raise invalid
            jwt.JWTClaimsRegistry(
                now=int(self.clock.now().timestamp()),
                leeway=0,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.issuer},
                exp={"essential": True},
                sub={"essential": True},
            ).validate(decoded.claims)
        except ExpiredTokenError as exc:
            # Told apart from a forged one: the client asks for a new token (RFC 6750 §3.1).
            raise BearerError("invalid_token", EXPIRED) from exc
        except (JoseError, ValueError, TypeError) as exc:
            raise invalid from exc
        claims = decoded.claims
        if "sid" in claims or claims.get("client_id") != claims["sub"]:
            raise invalid
        client = self.db.scalars(
            select(OidcClient).where(
                OidcClient.client_id == str(claims["sub"])[:64],
                OidcClient.kind == ClientKind.MACHINE.value,
            )
        ).one_or_none()
        if client is None or client.disabled_at is not None:
            raise BearerError("invalid_token", "The machine client is no longer active.")
        return principal_of(client, str(claims.get("scope", "")).split())


def principal_of(client: OidcClient, granted: list[str]) -> MachinePrincipal:
    """What the client may do now: the token's scopes that the client still has."""
    scopes = frozenset(s for s in granted if s in client.allowed_scopes and s in MACHINE_SCOPES)
    companies = None if client.company_ids is None else frozenset(client.company_ids)
    return MachinePrincipal(
        client_id=client.client_id,
        name=client.name,
        scopes=scopes,
        company_ids=companies,
        may_create_companies=companies is None,
    )
