"""The provider's signing keys, behind a small interface.

``SigningKeys`` is what the provider needs: the key to sign with for an algorithm, and the public
key set clients verify with. ``DerivedSigningKeys`` is the interim implementation: P-256 (ES256)
and Ed25519 (EdDSA) keys derived from the root secret with HKDF, so that every process agrees
without storing anything. It has no rotation: a key store with keys kept sealed in the database
and rotation (the next key published before use) replaces it behind the same interface.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc.jwk import ECKey, KeySet, OKPKey

from portti.infra.crypto import derive_key
from portti.strongauth.oidc import AllowListRegistry

SigningKey = ECKey | OKPKey
SUPPORTED_ALGORITHMS = ("ES256", "EdDSA")
# The order of n of P-256: a derived scalar must lie in [1, n-1].
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class SigningKeys(Protocol):
    def active_signing_key(self, alg: str) -> SigningKey: ...

    def public_jwks(self) -> dict[str, Any]: ...

    def verification_keys(self) -> KeySet: ...

    @property
    def algorithms(self) -> tuple[str, ...]: ...


def _with_kid(key: SigningKey, alg: str) -> SigningKey:
    kid = key.thumbprint()
    return type(key).import_key(key.as_dict(private=True), {"kid": kid, "use": "sig", "alg": alg})


class DerivedSigningKeys:
    """ES256 and EdDSA keys derived from the root secret (``kid`` = RFC 7638 thumbprint)."""

    algorithms = SUPPORTED_ALGORITHMS

    def __init__(self, secret: bytes) -> None:
        scalar = int.from_bytes(derive_key(secret, "oidc-op-signing:ES256", 48), "big")
        p256 = ec.derive_private_key(scalar % (_P256_ORDER - 1) + 1, ec.SECP256R1())
        ed = Ed25519PrivateKey.from_private_bytes(derive_key(secret, "oidc-op-signing:EdDSA"))
        self._keys: dict[str, SigningKey] = {
            "ES256": _with_kid(ECKey.import_key(p256), "ES256"),
            "EdDSA": _with_kid(OKPKey.import_key(ed), "EdDSA"),
        }
        self._public = {"keys": [k.as_dict(private=False) for k in self._keys.values()]}
        self._verification = KeySet.import_key_set(self._public)  # type: ignore[arg-type]

    def active_signing_key(self, alg: str) -> SigningKey:
        try:
            return self._keys[alg]
        except KeyError:
            raise ValueError(f"no signing key for {alg}") from None

    def public_jwks(self) -> dict[str, Any]:
        return self._public

    def verification_keys(self) -> KeySet:
        return self._verification


@functools.lru_cache(maxsize=4)
def derived_signing_keys(secret: bytes) -> DerivedSigningKeys:
    return DerivedSigningKeys(secret)


@functools.lru_cache(maxsize=8)
def registry_for(algorithms: tuple[str, ...]) -> AllowListRegistry:
    return AllowListRegistry(algorithms)
