"""A software WebAuthn authenticator for tests: makes assertions as a platform authenticator
would (authenticatorData, clientDataJSON, signature), in the app's wire format."""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from portti.devices.keys import b64url_encode

UP, UV = 0x01, 0x04


@dataclass
class SoftAuthenticator:
    alg: str = "ES256"
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    counter: int = 0

    def __post_init__(self) -> None:
        self.key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey = (
            ec.generate_private_key(ec.SECP256R1())
            if self.alg == "ES256"
            else ed25519.Ed25519PrivateKey.generate()
        )

    @property
    def public_key(self) -> str:
        return b64url_encode(
            self.key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def assertion(
        self,
        message: bytes,
        *,
        origin: str = "http://localhost:8000",
        rp_id: str = "localhost",
        flags: int = UP | UV,
        kind: str = "webauthn.get",
    ) -> str:
        self.counter += 1
        auth_data = hashlib.sha256(rp_id.encode()).digest() + struct.pack(
            ">BI", flags, self.counter
        )
        client_data = json.dumps(
            {
                "type": kind,
                "challenge": b64url_encode(hashlib.sha256(message).digest()),
                "origin": origin,
                "crossOrigin": False,
            }
        ).encode()
        signed = auth_data + hashlib.sha256(client_data).digest()
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        else:
            signature = self.key.sign(signed)
        return ".".join(
            b64url_encode(part) for part in (self.credential_id, auth_data, client_data, signature)
        )
