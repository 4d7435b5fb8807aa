"""How Portti authenticates itself to a provider's token and PAR endpoints (RFC 6749 §2.3,
``private_key_jwt`` of OIDC Core 9 / RFC 7523)."""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any
from urllib.parse import quote

from joserfc import jwt

from portti.config import OidcProviderSettings
from portti.keys.services import KeyStore
from portti.strongauth.discovery import Endpoints

__all__ = ["CLIENT_ASSERTION_TYPE", "auth_method", "client_authentication", "signing_key"]

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def signing_key(keys: KeyStore, alg: str) -> tuple[Any, dict[str, str]]:
    """Portti's active signing key of ``alg``, and the JWS header that names it."""
    key = keys.active_signing_key(alg)
    assert key.kid is not None
    return key, {"alg": alg, "kid": key.kid}


def auth_method(provider: OidcProviderSettings) -> str:
    """The configured client authentication, else what the presence of a secret implies."""
    if provider.token_endpoint_auth_method:
        return provider.token_endpoint_auth_method
    return "client_secret_basic" if provider.client_secret is not None else "none"


def client_authentication(
    provider: OidcProviderSettings, endpoints: Endpoints, keys: KeyStore | None
) -> tuple[dict[str, str], dict[str, str]]:
    """Headers and form fields that authenticate Portti at the token or PAR endpoint."""
    method = auth_method(provider)
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
        key, header = signing_key(keys, provider.client_assertion_alg)
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


def _client_basic_auth(client_id: str, secret: str) -> str:
    # RFC 6749 §2.3.1: both parts are form-urlencoded before being joined and base64-encoded.
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode("utf-8")).decode("ascii")
