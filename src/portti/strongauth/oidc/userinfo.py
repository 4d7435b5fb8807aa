"""The UserInfo endpoint (OIDC Core 5.3): claims the ID token left out, as JSON or as a signed
and/or encrypted JWT."""

from __future__ import annotations

from typing import Any

import httpx
from joserfc import jws
from joserfc.errors import JoseError

from portti.config import OidcProviderSettings
from portti.keys.services import KeyStore
from portti.strongauth.discovery import Endpoints
from portti.strongauth.oidc.errors import invalid_answer
from portti.strongauth.oidc.identity import missing_identifier
from portti.strongauth.oidc.jose import AllowListRegistry, decrypt, is_jwe
from portti.strongauth.oidc.jwks import JwksCache, verified_claims

__all__ = ["fetch_userinfo"]


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
    if not endpoints.userinfo_endpoint or not access_token:
        raise missing_identifier()
    try:
        response = http.get(
            endpoints.userinfo_endpoint,
            headers={
                "Authorization": f"Bearer {access_token}",
                "Accept": "application/json, application/jwt",
            },
        )
    except httpx.HTTPError as exc:
        raise missing_identifier() from exc
    if response.status_code != 200:
        raise missing_identifier()
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    claims: Any
    if content_type == "application/jwt":
        token = response.text.strip()
        if is_jwe(token):
            token = decrypt(provider, token, keys)
        elif provider.require_encryption:
            raise invalid_answer("UserInfo not encrypted")
        if token.count(".") != 2:
            raise invalid_answer("malformed UserInfo")
        registry = AllowListRegistry(provider.algorithms)
        try:
            header = jws.extract_compact(token.encode("ascii"), registry=registry).headers()
        except (JoseError, ValueError, UnicodeError) as exc:
            raise invalid_answer("malformed UserInfo") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in provider.algorithms or (kid is not None and not isinstance(kid, str)):
            raise invalid_answer("UserInfo signature algorithm not allowed")
        claims = verified_claims(token, jwks, endpoints.jwks_uri, kid, registry)
        # A signed UserInfo names its issuer and audience (OIDC Core 5.3.2).
        if claims.get("iss", provider.issuer) != provider.issuer or claims.get(
            "aud", provider.client_id
        ) not in (provider.client_id, [provider.client_id]):
            raise invalid_answer("UserInfo issuer or audience mismatch")
    elif provider.require_encryption:
        # Plain JSON is no more encrypted than a plain JWT (the FTN profile wants both as JWE).
        raise invalid_answer("UserInfo not encrypted")
    else:
        try:
            claims = response.json()
        except ValueError as exc:
            raise missing_identifier() from exc
    if not isinstance(claims, dict):
        raise missing_identifier()
    if claims.get("sub") != subject:
        # OIDC Core 5.3.4: a UserInfo about someone else is not used.
        raise invalid_answer("UserInfo is about another subject")
    return claims
