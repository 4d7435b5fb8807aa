"""Device keys: loading the public keys apps send, and checking their signatures (APP-4).

An app creates its key pair on the device and sends the public half once, at binding, as a
SubjectPublicKeyInfo (DER) in base64url without padding. Two algorithms are accepted:

* ``Ed25519`` — signatures are the raw 64 bytes;
* ``ES256`` — ECDSA on P-256 (SECP256R1) with SHA-256, signatures DER-encoded (what Android
  KeyStore and iOS ``SecKeyCreateSignature`` produce).

Every signature covers ``signed_message(purpose, nonce, context)``: a version tag, what the
approval is for, the server's single-use nonce and the context it was issued for (e.g. a login
transaction), so a signature for one purpose or transaction is useless for another.

``cryptography`` checks that a P-256 point lies on the curve (its cofactor is 1, so no small
subgroups) but loads any 32 bytes as an Ed25519 key. We therefore refuse Ed25519 keys that are
not canonical, not on the curve, or of small order: with a small-order key *anyone* could make
signatures that verify ("Taming the many EdDSAs", Chalkias et al. 2020; libsodium refuses the
same list).
"""

from __future__ import annotations

import base64
import binascii
import functools
import re

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from portti.devices.errors import InvalidDeviceKey
from portti.i18n import _l

ED25519 = "Ed25519"
ES256 = "ES256"
ALGORITHMS = frozenset({ED25519, ES256})
MESSAGE_PREFIX = b"portti-v1|"

MAX_KEY_CHARS = 300  # the column's width; a P-256 SPKI is 124 characters, Ed25519's 59
MAX_SIGNATURE_CHARS = 200  # an ES256 DER signature is at most 72 bytes (96 characters)
_B64URL = re.compile(r"[A-Za-z0-9_-]*")

# Ed25519 field prime, the curve constant d, and the y coordinates of the points whose order
# divides 8 (identity, order 2, order 4, and the two order-8 y values).
_P = 2**255 - 19
_D = (-121665 * pow(121666, -1, _P)) % _P
_SMALL_ORDER_Y = frozenset(
    {
        0,
        1,
        _P - 1,
        int.from_bytes(
            bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
            "little",
        ),
        int.from_bytes(
            bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
            "little",
        ),
    }
)

DevicePublicKey = Ed25519PublicKey | EllipticCurvePublicKey


def b64url_decode(text: str, *, max_chars: int) -> bytes:
    """Strict base64url without padding: no other characters, no padding, no excess length."""
    if not isinstance(text, str) or not 0 < len(text) <= max_chars or not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    if len(text) % 4 == 1:
        raise ValueError("impossible base64 length")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _ed25519_point_is_acceptable(raw: bytes) -> bool:
    """Canonical encoding, a point on the curve, and not of small order."""
    if len(raw) != 32:
        return False
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    if y >= _P or y in _SMALL_ORDER_Y:
        return False
    # x² = (y² − 1) / (d·y² + 1) must be a non-zero square (x = 0 only for y = ±1, refused above).
    # Either sign bit then names a point, so the sign bit needs no check.
    x2 = (y * y - 1) * pow(_D * y * y + 1, -1, _P) % _P
    return x2 != 0 and pow(x2, (_P - 1) // 2, _P) == 1


def load_public_key(alg: str, b64: str) -> DevicePublicKey:
    """The public key an app sent; ``InvalidDeviceKey`` for anything we would not trust."""
    if alg not in ALGORITHMS:
        raise InvalidDeviceKey(_l("The key algorithm must be Ed25519 or ES256."))
    try:
        der = b64url_decode(b64, max_chars=MAX_KEY_CHARS)
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidDeviceKey() from exc
    if alg == ED25519:
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidDeviceKey(_l("The key is not an Ed25519 key."))
        if not _ed25519_point_is_acceptable(key.public_bytes_raw()):
            raise InvalidDeviceKey(_l("The Ed25519 key is not a valid public key."))
        return key
    if not isinstance(key, EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidDeviceKey(_l("An ES256 key must be an elliptic-curve key on P-256."))
    return key


@functools.lru_cache(maxsize=4096)
def _stored_public_key(alg: str, b64: str) -> DevicePublicKey:
    """``load_public_key`` for a stored key, cached per (algorithm, key): the parse and the
    Ed25519 point check (a modular exponentiation in Python) ran on every approval. Only keys
    that passed are cached (an exception is never cached), and a key object is immutable."""
    return load_public_key(alg, b64)


def encode_public_key(key: DevicePublicKey) -> str:
    """The canonical form we store: SubjectPublicKeyInfo DER (uncompressed point), base64url."""
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return b64url_encode(key.public_bytes(serialization.Encoding.DER, spki))


def signed_message(purpose: str, nonce: str, context: str | None) -> bytes:
    return MESSAGE_PREFIX + b"|".join((purpose.encode(), nonce.encode(), (context or "").encode()))


def verify_signature(alg: str, public_key_b64: str, signature_b64: str, message: bytes) -> bool:
    """Whether the signature is the key's over ``message``. A malformed signature is simply
    not valid; a malformed *stored* key raises ``InvalidDeviceKey`` (it was checked at binding,
    so that is a fault, not an answer)."""
    key = _stored_public_key(alg, public_key_b64)
    try:
        signature = b64url_decode(signature_b64, max_chars=MAX_SIGNATURE_CHARS)
    except ValueError:
        return False
    try:
        if isinstance(key, Ed25519PublicKey):
            if len(signature) != 64:
                return False
            key.verify(signature, message)
        else:
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True
