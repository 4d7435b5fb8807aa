"""The OpenID Connect relying party: authorization requests, the code exchange, ID token checks.

Owns the protocol side of logging in through an identity provider (bank ID brokers, mobile
certificate, ID cards, the built-in test provider): PKCE S256, state and nonce, the token
request, the signature and claims of the ID token, the provider's key set (cached), and turning
the claims into a ``VerifiedIdentity``. It keeps no state of its own between the two legs of a
login; the caller stores ``state``, ``nonce`` and ``code_verifier`` and compares ``state``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from joserfc import jwe, jws, jwt
from joserfc.errors import JoseError, UnsupportedAlgorithmError
from joserfc.jwa import JWSAlgModel
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from portti.config import OidcProviderSettings
from portti.i18n import _l
from portti.infra.tls import transport_failure
from portti.infra.ttlcache import TtlCache
from portti.keys.services import KeyStore
from portti.strongauth.discovery import Endpoints, static_endpoints

__all__ = [
    "AllowListRegistry",
    "AuthorizationRequest",
    "JwksCache",
    "OidcError",
    "VerifiedIdentity",
    "acr_satisfies",
    "callback_error",
    "check_assurance",
    "complete_authorization",
    "fetch_userinfo",
    "identity_from_claims",
    "pkce_challenge",
    "safe_provider_text",
    "start_authorization",
    "states_match",
    "verify_id_token",
]

# Clock skew tolerated on "iat" (and nothing else: an expired token stays expired).
IAT_LEEWAY_SECONDS = 60
JWKS_TTL = timedelta(minutes=10)
# A forced refetch (a known kid whose signature fails) at most this often per key set.
FORCE_INTERVAL = 5.0

_OAUTH_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class OidcError(Exception):
    """A login through an identity provider failed.

    ``code`` is stable (for logs, audit and tests); ``message`` is safe to show to the person
    logging in: it never contains tokens, codes or provider responses.
    """

    STATE_MISMATCH = "oidc_state_mismatch"
    TOKEN_EXCHANGE_FAILED = "oidc_token_exchange_failed"  # noqa: S105 (an error code)
    INVALID_ID_TOKEN = "oidc_invalid_id_token"  # noqa: S105 (an error code)
    NONCE_MISMATCH = "oidc_nonce_mismatch"
    MISSING_IDENTIFIER = "oidc_missing_identifier"
    PROVIDER_ERROR = "oidc_provider_error"
    NOT_FRESH = "oidc_authentication_not_fresh"
    ACR_TOO_WEAK = "oidc_acr_too_weak"

    def __init__(self, code: str, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # Why, for the audit row and the log (OIDC-8): "tls_failed", "provider_unreachable",
        # "invalid_response", "par_refused"...; never shown as such.
        self.reason = reason
        self.provider_error: str | None = None

    def __repr__(self) -> str:
        return f"OidcError(code={self.code!r}, message={self.message!r})"


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class VerifiedIdentity:
    provider: str
    subject: str
    country: str
    national_id: str
    given_name: str | None
    family_name: str | None
    name: str | None
    auth_time: datetime | None
    acr: str | None
    amr: tuple[str, ...] = ()


class AllowListRegistry(JWSRegistry):
    """A JWS registry that accepts exactly the listed algorithms, and never ``none``.

    joserfc's own registry already honours an allow-list; this one also refuses an empty list
    (which joserfc would read as "its recommended set") and does not emit joserfc's
    per-call ``SecurityWarning`` for ``EdDSA`` (RFC 9864 prefers the name ``Ed25519``): that is
    a configuration choice reviewed once, not something to warn about at every login.
    """

    def __init__(self, algorithms: Collection[str]) -> None:
        allowed = frozenset(a for a in algorithms if a != "none")
        # Header parameters outside the IANA registry are let through (some brokers add their
        # own); "crit" is still enforced, so nothing a provider marks as critical is skipped.
        super().__init__(algorithms=allowed, strict_check_header=False)
        self._allowed = allowed

    def get_alg(self, name: str) -> JWSAlgModel:
        if name not in self._allowed or name not in self.algorithms:
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not allowed")
        return self.algorithms[name]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_challenge(code_verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(ASCII(code_verifier)))."""
    return _b64url(hashlib.sha256(code_verifier.encode("ascii")).digest())


