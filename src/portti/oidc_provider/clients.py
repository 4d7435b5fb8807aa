"""Registering clients (Support only) and authenticating them at the token endpoint."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import unquote_plus, urlsplit

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.companies.models import Company
from portti.companies.policy import AdminPolicy, is_stepped_up
from portti.errors import Forbidden, NotFound, StepUpRequired, ValidationFailed
from portti.i18n import _l
from portti.infra.clock import Clock
from portti.infra.crypto import CodeHasher
from portti.oidc_provider.errors import TokenError
from portti.oidc_provider.keys import ID_TOKEN_ALGORITHMS, registry_for
from portti.oidc_provider.models import (
    ClientAuthMethod,
    ClientKind,
    OidcClient,
    SubjectType,
    UsedClientAssertion,
)
from portti.oidc_provider.service import SCOPES

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ("ES256", "ES384", "PS256", "RS256", "EdDSA")
# An assertion is made for one request (RFC 7523 §3, FAPI 2.0): valid for at most five
# minutes from its iat and from now, so a leaked one is soon useless; each jti is kept until
# its exp, so it is single use.
ASSERTION_MAX_LIFETIME = timedelta(minutes=5)
LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def check_uri(uri: str) -> str:
    """A redirect, post-logout or back-channel logout URI as RFC 9700 §2.1 and §4.1.3 want it
    (SEC-23): absolute https (http only on loopback), no user info (``https://rp@evil/``
    sends a careless reader to ``evil``), no wildcard (matching is exact: a ``*`` only
    misleads), no fragment, no spaces or control characters."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(f"{uri!r} is not a valid URL") from None
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in uri) or "\\" in uri:
        raise ValueError(f"{uri!r} must not contain spaces, control characters or backslashes")
    if "#" in uri or not parts.hostname:
        raise ValueError(f"{uri!r} must be an absolute URL without a fragment")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise ValueError(f"{uri!r} must not contain user information (an @ in the host part)")
    if "*" in uri:
        raise ValueError(f"{uri!r} must not contain a wildcard: addresses are matched exactly")
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK):
        return uri
    raise ValueError(f"{uri!r} must use https (http only on localhost)")


def check_origin(origin: str) -> str:
    """A web origin for CORS (OIDC-1): scheme, host and optional port, nothing else."""
    value = origin.strip().rstrip("/")
    check_uri(value)
    parts = urlsplit(value)
    if parts.path or parts.query:
        raise ValueError(f"{origin!r} must be an origin: scheme, host and port only")
    # As a browser sends it in Origin: lower case, without the scheme's default port.
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    if parts.port not in (None, {"https": 443, "http": 80}[parts.scheme]):
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}".lower()


def _sector(uri: str) -> str:
    return (urlsplit(uri).hostname or "").lower()


# What ``check_uri`` accepts, said in the schema too, so that the document is as strict as the
# server (SEC-20): https with a host, or http on a loopback host; no fragment, no spaces.
_PORT = r"(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
_SITE = r"(?:https://[A-Za-z0-9.-]+|http://(?:localhost|127\.0\.0\.1|\[::1\]))" + _PORT
URI_PATTERN = _SITE.join(("^", r"(?:[/?][^#\s\x00-\x1f\x7f\x85\\*]*)?$"))
# A web origin as the server takes it: a site without a path; blank ones are left out.
ORIGIN_PATTERN = _SITE.join((r"^(?:", "/?)?$"))
RedirectUri = Annotated[str, Field(max_length=500, json_schema_extra={"pattern": URI_PATTERN})]


