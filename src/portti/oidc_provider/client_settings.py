"""What a client is registered with: the settings Support gives (checked), and how a client is
shown. Redirect URIs and web origins are HTTPS (or loopback HTTP), without userinfo, wildcards
or fragments (SEC-23); a pairwise client's redirect URIs share one host (SEC-18)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel, Field, field_validator, model_validator

from portti.oidc_provider.keys import ID_TOKEN_ALGORITHMS
from portti.oidc_provider.models import ClientAuthMethod, ClientKind, OidcClient, SubjectType
from portti.oidc_provider.provider import SCOPES

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