def states_match(a: str, b: str) -> bool:
    """Compare the callback's ``state`` with the stored one without leaking timing."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def requested_acr(provider: OidcProviderSettings, *, fresh: bool) -> str | None:
    """The ``acr_values`` asked for: a step-up may ask for more than a login."""
    if fresh and provider.step_up_acr_values:
        return provider.step_up_acr_values
    return provider.acr_values


def start_authorization(
    provider: OidcProviderSettings,
    redirect_uri: str,
    *,
    fresh: bool = False,
    endpoints: Endpoints | None = None,
    keys: KeyStore | None = None,
    http: httpx.Client | None = None,
) -> AuthorizationRequest:
    """Build the authorization code request (PKCE S256) that sends the browser to the provider.

    ``fresh`` (a step-up) asks the provider to authenticate the person again whatever session it
    has with them: ``max_age=0`` (OIDC Core 3.1.2.1, which also makes ``auth_time`` required in
    the ID token) and ``prompt=login``. With ``request_object_signing_alg`` the parameters travel
    in a request object signed with Portti's key (JAR); with ``par`` they are pushed to the
    provider first and the browser carries only the ``request_uri`` (PAR).
    """
    endpoints = endpoints or static_endpoints(provider)
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    code_verifier = secrets.token_urlsafe(48)  # 64 characters, inside RFC 7636's 43..128
    params: dict[str, Any] = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(provider.scopes),
        "state": state,
        "nonce": nonce,
        "code_challenge": pkce_challenge(code_verifier),
        "code_challenge_method": "S256",
    }
    acr = requested_acr(provider, fresh=fresh)
    if acr:
        params["acr_values"] = acr
    if fresh:
        params["max_age"] = "0"
        params["prompt"] = "login"
    if provider.claims:
        params["claims"] = json.dumps(provider.claims, separators=(",", ":"))
    sent: dict[str, Any] = params
    if provider.request_object_signing_alg:
        if keys is None:
            raise ValueError("a signed request object needs the key store")
        sent = {
            "client_id": provider.client_id,
            "response_type": "code",
            "scope": params["scope"],
            "request": _request_object(provider, endpoints, keys, params),
        }
    if provider.par:
        if http is None or (keys is None and _auth_method(provider) == "private_key_jwt"):
            raise ValueError("a pushed authorization request needs the HTTP client and keys")
        assert http is not None
        request_uri = _push(provider, endpoints, keys, http, sent)
        sent = {"client_id": provider.client_id, "request_uri": request_uri}
    # The configured endpoint may carry its own query (e.g. a provider hint); keep it.
    endpoint = endpoints.authorization_endpoint
    separator = "&" if "?" in endpoint else "?"
    url = endpoint + separator + urlencode(sent, quote_via=quote)
    return AuthorizationRequest(url=url, state=state, nonce=nonce, code_verifier=code_verifier)


def _signing_key(keys: KeyStore, alg: str) -> tuple[Any, dict[str, str]]:
    key = keys.active_signing_key(alg)
    assert key.kid is not None
    return key, {"alg": alg, "kid": key.kid}


def _request_object(
    provider: OidcProviderSettings,
    endpoints: Endpoints,
    keys: KeyStore,
    params: Mapping[str, Any],
) -> str:
    """RFC 9101: the authorization parameters as a JWT signed with Portti's key."""
    alg = provider.request_object_signing_alg
    assert alg is not None
    key, header = _signing_key(keys, alg)
    now = int(time.time())
    claims = {
        **params,
        "iss": provider.client_id,
        "aud": endpoints.issuer,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": secrets.token_urlsafe(16),
    }
    header["typ"] = "oauth-authz-req+jwt"
    return jwt.encode(header, claims, key, algorithms=[alg])


def _auth_method(provider: OidcProviderSettings) -> str:
    if provider.token_endpoint_auth_method:
        return provider.token_endpoint_auth_method
    return "client_secret_basic" if provider.client_secret is not None else "none"


CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def client_authentication(
    provider: OidcProviderSettings, endpoints: Endpoints, keys: KeyStore | None
) -> tuple[dict[str, str], dict[str, str]]:
    """Headers and form fields that authenticate Portti at the token or PAR endpoint."""
    method = _auth_method(provider)
    headers: dict[str, str] = {}
    form: dict[str, str] = {"client_id": provider.client_id}
    secret = provider.client_secret.get_secret_value() if provider.client_secret else None
    if method == "client_secret_basic" and secret is not None:
        headers["Authorization"] = _client_basic_auth(provider.client_id, secret)
    elif method == "client_secret_post" and secret is not None:
        form["client_secret"] = secret
    elif method == "private_key_jwt":
        if keys is None:
            raise ValueError("private_key_jwt needs the key store")
        key, header = _signing_key(keys, provider.client_assertion_alg)
        now = int(time.time())
        # The audience is the provider's issuer identifier unless the provider is configured to
        # want its token endpoint URL; never a list (the 2025 private_key_jwt audience
        # advisory: a list could let one provider replay the assertion at another).
        audience = (
            endpoints.token_endpoint
            if provider.client_assertion_audience == "token_endpoint"
            else endpoints.issuer
        )
        assertion = jwt.encode(
            header,
            {
                "iss": provider.client_id,
                "sub": provider.client_id,
                "aud": audience,
                "iat": now,
                "exp": now + 60,
                "jti": secrets.token_urlsafe(16),
            },
            key,
            algorithms=[provider.client_assertion_alg],
        )
        form["client_assertion_type"] = CLIENT_ASSERTION_TYPE
        form["client_assertion"] = assertion
    return headers, form


def _push(
    provider: OidcProviderSettings,
    endpoints: Endpoints,
    keys: KeyStore | None,
    http: httpx.Client,
    params: Mapping[str, Any],
) -> str:
    """RFC 9126: push the authorization request; the browser gets only its ``request_uri``."""
    message = _l("The login could not be started at the identity provider.")
    if not endpoints.pushed_authorization_request_endpoint:
        raise OidcError(OidcError.PROVIDER_ERROR, message, reason="no_par_endpoint")
    headers, form = client_authentication(provider, endpoints, keys)
    headers["Accept"] = "application/json"
    try:
        response = http.post(
            endpoints.pushed_authorization_request_endpoint,
            data={**params, **form},
            headers=headers,
        )
    except httpx.HTTPError as exc:
        raise OidcError(OidcError.PROVIDER_ERROR, message, reason=transport_failure(exc)) from exc
    try:
        body = response.json()
    except ValueError as exc:
        raise OidcError(OidcError.PROVIDER_ERROR, message, reason="invalid_response") from exc
    request_uri = body.get("request_uri") if isinstance(body, dict) else None
    if response.status_code not in (200, 201) or not isinstance(request_uri, str):
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, str) and _OAUTH_ERROR_CODE.match(error):
            refused = OidcError(
                OidcError.PROVIDER_ERROR,
                _l(
                    "The login could not be started at the identity provider (%(error)s).",
                    error=error,
                ),
                reason="par_refused",
            )
            refused.provider_error = error
            raise refused
        raise OidcError(OidcError.PROVIDER_ERROR, message, reason="par_refused")
    return request_uri


# What a provider's ``error`` (RFC 6749 4.1.2.1, OIDC Core 3.1.2.6) means for the person.
_ERROR_MESSAGES = {
    "access_denied": _l("The login was cancelled at the identity provider."),
    "login_required": _l("The identity provider needs you to log in again. Start again."),
    "interaction_required": _l("The identity provider needs more from you. Start again."),
    "consent_required": _l("The identity provider needs your consent to share your identity."),
    "account_selection_required": _l("Choose an account at the identity provider. Start again."),
    "temporarily_unavailable": _l(
        "The identity provider is temporarily unavailable. Try again in a moment."
    ),
    "server_error": _l("The identity provider had an error. Try again in a moment."),
    "unmet_authentication_requirements": _l(
        "The identification could not reach the level of "
        "assurance this needs. Use a stronger identification method."
    ),
}


def callback_error(error: str) -> OidcError:
    """The provider sent the browser back with ``error=...`` instead of a code."""
    message = _ERROR_MESSAGES.get(error)
    if message is not None:
        return OidcError(OidcError.PROVIDER_ERROR, message)
    shown = error if _OAUTH_ERROR_CODE.match(error) else "unknown"
    return OidcError(
        OidcError.PROVIDER_ERROR,
        _l("The identity provider refused the login (%(error)s).", error=shown),
    )


def safe_provider_text(value: str | None, limit: int = 200) -> str | None:
    """A provider's free text (``error_description``) fit for the audit row: printable, short."""
    if not value:
        return None
    cleaned = "".join(ch if ch.isprintable() else " " for ch in value).strip()
    return cleaned[:limit] or None