class ClientInput(BaseModel):
    """A client's registration, as Support enters it."""

    name: str = Field(min_length=1, max_length=200, json_schema_extra={"pattern": r"\S"})
    auth_method: ClientAuthMethod = ClientAuthMethod.CLIENT_SECRET_BASIC
    redirect_uris: list[RedirectUri] = Field(min_length=1, max_length=10)
    post_logout_redirect_uris: list[RedirectUri] = Field(default_factory=list, max_length=10)
    backchannel_logout_uri: RedirectUri | None = None
    # offline_access (refresh tokens that outlive the Portti session) only when chosen (SEC-15).
    allowed_scopes: list[str] = Field(
        default_factory=lambda: ["openid", "profile", "email", "companies"],
        json_schema_extra={"items": {"enum": list(SCOPES)}, "contains": {"const": "openid"}},
    )
    company_ids: list[int] | None = None
    company_selection: bool = False
    subject_type: SubjectType = SubjectType.PUBLIC
    id_token_signed_response_alg: str = Field(  # an algorithm name, not a secret
        default="RS256", json_schema_extra={"enum": list(ID_TOKEN_ALGORITHMS)}
    )
    jwks: dict[str, Any] | None = None
    # Portti's own application: the consent page is skipped for it.
    first_party: bool = False
    # Origins of single-page apps allowed to call the token endpoint and UserInfo (CORS).
    web_origins: list[Annotated[str, Field(json_schema_extra={"pattern": ORIGIN_PATTERN})]] = Field(
        default_factory=list, max_length=10
    )

    @field_validator("redirect_uris", "post_logout_redirect_uris")
    @classmethod
    def _uris(cls, value: list[str]) -> list[str]:
        return [check_uri(u.strip()) for u in value]

    @field_validator("web_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(check_origin(o) for o in value if o.strip()))

    @model_validator(mode="after")
    def _one_sector(self) -> ClientInput:
        # OIDC Core §8.1: a pairwise sub is derived from the redirect URIs' host. With hosts
        # of several owners a client could share another client's sector, and so its subjects
        # (SEC-18): a pairwise client has one host.
        if self.subject_type == SubjectType.PAIRWISE:
            hosts = {_sector(u) for u in self.redirect_uris}
            if len(hosts) > 1:
                raise ValueError(
                    "a pairwise client's redirect URIs must all be on one host "
                    f"(found {', '.join(sorted(hosts))})"
                )
        return self

    @field_validator("backchannel_logout_uri")
    @classmethod
    def _backchannel(cls, value: str | None) -> str | None:
        return check_uri(value.strip()) if value and value.strip() else None

    @field_validator("allowed_scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        unknown = [s for s in value if s not in SCOPES]
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(unknown)}")
        if "openid" not in value:
            raise ValueError("openid must be allowed")
        return list(dict.fromkeys(value))

    @field_validator("id_token_signed_response_alg")
    @classmethod
    def _alg(cls, value: str) -> str:
        if value not in ID_TOKEN_ALGORITHMS:
            raise ValueError("id_token_signed_response_alg must be RS256, PS256 or ES256")
        return value

    @field_validator("jwks")
    @classmethod
    def _jwks(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        try:
            keys = KeySet.import_key_set(value)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise ValueError("jwks is not a JWK set") from exc
        if not keys.keys:
            raise ValueError("jwks has no keys")
        # Only public halves are kept, whatever was sent.
        return {"keys": [k.as_dict(private=False) for k in keys.keys]}


class ClientView(BaseModel):
    client_id: str
    name: str
    kind: str = ClientKind.LOGIN.value
    auth_method: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    backchannel_logout_uri: str | None
    allowed_scopes: list[str]
    company_ids: list[int] | None
    company_selection: bool
    subject_type: str
    id_token_signed_response_alg: str
    jwks: dict[str, Any] | None
    first_party: bool
    web_origins: list[str]
    disabled: bool

    @classmethod
    def of(cls, c: OidcClient) -> ClientView:
        return cls(
            client_id=c.client_id,
            name=c.name,
            kind=c.kind,
            auth_method=c.auth_method,
            redirect_uris=c.redirect_uris,
            post_logout_redirect_uris=c.post_logout_redirect_uris,
            backchannel_logout_uri=c.backchannel_logout_uri,
            allowed_scopes=c.allowed_scopes,
            company_ids=c.company_ids,
            company_selection=c.company_selection,
            subject_type=c.subject_type,
            id_token_signed_response_alg=c.id_token_signed_response_alg,
            jwks=c.jwks,
            first_party=c.first_party,
            web_origins=c.web_origins or [],
            disabled=c.disabled_at is not None,
        )


class RegisteredClient(ClientView):
    """Returned once, at registration or secret rotation: the secret is never shown again."""

    client_secret: str | None = None


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
            from portti.oidc_provider.logins import end_client_logins
            from portti.oidc_provider.models import OidcLogin

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
