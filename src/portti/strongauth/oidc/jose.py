"""JOSE for talking to identity providers: the signature algorithm allow-list, and opening a JWE
that a provider encrypted for Portti."""

from __future__ import annotations

import base64
import json
from collections.abc import Collection

from joserfc import jwe
from joserfc.errors import JoseError, UnsupportedAlgorithmError
from joserfc.jwa import JWSAlgModel
from joserfc.jws import JWSRegistry

from portti.config import OidcProviderSettings
from portti.keys.services import KeyStore
from portti.strongauth.oidc.errors import invalid_answer

__all__ = ["CONTENT_ENCRYPTION", "AllowListRegistry", "decrypt", "is_jwe"]

# Content encryption accepted with the key-management algorithms of ``encryption_algorithms``.
CONTENT_ENCRYPTION = ("A128CBC-HS256", "A256CBC-HS512", "A128GCM", "A256GCM")


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


def is_jwe(token: str) -> bool:
    """Whether a compact token is a JWE (five parts) rather than a JWS (three)."""
    return token.count(".") == 4


def decrypt(provider: OidcProviderSettings, token: str, keys: KeyStore | None) -> str:
    """A JWE (five parts) opened with Portti's encryption keys; its payload is the JWS."""
    if keys is None:
        raise invalid_answer("encrypted, but no decryption key is configured")
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
        raise invalid_answer("malformed encrypted token") from exc
    if not isinstance(header, dict):
        raise invalid_answer("malformed encrypted token")
    if header.get("alg") not in provider.encryption_algorithms:
        raise invalid_answer("encryption algorithm not allowed")
    if header.get("iss", provider.issuer) != provider.issuer or header.get(
        "aud", provider.client_id
    ) not in (provider.client_id, [provider.client_id]):
        raise invalid_answer("encrypted for another party")
    try:
        opened = jwe.decrypt_compact(token, keys.decryption_keys(), registry=registry)
    except (JoseError, ValueError) as exc:
        raise invalid_answer("could not be decrypted") from exc
    payload = opened.plaintext
    if payload is None:
        raise invalid_answer("could not be decrypted")
    return payload.decode("ascii", errors="replace")
