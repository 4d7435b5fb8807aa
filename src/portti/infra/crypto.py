"""Keys derived from the one secret, keyed hashes for codes, and sealing of stored messages.

Codes (sign-up, SMS, e-mail) are stored only as HMAC-SHA256 under a purpose-specific key, so a
copy of the database does not reveal them and a hash from one purpose is useless in another.
Messages that must carry a code until they are delivered are sealed with AES-GCM.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


@functools.lru_cache(maxsize=256)
def derive_key(secret: bytes, purpose: str, length: int = 32) -> bytes:
    # Cached: services that derive their keys are built per request, and the inputs are few
    # (one secret, a fixed set of purposes), so this is a lookup instead of an HKDF each time.
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=None, info=b"portti:" + purpose.encode()
    ).derive(secret)


class CodeHasher:
    """Keyed hashes of short secrets; compare with ``matches`` (constant time)."""

    def __init__(self, secret: bytes, purpose: str) -> None:
        self._key = derive_key(secret, "code-hash:" + purpose)

    def hash(self, code: str) -> str:
        return hmac.new(self._key, code.encode(), hashlib.sha256).hexdigest()

    def matches(self, code: str, stored: str) -> bool:
        return hmac.compare_digest(self.hash(code), stored)


class SecretBox:
    """AES-GCM sealing for data at rest that must be read back (e.g. an unsent e-mail)."""

    def __init__(self, secret: bytes, purpose: str) -> None:
        self._aead = AESGCM(derive_key(secret, "box:" + purpose))
        self._aad = purpose.encode()

    def _aad_for(self, context: str | None) -> bytes:
        # ``context`` binds the sealed value to where it is kept (a row's id): opened with
        # another context, e.g. copied to another row, it does not open.
        return self._aad if context is None else self._aad + b"|" + context.encode()

    def seal(self, plaintext: str, *, context: str | None = None) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), self._aad_for(context))
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, token: str, *, context: str | None = None) -> str:
        raw = base64.urlsafe_b64decode(token.encode())
        return self._aead.decrypt(raw[:12], raw[12:], self._aad_for(context)).decode()
