"""The ID token: its signature (by an allowed algorithm and the provider's key), its claims, and
its ``nonce``; decrypted first when the provider encrypts it."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError

from portti.config import OidcProviderSettings
from portti.i18n import _l
from portti.keys.services import KeyStore
from portti.strongauth.oidc.errors import ProviderError, invalid_answer
from portti.strongauth.oidc.jose import AllowListRegistry, decrypt, is_jwe
from portti.strongauth.oidc.jwks import JwksCache, verified_claims

__all__ = ["IAT_LEEWAY_SECONDS", "verify_id_token"]

# Clock skew tolerated on "iat" (and nothing else: an expired token stays expired).
IAT_LEEWAY_SECONDS = 60


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
    if is_jwe(id_token):
        id_token = decrypt(provider, id_token, keys)
    elif provider.require_encryption:
        raise invalid_answer("not encrypted")
    jwks_uri = jwks_uri or provider.jwks_uri or ""
    registry = AllowListRegistry(provider.algorithms)
    try:
        header = jws.extract_compact(id_token.encode("ascii"), registry=registry).headers()
    except (JoseError, ValueError, UnicodeError) as exc:
        raise invalid_answer("malformed ID token") from exc

    # Decided from our configuration before any key is looked at: "none" never, HS* (which
    # would take the provider's *public* key as an HMAC secret) only if someone listed it.
    alg = header.get("alg")
    if not isinstance(alg, str) or alg == "none" or alg not in provider.algorithms:
        raise invalid_answer("signature algorithm not allowed")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise invalid_answer("malformed key id")

    claims = verified_claims(id_token, jwks, jwks_uri, kid, registry)

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
        raise invalid_answer(
            f"claim {claim!r} not accepted" if claim else "claims not accepted"
        ) from exc
    # The registry grants the leeway to "exp" too; an expired ID token is refused outright.
    if claims["exp"] <= timestamp:
        raise invalid_answer("expired")

    aud = claims["aud"]
    azp = claims.get("azp")
    if (isinstance(aud, list) and len(aud) > 1 and azp is None) or (
        azp is not None and azp != provider.client_id
    ):
        raise invalid_answer("authorized party mismatch")

    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not hmac.compare_digest(
        nonce.encode("utf-8"), expected_nonce.encode("utf-8")
    ):
        raise ProviderError(
            ProviderError.NONCE_MISMATCH,
            _l("The login could not be matched to this browser. Try again."),
        )
    return claims
