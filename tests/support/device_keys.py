"""A simulated app installation for tests: key pairs made "on the device", signatures over the
server's challenges. Stores only what a real app stores: private keys and ids, never the PIN."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from portti.devices.keys import b64url_encode, signed_message

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def new_private_key(alg: str) -> PrivateKey:
    if alg == "Ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(alg)


def public_b64(key: PrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b64url_encode(der)


def sign(key: PrivateKey, message: bytes) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return b64url_encode(key.sign(message))
    return b64url_encode(key.sign(message, ec.ECDSA(hashes.SHA256())))


def private_bytes(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass
class SimulatedApp:
    alg: str = "Ed25519"
    biometrics: bool = False
    key: PrivateKey = field(init=False)
    biometric_key: PrivateKey | None = field(init=False, default=None)
    public_id: str | None = None

    def __post_init__(self) -> None:
        self.key = new_private_key(self.alg)
        if self.biometrics:
            # On a phone: a second key the secure enclave releases only after a face/fingerprint.
            self.biometric_key = new_private_key("ES256")

    @property
    def public_key(self) -> str:
        return public_b64(self.key)

    @property
    def biometric_public_key(self) -> str | None:
        return public_b64(self.biometric_key) if self.biometric_key else None

    def bind_kwargs(self) -> dict[str, str | None]:
        return {
            "key_alg": self.alg,
            "public_key": self.public_key,
            "biometric_key_alg": "ES256" if self.biometric_key else None,
            "biometric_public_key": self.biometric_public_key,
        }

    def sign(self, purpose: str, nonce: str, context: str | None = None) -> str:
        return sign(self.key, signed_message(purpose, nonce, context))

    def sign_biometric(self, purpose: str, nonce: str, context: str | None = None) -> str:
        assert self.biometric_key is not None
        return sign(self.biometric_key, signed_message(purpose, nonce, context))

    def stored_state(self) -> dict[str, bytes | str | None]:
        """Everything the app keeps on the phone: what a copy of its storage holds."""
        return {
            "public_id": self.public_id,
            "alg": self.alg,
            "private_key": private_bytes(self.key),
            "biometric_private_key": private_bytes(self.biometric_key)
            if self.biometric_key
            else None,
        }

    @classmethod
    def from_stored_state(cls, state: dict[str, bytes | str | None]) -> SimulatedApp:
        """A clone made from a copied storage."""
        clone = cls.__new__(cls)
        clone.alg = str(state["alg"])
        clone.biometrics = state["biometric_private_key"] is not None
        raw = state["private_key"]
        assert isinstance(raw, bytes)
        key = serialization.load_der_private_key(raw, password=None)
        assert isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey)
        clone.key = key
        clone.biometric_key = None
        bio = state["biometric_private_key"]
        if isinstance(bio, bytes):
            bkey = serialization.load_der_private_key(bio, password=None)
            assert isinstance(bkey, ec.EllipticCurvePrivateKey)
            clone.biometric_key = bkey
        clone.public_id = str(state["public_id"])
        return clone
