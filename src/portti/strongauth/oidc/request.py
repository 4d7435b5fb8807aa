"""The first leg of a login: the authorization request that sends the browser to the provider.

PKCE S256 (RFC 7636), ``state`` and ``nonce``; optionally as a signed request object (JAR,
RFC 9101) and/or pushed to the provider first (PAR, RFC 9126). It keeps no state of its own: the
caller stores ``state``, ``nonce`` and ``code_verifier`` and, at the callback, compares ``state``
(``states_match``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from joserfc import jwt

from portti.config import OidcProviderSettings
from portti.i18n import _l
from portti.infra.tls import transport_failure
from portti.keys.services import KeyStore
from portti.strongauth.discovery import Endpoints, static_endpoints
from portti.strongauth.oidc.assurance import requested_acr
from portti.strongauth.oidc.client_auth import auth_method, client_authentication, signing_key
from portti.strongauth.oidc.errors import OAUTH_ERROR_CODE, ProviderError

__all__ = ["AuthorizationRequest", "pkce_challenge", "start_authorization", "states_match"]


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_challenge(code_verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(ASCII(code_verifier)))."""
    return _b64url(hashlib.sha256(code_verifier.encode("ascii")).digest())


def states_match(a: str, b: str) -> bool:
    """Compare the callback's ``state`` with the stored one without leaking timing."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


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
        if http is None or (keys is None and auth_method(provider) == "private_key_jwt"):
            raise ValueError("a pushed authorization request needs the HTTP client and keys")
        assert http is not None
        request_uri = _push(provider, endpoints, keys, http, sent)
        sent = {"client_id": provider.client_id, "request_uri": request_uri}
    # The configured endpoint may carry its own query (e.g. a provider hint); keep it.
    endpoint = endpoints.authorization_endpoint
    separator = "&" if "?" in endpoint else "?"
    url = endpoint + separator + urlencode(sent, quote_via=quote)
    return AuthorizationRequest(url=url, state=state, nonce=nonce, code_verifier=code_verifier)


def _request_object(
    provider: OidcProviderSettings,
    endpoints: Endpoints,
    keys: KeyStore,
    params: Mapping[str, Any],
) -> str:
    """RFC 9101: the authorization parameters as a JWT signed with Portti's key."""
    alg = provider.request_object_signing_alg
    assert alg is not None
    key, header = signing_key(keys, alg)
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
        raise ProviderError(ProviderError.PROVIDER_ERROR, message, reason="no_par_endpoint")
    headers, form = client_authentication(provider, endpoints, keys)
    headers["Accept"] = "application/json"
    try:
        response = http.post(
            endpoints.pushed_authorization_request_endpoint,
            data={**params, **form},
            headers=headers,
        )
    except httpx.HTTPError as exc:
        raise ProviderError(
            ProviderError.PROVIDER_ERROR, message, reason=transport_failure(exc)
        ) from exc
    try:
        body = response.json()
    except ValueError as exc:
        raise ProviderError(
            ProviderError.PROVIDER_ERROR, message, reason="invalid_response"
        ) from exc
    request_uri = body.get("request_uri") if isinstance(body, dict) else None
    if response.status_code not in (200, 201) or not isinstance(request_uri, str):
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, str) and OAUTH_ERROR_CODE.match(error):
            refused = ProviderError(
                ProviderError.PROVIDER_ERROR,
                _l(
                    "The login could not be started at the identity provider (%(error)s).",
                    error=error,
                ),
                reason="par_refused",
            )
            refused.provider_error = error
            raise refused
        raise ProviderError(ProviderError.PROVIDER_ERROR, message, reason="par_refused")
    return request_uri
