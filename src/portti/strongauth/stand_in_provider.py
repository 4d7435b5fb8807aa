"""The built-in stand-in identity provider: an OpenID Connect provider for demo and test mode only.

It stands in for bank ID, mobile certificate and ID-card providers so the product runs offline,
and speaks the same protocol (authorization code + PKCE S256, EdDSA-signed ID tokens), so logins
through it exercise the real relying-party code in ``portti.strongauth.oidc``. This module holds
what it is: its signing key, the identities it vouches for, the claims it signs, and the settings
with which Portti's relying party talks to it. Its routes (``/test-idp``) are in
``portti.strongauth.stand_in_views``; mounting them is the caller's decision (only when
``Settings.test_idp_enabled``).

It keeps no server-side state: the authorization code is itself a short-lived signed token, and
the key is derived from a seed, so any process of a multi-process deployment can serve any step.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.jwk import OKPKey

from portti.config import OidcProviderSettings

__all__ = [
    "ALGORITHM",
    "COUNTRIES",
    "StandInIdentity",
    "code_claims",
    "derive_signing_key",
    "discovery_document",
    "id_token_claims",
    "is_stand_in_provider",
    "stand_in_provider_settings",
]

ALGORITHM = "EdDSA"
CLIENT_ID = "portti"
# Where it is mounted, under the service's base URL.
PATH = "/test-idp"
CODE_LIFETIME_SECONDS = 60
ID_TOKEN_LIFETIME_SECONDS = 300
ACR_FI = "http://ftn.ficora.fi/2017/loa2"
ACR_OTHER = "substantial"
# The levels it can claim, per country of the identity: what ``acr_values`` may ask for.
ACRS_FI = (ACR_FI, "http://ftn.ficora.fi/2017/loa3")
ACRS_OTHER = (
    ACR_OTHER,
    "high",
    "http://eidas.europa.eu/LoA/substantial",
    "http://eidas.europa.eu/LoA/high",
)
COUNTRIES: dict[str, str] = {"FI": "Finland", "EE": "Estonia", "NO": "Norway", "SE": "Sweden"}


@dataclass(frozen=True)
class StandInIdentity:
    """A person the stand-in provider offers on its page (a demo person, or one typed in)."""

    label: str
    given_name: str
    family_name: str
    country: str
    national_id: str
    note: str = ""


def derive_signing_key(signing_seed: bytes) -> OKPKey:
    """The provider's Ed25519 key: HKDF-SHA256(seed, info="portti test idp") as the private key.

    Deterministic, so every process given the same seed signs and verifies with the same key;
    ``kid`` is the key's RFC 7638 thumbprint.
    """
    if not signing_seed:
        raise ValueError("the test identity provider needs a non-empty signing seed")
    private_bytes = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"portti test idp"
    ).derive(signing_seed)
    private_key = Ed25519PrivateKey.from_private_bytes(private_bytes)
    kid = OKPKey.import_key(private_key).thumbprint()
    return OKPKey.import_key(private_key, {"kid": kid, "use": "sig", "alg": ALGORITHM})


def stand_in_provider_settings(
    base_url: str, key: str, label: str, country: str | None
) -> OidcProviderSettings:
    """Relying-party settings for the built-in provider, mounted under ``{base_url}/test-idp``.

    ``key`` and ``country`` ride along in the authorization endpoint's query as hints for the
    login page (which provider it stands in for, which country's identities to offer first).
    """
    issuer = f"{base_url.rstrip('/')}{PATH}"
    hints = {"provider_hint": key}
    if country:
        hints["country_hint"] = country
    return OidcProviderSettings(
        key=key,
        label=label,
        issuer=issuer,
        client_id=CLIENT_ID,
        authorization_endpoint=f"{issuer}/authorize?{urlencode(hints)}",
        token_endpoint=f"{issuer}/token",
        jwks_uri=f"{issuer}/jwks",
        scopes=["openid", "profile"],
        algorithms=[ALGORITHM],
        identifier_claim="national_id",
        identifier_country_claim="national_id_country",
        identifier_country=country or "FI",
    )


def is_stand_in_provider(provider: OidcProviderSettings) -> bool:
    """Whether ``provider`` is this built-in one (it stands in for one country's provider)."""
    return provider.issuer.rstrip("/").endswith(PATH) and provider.client_id == CLIENT_ID


def discovery_document(issuer: str) -> dict[str, Any]:
    """Its OpenID Connect discovery metadata, at ``{issuer}/.well-known/openid-configuration``."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "scopes_supported": ["openid", "profile"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "acr_values_supported": [*ACRS_FI, *ACRS_OTHER],
        "claims_supported": [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "given_name",
            "family_name",
            "name",
            "national_id",
            "national_id_country",
        ],
    }


def acr_for(country: str, acr_values: str) -> str:
    """The first asked-for level this provider can claim for the identity, else its default.

    Every login on this provider is a new authentication on its page (it keeps no session with
    the person), so ``prompt=login`` and ``max_age=0`` always hold and ``auth_time`` is the
    moment the identity was picked.
    """
    supported = ACRS_FI if country == "FI" else ACRS_OTHER
    for asked in acr_values.split():
        if asked in supported:
            return asked
    return supported[0]


def code_claims(chosen: StandInIdentity, params: Mapping[str, str], now: int) -> dict[str, Any]:
    """What the authorization code carries (it is itself a signed token): the picked identity,
    and what the token request must match (client, redirect URI, PKCE challenge)."""
    claims: dict[str, Any] = {
        "typ": "code",
        "client_id": params["client_id"],
        "redirect_uri": params["redirect_uri"],
        "code_challenge": params["code_challenge"],
        "given_name": chosen.given_name,
        "family_name": chosen.family_name,
        "country": chosen.country.upper(),
        "national_id": chosen.national_id,
        "acr": acr_for(chosen.country.upper(), params["acr_values"]),
        "auth_time": now,
        "iat": now,
        "exp": now + CODE_LIFETIME_SECONDS,
        "jti": secrets.token_urlsafe(12),
    }
    if params["nonce"]:
        claims["nonce"] = params["nonce"]
    return claims


def _sub(country: str, national_id: str) -> str:
    return hashlib.sha256(f"{country}{national_id}".encode()).hexdigest()[:32]


def id_token_claims(
    code: Mapping[str, Any], *, issuer: str, client_id: str, now: int
) -> dict[str, Any]:
    """The ID token's claims for a redeemed code's identity."""
    country = str(code["country"])
    national_id = str(code["national_id"])
    given_name = str(code["given_name"])
    family_name = str(code["family_name"])
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": _sub(country, national_id),
        "aud": client_id,
        "exp": now + ID_TOKEN_LIFETIME_SECONDS,
        "iat": now,
        "auth_time": code.get("auth_time", now),
        "acr": code.get("acr") or (ACR_FI if country == "FI" else ACR_OTHER),
        "given_name": given_name,
        "family_name": family_name,
        "name": f"{given_name} {family_name}",
        "national_id": national_id,
        "national_id_country": country,
    }
    if "nonce" in code:
        claims["nonce"] = code["nonce"]
    if isinstance(code.get("amr"), list):
        # A broker's methods (RFC 8176), when a test has the code say so.
        claims["amr"] = code["amr"]
    return claims
