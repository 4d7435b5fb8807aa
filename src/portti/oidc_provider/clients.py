"""Registering clients (Support only) and authenticating them at the token endpoint."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.companies.models import Company
from portti.companies.policy import AdminPolicy
from portti.errors import Forbidden, NotFound, StepUpRequired, ValidationFailed
from portti.i18n import _l
from portti.infra.clock import Clock
from portti.infra.crypto import CodeHasher
from portti.oidc_provider.client_settings import ClientInput, ClientView, RegisteredClient
from portti.oidc_provider.errors import TokenError
from portti.oidc_provider.keys import registry_for
from portti.oidc_provider.logins import end_client_logins
from portti.oidc_provider.models import (
    ClientAuthMethod,
    ClientKind,
    OidcClient,
    OidcLogin,
    UsedClientAssertion,
)
from portti.strongauth.step_up import is_stepped_up

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ("ES256", "ES384", "PS256", "RS256", "EdDSA")
# An assertion is made for one request (RFC 7523 §3, FAPI 2.0): valid for at most five
# minutes from its iat and from now, so a leaked one is soon useless; each jti is kept until
# its exp, so it is single use.
ASSERTION_MAX_LIFETIME = timedelta(minutes=5)


class ClientService:
    def __init__(
        self,
        db: Session,
        clock: Clock,
        audit: AuditLog,
        secret: bytes,
        *,
        step_up_window: timedelta | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit
        self.hasher = CodeHasher(secret, "oidc-client-secret")
        self.step_up_window = step_up_window

    def require_support(self, person_id: int | None, strong_auth_at: Any = None) -> None:
        if person_id is None:
            return  # the command line (an operator on the server)
        if not AdminPolicy(self.db, self.clock).is_support(person_id):
            raise Forbidden(_l("Only Support registers applications."))
        if self.step_up_window is not None and not is_stepped_up(
            strong_auth_at, self.clock.now(), self.step_up_window
        ):
            raise StepUpRequired(
                _l("Registering and changing applications needs a fresh strong authentication.")
            )

    def list(self, person_id: int, kind: ClientKind = ClientKind.LOGIN) -> Sequence[OidcClient]:
        self.require_support(person_id, self.clock.now())
        return self.db.scalars(
            select(OidcClient).where(OidcClient.kind == kind.value).order_by(OidcClient.name)
        ).all()

    def get(
        self, person_id: int, client_id: str, kind: ClientKind | None = ClientKind.LOGIN
    ) -> OidcClient:
        """``kind``: the kind the route manages (None: either, for what both share)."""
        self.require_support(person_id, self.clock.now())
        query = select(OidcClient).where(OidcClient.client_id == client_id)
        if kind is not None:
            query = query.where(OidcClient.kind == kind.value)
        client = self.db.scalars(query).one_or_none()
        if client is None:
            raise NotFound(_l("No such application."))
        if client.disabled_at is not None:
            # Disabling is the API's DELETE: the list still shows it (``disabled``), the id no
            # longer answers (SEC-20).
            raise NotFound(_l("This application has been disabled."))
        return client

    def _check(self, data: ClientInput) -> None:
        if data.auth_method == ClientAuthMethod.PRIVATE_KEY_JWT and not data.jwks:
            raise ValidationFailed({"jwks": _l("Give the application's public keys (a JWK set).")})
        if data.company_ids:
            found = set(self.db.scalars(select(Company.id).where(Company.id.in_(data.company_ids))))
            missing = sorted(set(data.company_ids) - found)
            if missing:
                raise ValidationFailed(
                    {"company_ids": _l("No such companies: %(ids)s", ids=str(missing))}
                )

    def register(
        self, data: ClientInput, *, actor_person_id: int | None, strong_auth_at: Any = None
    ) -> RegisteredClient:
        self.require_support(actor_person_id, strong_auth_at)
        self._check(data)
        now = self.clock.now()
        secret = (
            secrets.token_urlsafe(32)
            if data.auth_method == ClientAuthMethod.CLIENT_SECRET_BASIC
            else None
        )
        client = OidcClient(
            client_id="portti-" + secrets.token_hex(8),
            secret_hash=self.hasher.hash(secret) if secret else None,
            created_at=now,
            updated_at=now,
            created_by_person_id=actor_person_id,
            **data.model_dump(),
        )
        self.db.add(client)
        self.db.flush()
        self.audit.record(
            AuditAction.OIDC_CLIENT_REGISTERED,
            actor_person_id=actor_person_id,
            client=client.client_id,
            name=client.name,
            redirect_uris=client.redirect_uris,
        )
        return RegisteredClient(**ClientView.of(client).model_dump(), client_secret=secret)

    def update(
        self, client_id: str, data: ClientInput, *, actor_person_id: int, strong_auth_at: Any
    ) -> OidcClient:
        client = self.get(actor_person_id, client_id)
        self.require_support(actor_person_id, strong_auth_at)
        self._check(data)
        if data.auth_method != client.auth_method:
            raise ValidationFailed(
                {"auth_method": _l("Fixed at registration; register a new application instead.")}
            )
        for key, value in data.model_dump().items():
            setattr(client, key, value)
        client.updated_at = self.clock.now()
        self.audit.record(
            AuditAction.OIDC_CLIENT_CHANGED, actor_person_id=actor_person_id, client=client_id
        )
        return client

    def rotate_secret(
        self, client_id: str, *, actor_person_id: int, strong_auth_at: Any
    ) -> RegisteredClient:
        client = self.get(actor_person_id, client_id, kind=None)
        self.require_support(actor_person_id, strong_auth_at)
        if client.auth_method != ClientAuthMethod.CLIENT_SECRET_BASIC:
            raise ValidationFailed({"auth_method": _l("This application has no secret.")})
        secret = secrets.token_urlsafe(32)
        client.secret_hash = self.hasher.hash(secret)
        client.updated_at = self.clock.now()
        self.audit.record(
            AuditAction.OIDC_CLIENT_SECRET_ROTATED,
            actor_person_id=actor_person_id,
            client=client_id,
        )
        return RegisteredClient(**ClientView.of(client).model_dump(), client_secret=secret)

    def disable(self, client_id: str, *, actor_person_id: int, strong_auth_at: Any) -> OidcClient:
        client = self.get(actor_person_id, client_id, kind=None)
        self.require_support(actor_person_id, strong_auth_at)
        if client.disabled_at is None:
            client.disabled_at = self.clock.now()
            ids = list(
                self.db.scalars(
                    select(OidcLogin.id).where(
                        OidcLogin.client_id == client_id, OidcLogin.ended_at.is_(None)
                    )
                )
            )
            end_client_logins(self.db, self.clock.now(), reason="client_disabled", login_ids=ids)
            self.audit.record(
                AuditAction.OIDC_CLIENT_DISABLED, actor_person_id=actor_person_id, client=client_id
            )
        return client

    # -- the token endpoint's client authentication (RFC 6749 §2.3, RFC 7523) -----------------

    def authenticate(
        self,
        client: OidcClient | None,
        *,
        basic: tuple[str, str] | None,
        assertion: str | None,
        token_endpoint: str,
        issuer: str,
    ) -> OidcClient:
        bad = TokenError("invalid_client", "Client authentication failed.")
        if client is None or client.disabled_at is not None:
            raise bad
        method = client.auth_method
        if basic is not None:
            if method != ClientAuthMethod.CLIENT_SECRET_BASIC or client.secret_hash is None:
                raise bad
            if not self.hasher.matches(basic[1], client.secret_hash):
                raise bad
            return client
        if assertion is not None:
            if method != ClientAuthMethod.PRIVATE_KEY_JWT or not client.jwks:
                raise bad
            self._check_assertion(client, assertion, token_endpoint, issuer)
            return client
        if method != ClientAuthMethod.NONE:
            raise bad
        return client

    def _check_assertion(
        self, client: OidcClient, assertion: str, token_endpoint: str, issuer: str
    ) -> None:
        bad = TokenError("invalid_client", "Client authentication failed.")
        try:
            token = jwt.decode(
                assertion,
                KeySet.import_key_set(client.jwks),  # type: ignore[arg-type]
                registry=registry_for(ASSERTION_ALGORITHMS),
            )
            now = self.clock.now()
            claims = token.claims
            jwt.JWTClaimsRegistry(
                now=int(now.timestamp()),
                leeway=30,
                iss={"essential": True, "value": client.client_id},
                sub={"essential": True, "value": client.client_id},
                exp={"essential": True},
                iat={"essential": True},
                jti={"essential": True},
            ).validate(claims)
        except (JoseError, ValueError, TypeError) as exc:
            raise bad from exc
        # One audience, Portti (SEC-19): an assertion also addressed to another server could
        # have been replayed from it (RFC 7523 §3 allows a list; draft-ietf-oauth-rfc7523bis
        # forbids it after the 2025 audience-injection attacks).
        if not isinstance(claims.get("aud"), str) or claims["aud"] not in (token_endpoint, issuer):
            raise bad
        exp, iat = claims["exp"], claims["iat"]
        if (
            not isinstance(exp, int)
            or not isinstance(iat, int)
            or not isinstance(claims["jti"], str)
        ):
            raise bad
        longest = ASSERTION_MAX_LIFETIME.total_seconds()
        if exp - iat > longest or exp - now.timestamp() > longest + 30:
            raise bad
        jti_hash = hashlib.sha256(f"{client.client_id}|{claims['jti']}".encode()).hexdigest()
        self.db.execute(delete(UsedClientAssertion).where(UsedClientAssertion.expires_at < now))
        try:
            with self.db.begin_nested():
                self.db.add(
                    UsedClientAssertion(
                        jti_hash=jti_hash,
                        expires_at=datetime.fromtimestamp(exp, UTC) + timedelta(minutes=1),
                    )
                )
        except IntegrityError:
            raise TokenError("invalid_client", "The client assertion was used before.") from None


def parse_basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise TokenError("invalid_client", "Malformed Basic credentials.") from None
    client_id, sep, secret = raw.partition(":")
    if not sep:
        raise TokenError("invalid_client", "Malformed Basic credentials.")
    # RFC 6749 §2.3.1: both are form-urlencoded before Basic encoding.
    return unquote_plus(client_id), unquote_plus(secret)


def assertion_subject(assertion: str) -> str | None:
    """The client an assertion claims to be, read before its signature can be checked (the
    key to check it with depends on it); nothing else is trusted from it."""
    try:
        payload = jws.extract_compact(assertion.encode()).payload
        sub = json.loads(payload).get("sub")
    except (JoseError, ValueError, TypeError, AttributeError):
        return None
    return sub if isinstance(sub, str) else None
