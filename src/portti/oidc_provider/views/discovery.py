"""OpenID Provider discovery (OpenID Connect Discovery 1.0 §4)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from portti.machines.principal import MACHINE_SCOPES
from portti.oidc_provider.claims import ACR_VALUES
from portti.oidc_provider.keys import SigningKeys
from portti.oidc_provider.provider import SCOPES
from portti.oidc_provider.views.common import (
    issuer_of,
    router,
)
from portti.runtime import runtime


@router.get("/.well-known/openid-configuration")
def discovery(request: Request) -> JSONResponse:
    issuer = issuer_of(request)
    keys: SigningKeys = runtime(request).oidc_keys
    return JSONResponse(
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oidc/authorize",
            "token_endpoint": f"{issuer}/oidc/token",
            "userinfo_endpoint": f"{issuer}/oidc/userinfo",
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "end_session_endpoint": f"{issuer}/oidc/logout",
            "revocation_endpoint": f"{issuer}/oidc/revoke",
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "private_key_jwt",
                "none",
            ],
            "scopes_supported": [*SCOPES, *MACHINE_SCOPES],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": list(keys.algorithms),
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "private_key_jwt",
                "none",
            ],
            "token_endpoint_auth_signing_alg_values_supported": [
                "ES256",
                "ES384",
                "PS256",
                "RS256",
                "EdDSA",
            ],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "acr",
                "amr",
                "sid",
                "azp",
                "name",
                "given_name",
                "family_name",
                "email",
                "email_verified",
                "companies",
                "company",
                "roles",
                "profiles",
            ],
            "acr_values_supported": list(ACR_VALUES),
            "prompt_values_supported": ["none", "login", "consent", "select_account"],
            # Read for the essential "acr" of the ID token (SEC-22); other claims requests
            # are ignored, as OIDC Core 5.5 allows.
            "claims_parameter_supported": True,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "authorization_response_iss_parameter_supported": True,
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
        },
        headers={"cache-control": "public, max-age=300"},
    )
