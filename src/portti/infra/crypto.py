"""Keys derived from the one secret, keyed hashes for codes, and sealing of stored messages.

Codes (sign-up, SMS, e-mail) are stored only as HMAC-SHA256 under a purpose-specific key, so a
copy of the database does not reveal them and a hash from one purpose is useless in another.
Messages that must carry a code until they are delivered are sealed with AES-GCM.

The root secret can be rotated (OPS-13): :class:`SecretRing` is the current secret (as
``bytes``, so everything that takes the secret takes it) with the previous ones beside it.
Sealing and hashing use the current one; opening and checking try the previous ones too, so
what was sealed or hashed before a rotation keeps working (``portti secrets rotate`` re-seals
it). A few keys protect what cannot be made again under a new secret — the PIN pepper (the PIN
is never known to the server), the pairwise subject key (clients keep the subjects), the keys of
long-lived token hashes (the app's "this wasn't me" token, clients' secrets): for those
(:data:`STABLE_PURPOSES`) the key itself is kept, sealed, in the database
(``infra/secret_material.py``) and carried on the ring as ``stable``; a rotation re-seals it and
it never changes.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from portti.config import SecretRing

__all__ = [
    "STABLE_PURPOSES",
    "CodeHasher",
    "SecretBox",
    "SecretRing",
    "bound_to",
    "derive_key",
    "derive_keys",
]


# Keys that must outlive a rotation of the root secret: kept sealed in the database.
STABLE_PURPOSES: tuple[str, ...] = (
    "pin-pepper",
    "oidc-pairwise-subject",
    "code-hash:not-me",
    "code-hash:oidc-client-secret",
)


@functools.lru_cache(maxsize=256)
def _derive(secret: bytes, purpose: str, length: int) -> bytes:
    # Cached: services that derive their keys are built per request, and the inputs are few
    # (one secret, a fixed set of purposes), so this is a lookup instead of an HKDF each time.
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=None, info=b"portti:" + purpose.encode()
    ).derive(secret)


def derive_key(secret: bytes, purpose: str, length: int = 32) -> bytes:
    """The key for ``purpose``: the stable one where the ring carries it, else derived from the
    current secret."""
    if isinstance(secret, SecretRing) and purpose in secret.stable:
        return secret.stable[purpose]
    return _derive(bytes(secret), purpose, length)


def derive_keys(secret: bytes, purpose: str, length: int = 32) -> tuple[bytes, ...]:
    """The keys for ``purpose`` a check may accept: the current one first, then those of the
    previous secrets (none for a stable key: it does not change)."""
    first = derive_key(secret, purpose, length)
    if not isinstance(secret, SecretRing) or purpose in secret.stable:
        return (first,)
    return (first, *(_derive(p, purpose, length) for p in secret.previous))


def bound_to(secret: bytes, suffix: bytes) -> bytes:
    """``secret`` with ``suffix`` appended, keeping a ring a ring (each of its secrets gets the
    suffix), for keys that must be derived from the secret and something only the caller has."""
    if isinstance(secret, SecretRing):
        return SecretRing(secret.current + suffix, tuple(p + suffix for p in secret.previous))
    return secret + suffix


class CodeHasher:
    """Keyed hashes of short secrets; compare with ``matches`` (constant time). ``hashes``
    gives the hash under every key of the ring, for looking a row up by what was hashed."""

    def __init__(self, secret: bytes, purpose: str) -> None:
        self._keys = derive_keys(secret, "code-hash:" + purpose)

    def hash(self, code: str) -> str:
        return hmac.new(self._keys[0], code.encode(), hashlib.sha256).hexdigest()

    def hashes(self, code: str) -> list[str]:
        return [hmac.new(k, code.encode(), hashlib.sha256).hexdigest() for k in self._keys]

    def matches(self, code: str, stored: str) -> bool:
        found = False
        for candidate in self.hashes(code):
            found |= hmac.compare_digest(candidate, stored)
        return found


class SecretBox:
    """AES-GCM sealing for data at rest that must be read back (e.g. an unsent e-mail). Seals
    under the current secret; opens what any secret of the ring sealed."""

    def __init__(self, secret: bytes, purpose: str) -> None:
        self._aeads = [AESGCM(k) for k in derive_keys(secret, "box:" + purpose)]
        self._aad = purpose.encode()

    def _aad_for(self, context: str | None) -> bytes:
        # ``context`` binds the sealed value to where it is kept (a row's id): opened with
        # another context, e.g. copied to another row, it does not open.
        return self._aad if context is None else self._aad + b"|" + context.encode()

    def seal(self, plaintext: str, *, context: str | None = None) -> str:
        nonce = os.urandom(12)
        sealed = self._aeads[0].encrypt(nonce, plaintext.encode(), self._aad_for(context))
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, token: str, *, context: str | None = None) -> str:
        return self._open(token, context)[0]

    def reseal(self, token: str, *, context: str | None = None) -> str | None:
        """``token`` sealed under the current secret, or None when it already is."""
        plaintext, index = self._open(token, context)
        return None if index == 0 else self.seal(plaintext, context=context)

    def _open(self, token: str, context: str | None) -> tuple[str, int]:
        raw = base64.urlsafe_b64decode(token.encode())
        aad = self._aad_for(context)
        for index, aead in enumerate(self._aeads):
            try:
                return aead.decrypt(raw[:12], raw[12:], aad).decode(), index
            except InvalidTag:
                continue
        raise InvalidTag()