class JwksCache:
    """Providers' signing keys by JWKS URI: cached ten minutes, refetched once for a new ``kid``.

    A ``kid`` missing from the cached set usually means the provider rotated its keys, so the set
    is fetched again (once per lookup) before the token is refused. The ID token reaches us
    straight from the provider's token endpoint, so a stranger cannot make us refetch at will.
    One lock guards the cache; fetches happen under it, which also keeps concurrent logins from
    fetching the same set several times.
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        ttl: timedelta = JWKS_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._cache: TtlCache[KeySet] = TtlCache(
            self._fetch, ttl_seconds=ttl.total_seconds(), clock=clock
        )

    def get(self, jwks_uri: str, *, kid: str | None = None, force: bool = False) -> KeySet:
        """The key set at ``jwks_uri``; refetched when stale, or when ``kid`` is not in it.

        ``force`` refetches a set read more than ``FORCE_INTERVAL`` seconds ago: a signature
        that fails with a known ``kid`` may mean the provider reused the ``kid`` for a new key.
        """

        def keep(key_set: KeySet, age: float) -> bool:
            if force:
                return age < FORCE_INTERVAL
            return age < self._cache.ttl_seconds and (kid is None or _has_kid(key_set, kid))

        return self._cache.get(jwks_uri, keep=keep)

    def invalidate(self, jwks_uri: str | None = None) -> None:
        self._cache.invalidate(jwks_uri)

    def _fetch(self, jwks_uri: str) -> KeySet:
        unavailable = OidcError(
            OidcError.PROVIDER_ERROR,
            _l("The identity provider's signing keys could not be loaded."),
        )
        try:
            response = self._http.get(jwks_uri, headers={"Accept": "application/json"})
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise unavailable from exc
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise unavailable
        # Only public material is needed, and a key meant for encryption is no signing key.
        keys = [
            k
            for k in data["keys"]
            if isinstance(k, dict) and k.get("use", "sig") == "sig" and "d" not in k
        ]
        try:
            return KeySet.import_key_set({"keys": keys})
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise unavailable from exc


def _has_kid(key_set: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in key_set.keys)


def _client_basic_auth(client_id: str, secret: str) -> str:
    # RFC 6749 §2.3.1: both parts are form-urlencoded before being joined and base64-encoded.
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode("utf-8")).decode("ascii")


@dataclass(frozen=True)
class TokenResponse:
    id_token: str
    access_token: str | None


def _exchange_code(
    provider: OidcProviderSettings,
    http: httpx.Client,
    *,
    redirect_uri: str,
    code: str,
    code_verifier: str,
    endpoints: Endpoints | None = None,
    keys: KeyStore | None = None,
) -> TokenResponse:
    endpoints = endpoints or static_endpoints(provider)
    headers, auth_form = client_authentication(provider, endpoints, keys)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
        **auth_form,
    }
    headers["Accept"] = "application/json"
    failed: str = _l("The login could not be completed with the identity provider.")
    try:
        response = http.post(endpoints.token_endpoint, data=form, headers=headers)
    except httpx.HTTPError as exc:
        raise OidcError(OidcError.TOKEN_EXCHANGE_FAILED, failed) from exc
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if response.status_code != 200:
        error = body.get("error") if isinstance(body, dict) else None
        # The OAuth error code is a short token from a fixed list; the description is free text
        # from the provider and stays out of the message.
        if isinstance(error, str) and _OAUTH_ERROR_CODE.match(error):
            failed = _l(
                "The login could not be completed with the identity provider (%(error)s).",
                error=error,
            )
        raise OidcError(OidcError.TOKEN_EXCHANGE_FAILED, failed)
    id_token = body.get("id_token") if isinstance(body, dict) else None
    if not isinstance(id_token, str) or not id_token:
        raise OidcError(
            OidcError.TOKEN_EXCHANGE_FAILED,
            _l("The login could not be completed with the identity provider (no ID token)."),
        )
    access_token = body.get("access_token")
    return TokenResponse(id_token, access_token if isinstance(access_token, str) else None)


# Content encryption accepted with the key-management algorithms of ``encryption_algorithms``.
CONTENT_ENCRYPTION = ("A128CBC-HS256", "A256CBC-HS512", "A128GCM", "A256GCM")


def _decrypt(provider: OidcProviderSettings, token: str, keys: KeyStore | None) -> str:
    """A JWE (five parts) opened with Portti's encryption keys; its payload is the JWS."""
    if keys is None:
        raise _invalid("encrypted, but no decryption key is configured")
    # Providers replicate claims such as "iss" and "aud" in the JWE header (RFC 7519 5.3):
    # allowed, and checked below; "crit" is still enforced.
    registry = jwe.JWERegistry(
        algorithms=[*provider.encryption_algorithms, *CONTENT_ENCRYPTION],
        strict_check_header=False,
    )
    try:
        first = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))
    except (ValueError, UnicodeError) as exc:
        raise _invalid("malformed encrypted token") from exc
    if not isinstance(header, dict):
        raise _invalid("malformed encrypted token")
    if header.get("alg") not in provider.encryption_algorithms:
        raise _invalid("encryption algorithm not allowed")
    if header.get("iss", provider.issuer) != provider.issuer or header.get(
        "aud", provider.client_id
    ) not in (provider.client_id, [provider.client_id]):
        raise _invalid("encrypted for another party")
    try:
        opened = jwe.decrypt_compact(token, keys.decryption_keys(), registry=registry)
    except (JoseError, ValueError) as exc:
        raise _invalid("could not be decrypted") from exc
    payload = opened.plaintext
    if payload is None:
        raise _invalid("could not be decrypted")
    return payload.decode("ascii", errors="replace")


