"""The provider's signing keys, behind a small interface over the key store.

``SigningKeys`` is what the provider needs: the key to sign with for an algorithm, the public
key set clients fetch (``/.well-known/jwks.json``, served by ``portti.keys``), and the published
signing keys to check its own tokens with (an access token or an ``id_token_hint`` signed by the
previous key stays valid while that key is published). ``KeyStoreSigningKeys`` adapts
``portti.keys.KeyStore``: the ``op`` keys (SEC-25), kept sealed in the database, rotated with
the next key published before it is used.
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any, Protocol

from joserfc.jwk import ECKey, KeySet, RSAKey
from joserfc.jws import JWSRegistry

from portti.keys.services import SIGNING_ALGORITHMS, KeyStore
from portti.strongauth.oidc.jose import AllowListRegistry

SigningKey = ECKey | RSAKey
# What ID tokens may be signed with: RS256 (OIDC Core's default, what clients expect unless
# they register another), PS256 and ES256.
ID_TOKEN_ALGORITHMS = ("RS256", "PS256", "ES256")
# Access tokens are checked only by Portti (UserInfo): the cheapest signature.
ACCESS_TOKEN_ALGORITHM = "ES256"  # noqa: S105 (an algorithm name)


class SigningKeys(Protocol):
    @property
    def algorithms(self) -> tuple[str, ...]: ...

    def active_signing_key(self, alg: str) -> SigningKey: ...

    def public_jwks(self) -> dict[str, Any]: ...

    def verification_keys(self) -> KeySet: ...


class KeyStoreSigningKeys:
    algorithms = tuple(a for a in ID_TOKEN_ALGORITHMS if a in SIGNING_ALGORITHMS)

    def __init__(self, store: KeyStore) -> None:
        self.store = store
        self._verification: tuple[tuple[str, ...], KeySet] | None = None

    def active_signing_key(self, alg: str) -> SigningKey:
        # The provider's own keys (SEC-25): never the ones that sign assertions to brokers.
        return self.store.active_signing_key(alg, "op")

    def public_jwks(self) -> dict[str, Any]:
        return self.store.public_jwks()

    def verification_keys(self) -> KeySet:
        """The provider's published signing keys: what its own tokens are checked with. A
        token signed with a relying-party key (a client assertion sent to a broker) is not."""
        published = [k for k in self.store.published("op") if k.use == "sig"]
        kids = tuple(k.kid for k in published)
        cached = self._verification
        if cached is None or cached[0] != kids:
            keys = KeySet.import_key_set({"keys": [dict(k.public_jwk) for k in published]})
            cached = self._verification = (kids, keys)
        return cached[1]


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@functools.lru_cache(maxsize=64)
def _header_segment(kid: str, alg: str, typ: str | None) -> bytes:
    header: dict[str, str] = {"alg": alg, "kid": kid}
    if typ:
        header["typ"] = typ
    return _b64(json.dumps(header, separators=(",", ":")).encode())


def sign_compact(key: SigningKey, alg: str, claims: dict[str, Any], typ: str | None = None) -> str:
    """A JWS in compact form, as ``joserfc.jwt.encode`` makes it, without its per-call work
    (header checks and registry look-ups for a header that is always ours): the token endpoint
    signs two per exchange. The signature itself is joserfc's algorithm (padding, and ECDSA's
    raw r||s form)."""
    if alg not in ID_TOKEN_ALGORITHMS:
        raise ValueError(f"{alg!r} is not a signing algorithm of the provider")
    kid = key.kid
    assert kid is not None
    signing_input = (
        _header_segment(kid, alg, typ)
        + b"."
        + _b64(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
    )
    signature = JWSRegistry.algorithms[alg].sign(signing_input, key)
    return (signing_input + b"." + _b64(signature)).decode("ascii")


@functools.lru_cache(maxsize=8)
def registry_for(algorithms: tuple[str, ...]) -> AllowListRegistry:
    return AllowListRegistry(algorithms)
