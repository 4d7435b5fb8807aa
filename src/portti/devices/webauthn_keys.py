"""Biometrics through WebAuthn: the ``webauthn`` biometric key kind (APP-5).

An app that runs in a browser (the Portti web app) cannot hold a key the platform releases only
after a fingerprint check; it can hold a WebAuthn credential of the phone's platform
authenticator, which signs only after user verification. At binding the app sends the
credential's public key (``getPublicKey()``: SubjectPublicKeyInfo, P-256 or Ed25519) as the
biometric key with ``biometric_key_alg = "webauthn"``. Each unlock or approval then carries an
assertion instead of a plain signature, as ``biometric_signature``:

    <credential id>.<authenticatorData>.<clientDataJSON>.<signature>   (each base64url)

with the assertion's challenge = SHA-256 of exactly the bytes the device key signs
(``signed_message(purpose, nonce, context)``), so the single-use server nonce, the purpose and
the context bind it as they bind the device key's signature. The assertion is checked by
py_webauthn (``verify_authentication_response``): type ``webauthn.get``, the challenge, the
origin, the RP ID hash, user presence *and* user verification, and the signature over
``authenticatorData ‖ SHA-256(clientDataJSON)``.

The relying party is the service's own origin; its RP ID is the base URL's host name. WebAuthn
refuses IP addresses as RP IDs, so a loopback base URL (development, tests) uses ``localhost``,
the one loopback name browsers accept, with the app opened at ``http://localhost:<port>``.

The signature counter is not kept (passkeys synced between devices report 0): a cloned
authenticator is not detected by the counter, which the device key and the PIN schedule do not
need.
"""

from __future__ import annotations

import hashlib
import ipaddress
from urllib.parse import urlsplit

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from webauthn import verify_authentication_response
from webauthn.helpers.exceptions import WebAuthnException

from portti.devices import keys
from portti.devices.errors import InvalidDeviceKey
from portti.i18n import _l

WEBAUTHN = "webauthn"
MAX_ASSERTION_CHARS = 3000  # credential id (≤ 1023 bytes in theory, ~64 in practice) + the rest
_COSE_ES256 = -7
_COSE_EDDSA = -8


def relying_party(base_url: str) -> tuple[str, str]:
    """(RP ID, origin) for the service at ``base_url``."""
    parts = urlsplit(base_url)
    host = parts.hostname or "localhost"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        port = f":{parts.port}" if parts.port else ""
        return "localhost", f"{parts.scheme}://localhost{port}"
    return host, f"{parts.scheme}://{parts.netloc}"


def load_credential_key(b64: str) -> keys.DevicePublicKey:
    """A WebAuthn credential's public key as the app sends it: SPKI DER, base64url; P-256 or an
    acceptable Ed25519 key (the two algorithms the app asks the authenticator for)."""
    try:
        return keys.load_public_key(keys.ES256, b64)
    except InvalidDeviceKey:
        pass
    try:
        return keys.load_public_key(keys.ED25519, b64)
    except InvalidDeviceKey as exc:
        raise InvalidDeviceKey(_l("A WebAuthn key must be a P-256 or Ed25519 key.")) from exc


def _cose_key(key: keys.DevicePublicKey) -> bytes:
    if isinstance(key, Ed25519PublicKey):
        return cbor2.dumps({1: 1, 3: _COSE_EDDSA, -1: 6, -2: key.public_bytes_raw()})
    numbers = key.public_numbers()
    assert isinstance(numbers, ec.EllipticCurvePublicNumbers)
    return cbor2.dumps(
        {
            1: 2,
            3: _COSE_ES256,
            -1: 1,
            -2: numbers.x.to_bytes(32, "big"),
            -3: numbers.y.to_bytes(32, "big"),
        }
    )


def verify_assertion(public_key_b64: str, assertion: str, message: bytes, *, base_url: str) -> bool:
    """Whether ``assertion`` is the credential's, user-verified, for this origin, over
    SHA-256(``message``). Anything malformed is simply not valid."""
    if not isinstance(assertion, str) or len(assertion) > MAX_ASSERTION_CHARS:
        return False
    parts = assertion.split(".")
    if len(parts) != 4 or not all(parts):
        return False
    credential_id, authenticator_data, client_data, signature = parts
    rp_id, origin = relying_party(base_url)
    key = load_credential_key(public_key_b64)
    try:
        verify_authentication_response(
            credential={
                "id": credential_id,
                "rawId": credential_id,
                "type": "public-key",
                "response": {
                    "authenticatorData": authenticator_data,
                    "clientDataJSON": client_data,
                    "signature": signature,
                },
            },
            expected_challenge=hashlib.sha256(message).digest(),
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=_cose_key(key),
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError):
        return False
    return True