def _is_jwe(token: str) -> bool:
    return token.count(".") == 4


def _invalid(detail: str) -> OidcError:
    return OidcError(
        OidcError.INVALID_ID_TOKEN,
        _l("The identity provider's answer was refused: %(detail)s.", detail=detail),
    )


def verify_id_token(
    provider: OidcProviderSettings,
    id_token: str,
    *,
    jwks: JwksCache,
    expected_nonce: str,
    now: datetime,
    jwks_uri: str | None = None,
    keys: KeyStore | None = None,
) -> dict[str, Any]:
    """Check the ID token's signature and claims (decrypting it first if it is a JWE)."""
    if _is_jwe(id_token):
        id_token = _decrypt(provider, id_token, keys)
    elif provider.require_encryption:
        raise _invalid("not encrypted")
    jwks_uri = jwks_uri or provider.jwks_uri or ""
    registry = AllowListRegistry(provider.algorithms)
    try:
        header = jws.extract_compact(id_token.encode("ascii"), registry=registry).headers()
    except (JoseError, ValueError, UnicodeError) as exc:
        raise _invalid("malformed ID token") from exc

    # Decided from our configuration before any key is looked at: "none" never, HS* (which
    # would take the provider's *public* key as an HMAC secret) only if someone listed it.
    alg = header.get("alg")
    if not isinstance(alg, str) or alg == "none" or alg not in provider.algorithms:
        raise _invalid("signature algorithm not allowed")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise _invalid("malformed key id")

    claims = _verified_claims(id_token, jwks, jwks_uri, kid, registry)

    timestamp = int(now.timestamp() if now.tzinfo else now.replace(tzinfo=UTC).timestamp())
    claims_registry = jwt.JWTClaimsRegistry(
        now=timestamp,
        leeway=IAT_LEEWAY_SECONDS,
        iss={"essential": True, "value": provider.issuer},
        aud={"essential": True, "value": provider.client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        claims_registry.validate(claims)
    except JoseError as exc:
        claim = getattr(exc, "claim", None)
        raise _invalid(f"claim {claim!r} not accepted" if claim else "claims not accepted") from exc
    # The registry grants the leeway to "exp" too; an expired ID token is refused outright.
    if claims["exp"] <= timestamp:
        raise _invalid("expired")

    aud = claims["aud"]
    azp = claims.get("azp")
    if (isinstance(aud, list) and len(aud) > 1 and azp is None) or (
        azp is not None and azp != provider.client_id
    ):
        raise _invalid("authorized party mismatch")

    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not hmac.compare_digest(
        nonce.encode("utf-8"), expected_nonce.encode("utf-8")
    ):
        raise OidcError(
            OidcError.NONCE_MISMATCH,
            _l("The login could not be matched to this browser. Try again."),
        )
    return claims


def _verified_claims(
    token: str, jwks: JwksCache, jwks_uri: str, kid: str | None, registry: JWSRegistry
) -> dict[str, Any]:
    key_set = jwks.get(jwks_uri, kid=kid)
    if kid is not None and not _has_kid(key_set, kid):
        raise _invalid("unknown signing key")
    try:
        return jwt.decode(token, key_set, registry=registry).claims
    except JoseError as exc:
        if kid is None:
            raise _invalid("bad signature") from exc
    # A known kid that does not verify: the provider may have put a new key under the old
    # kid. Read the set once more (at most every few seconds) before refusing.
    key_set = jwks.get(jwks_uri, kid=kid, force=True)
    try:
        return jwt.decode(token, key_set, registry=registry).claims
    except JoseError as exc:
        raise _invalid("bad signature") from exc


def fetch_userinfo(
    provider: OidcProviderSettings,
    *,
    http: httpx.Client,
    jwks: JwksCache,
    endpoints: Endpoints,
    access_token: str | None,
    subject: str,
    keys: KeyStore | None,
) -> dict[str, Any]:
    """Claims from the UserInfo endpoint (OIDC Core 5.3): JSON, or a signed and/or encrypted
    JWT; ``sub`` must be the ID token's."""
    failed = OidcError(
        OidcError.MISSING_IDENTIFIER,
        _l("The identity provider did not tell us your national identity number."),
    )
    if not endpoints.userinfo_endpoint or not access_token:
        raise failed
    try:
        response = http.get(
            endpoints.userinfo_endpoint,
            headers={
                "Authorization": f"Bearer {access_token}",
                "Accept": "application/json, application/jwt",
            },
        )
    except httpx.HTTPError as exc:
        raise failed from exc
    if response.status_code != 200:
        raise failed
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    claims: Any
    if content_type == "application/jwt":
        token = response.text.strip()
        if _is_jwe(token):
            token = _decrypt(provider, token, keys)
        elif provider.require_encryption:
            raise _invalid("UserInfo not encrypted")
        if token.count(".") != 2:
            raise _invalid("malformed UserInfo")
        registry = AllowListRegistry(provider.algorithms)
        try:
            header = jws.extract_compact(token.encode("ascii"), registry=registry).headers()
        except (JoseError, ValueError, UnicodeError) as exc:
            raise _invalid("malformed UserInfo") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in provider.algorithms or (kid is not None and not isinstance(kid, str)):
            raise _invalid("UserInfo signature algorithm not allowed")
        claims = _verified_claims(token, jwks, endpoints.jwks_uri, kid, registry)
        # A signed UserInfo names its issuer and audience (OIDC Core 5.3.2).
        if claims.get("iss", provider.issuer) != provider.issuer or claims.get(
            "aud", provider.client_id
        ) not in (provider.client_id, [provider.client_id]):
            raise _invalid("UserInfo issuer or audience mismatch")
    elif provider.require_encryption:
        # Plain JSON is no more encrypted than a plain JWT (the FTN profile wants both as JWE).
        raise _invalid("UserInfo not encrypted")
    else:
        try:
            claims = response.json()
        except ValueError as exc:
            raise failed from exc
    if not isinstance(claims, dict):
        raise failed
    if claims.get("sub") != subject:
        # OIDC Core 5.3.4: a UserInfo about someone else is not used.
        raise _invalid("UserInfo is about another subject")
    return claims


def _optional_str(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


def identity_from_claims(
    provider: OidcProviderSettings, claims: Mapping[str, Any]
) -> VerifiedIdentity:
    """Read the national identifier and the person's names from verified claims."""
    missing = OidcError(
        OidcError.MISSING_IDENTIFIER,
        _l("The identity provider did not tell us your national identity number."),
    )
    national_id = claims.get(provider.identifier_claim)
    if not isinstance(national_id, str) or not national_id.strip():
        raise missing
    if provider.identifier_country_claim:
        country = claims.get(provider.identifier_country_claim)
        if not isinstance(country, str) or not country.strip():
            raise missing
    else:
        country = provider.identifier_country
    auth_time_raw = claims.get("auth_time")
    auth_time = (
        datetime.fromtimestamp(auth_time_raw, UTC)
        if isinstance(auth_time_raw, int | float) and not isinstance(auth_time_raw, bool)
        else None
    )
    return VerifiedIdentity(
        provider=provider.key,
        subject=str(claims["sub"]),
        country=country.strip().upper(),
        national_id=national_id.strip(),
        given_name=_optional_str(claims, "given_name"),
        family_name=_optional_str(claims, "family_name"),
        name=_optional_str(claims, "name"),
        auth_time=auth_time,
        acr=_optional_str(claims, "acr"),
        amr=tuple(a for a in claims.get("amr") or () if isinstance(a, str))
        if isinstance(claims.get("amr"), list)
        else (),
    )


# Levels of assurance that brokers send as ``acr``, ranked: asking for one accepts it or a
# higher one of the same scheme (FTN and eIDAS levels are comparable: loa2 = substantial,
# loa3 = high). An ``acr`` outside this table satisfies only a request that names it.
ACR_LEVELS: dict[str, int] = {
    "http://ftn.ficora.fi/2017/loa2": 2,
    "http://ftn.ficora.fi/2017/loa3": 3,
    "http://eidas.europa.eu/LoA/low": 1,
    "http://eidas.europa.eu/LoA/substantial": 2,
    "http://eidas.europa.eu/LoA/high": 3,
    "low": 1,
    "substantial": 2,
    "high": 3,
}


def acr_satisfies(acr: str | None, asked: str | None) -> bool:
    """Whether the ``acr`` the provider reported meets the ``acr_values`` that were asked for."""
    if not asked:
        return True
    wanted = asked.split()
    if acr is None:
        return False
    if acr in wanted:
        return True
    levels = [ACR_LEVELS[w] for w in wanted if w in ACR_LEVELS]
    return bool(levels) and acr in ACR_LEVELS and ACR_LEVELS[acr] >= min(levels)


def check_assurance(
    provider: OidcProviderSettings,
    identity: VerifiedIdentity,
    *,
    fresh_since: datetime | None,
) -> None:
    """Refuse an identity whose ``acr`` is below what was asked or, for a step-up
    (``fresh_since``: when it started), whose authentication is older than the step-up.

    A provider may ignore ``max_age=0`` / ``prompt=login`` and answer from a session it already
    had with the person; then ``auth_time`` is earlier than the step-up, and the answer proves
    nothing fresh.
    """
    if not acr_satisfies(identity.acr, requested_acr(provider, fresh=fresh_since is not None)):
        raise OidcError(
            OidcError.ACR_TOO_WEAK,
            _l(
                "The identification method you used is not strong enough for this. "
                "Use one with a higher level of assurance."
            ),
        )
    if fresh_since is not None:
        started = int(fresh_since.replace(tzinfo=fresh_since.tzinfo or UTC).timestamp())
        if identity.auth_time is None or identity.auth_time.timestamp() < started:
            raise OidcError(
                OidcError.NOT_FRESH,
                _l(
                    "The identity provider did not authenticate you again. Start again and "
                    "identify yourself at the provider."
                ),
            )


def complete_authorization(
    provider: OidcProviderSettings,
    *,
    http: httpx.Client,
    jwks: JwksCache,
    redirect_uri: str,
    code: str,
    code_verifier: str,
    expected_nonce: str,
    now: datetime,
    fresh_since: datetime | None = None,
    endpoints: Endpoints | None = None,
    keys: KeyStore | None = None,
) -> VerifiedIdentity:
    """Redeem the callback's code at the token endpoint and verify the ID token it returns;
    read UserInfo when the identifier is not in the ID token (or always, if so configured).

    The caller has already compared ``state`` (``states_match``). ``fresh_since`` is set for
    a step-up: the time it started (see ``check_assurance``). Raises ``OidcError``.
    """
    endpoints = endpoints or static_endpoints(provider)
    tokens = _exchange_code(
        provider,
        http,
        redirect_uri=redirect_uri,
        code=code,
        code_verifier=code_verifier,
        endpoints=endpoints,
        keys=keys,
    )
    claims = verify_id_token(
        provider,
        tokens.id_token,
        jwks=jwks,
        expected_nonce=expected_nonce,
        now=now,
        jwks_uri=endpoints.jwks_uri,
        keys=keys,
    )
    wants_userinfo = provider.userinfo == "always" or (
        provider.userinfo == "auto" and not claims.get(provider.identifier_claim)
    )
    if wants_userinfo:
        extra = fetch_userinfo(
            provider,
            http=http,
            jwks=jwks,
            endpoints=endpoints,
            access_token=tokens.access_token,
            subject=str(claims["sub"]),
            keys=keys,
        )
        # The ID token's own claims (iss, aud, acr, auth_time...) are not overridden.
        claims = {**extra, **claims}
    identity = identity_from_claims(provider, claims)
    check_assurance(provider, identity, fresh_since=fresh_since)
    return identity
