"""The second leg of a login: redeem the callback's code at the token endpoint, verify the ID
token (and UserInfo, when needed), and read the person's identity from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from portti.config import OidcProviderSettings
from portti.i18n import _l
from portti.keys.services import KeyStore
from portti.strongauth.discovery import Endpoints, static_endpoints
from portti.strongauth.oidc.assurance import check_assurance
from portti.strongauth.oidc.client_auth import client_authentication
from portti.strongauth.oidc.errors import OAUTH_ERROR_CODE, ProviderError
from portti.strongauth.oidc.id_token import verify_id_token
from portti.strongauth.oidc.identity import VerifiedIdentity, identity_from_claims
from portti.strongauth.oidc.jwks import JwksCache
from portti.strongauth.oidc.userinfo import fetch_userinfo

__all__ = ["TokenResponse", "complete_authorization", "exchange_code"]


@dataclass(frozen=True)
class TokenResponse:
    id_token: str
    access_token: str | None


def exchange_code(
    provider: OidcProviderSettings,
    http: httpx.Client,
    *,
    redirect_uri: str,
    code: str,
    code_verifier: str,
    endpoints: Endpoints | None = None,
    keys: KeyStore | None = None,
) -> TokenResponse:
    """The token request (authorization code with its PKCE verifier) and its answer."""
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
        raise ProviderError(ProviderError.TOKEN_EXCHANGE_FAILED, failed) from exc
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if response.status_code != 200:
        error = body.get("error") if isinstance(body, dict) else None
        # The OAuth error code is a short token from a fixed list; the description is free text
        # from the provider and stays out of the message.
        if isinstance(error, str) and OAUTH_ERROR_CODE.match(error):
            failed = _l(
                "The login could not be completed with the identity provider (%(error)s).",
                error=error,
            )
        raise ProviderError(ProviderError.TOKEN_EXCHANGE_FAILED, failed)
    id_token = body.get("id_token") if isinstance(body, dict) else None
    if not isinstance(id_token, str) or not id_token:
        raise ProviderError(
            ProviderError.TOKEN_EXCHANGE_FAILED,
            _l("The login could not be completed with the identity provider (no ID token)."),
        )
    access_token = body.get("access_token")
    return TokenResponse(id_token, access_token if isinstance(access_token, str) else None)


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
    a step-up: the time it started (see ``check_assurance``). Raises ``ProviderError``.
    """
    endpoints = endpoints or static_endpoints(provider)
    tokens = exchange_code(
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
