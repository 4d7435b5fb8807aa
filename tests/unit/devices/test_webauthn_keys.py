"""WebAuthn assertions as the biometric factor of the web app (APP-5): what passes and what not."""

from __future__ import annotations

import pytest

from portti.devices.errors import InvalidDeviceKey
from portti.devices.keys import signed_message
from portti.devices.webauthn_keys import load_credential_key, relying_party, verify_assertion
from support.webauthn import UP, SoftAuthenticator

BASE = "http://127.0.0.1:8000"
MESSAGE = signed_message("unlock", "nonce-1", None)


@pytest.mark.parametrize("alg", ["ES256", "Ed25519"])
def test_a_user_verified_assertion_over_the_message_is_valid(alg: str) -> None:  # APP-5
    auth = SoftAuthenticator(alg)
    assert verify_assertion(auth.public_key, auth.assertion(MESSAGE), MESSAGE, base_url=BASE)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"origin": "http://evil.example"}, "another origin"),
        ({"rp_id": "evil.example"}, "another relying party"),
        ({"flags": UP}, "no user verification (no fingerprint check)"),
        ({"kind": "webauthn.create"}, "a registration, not an assertion"),
    ],
)
def test_assertions_for_something_else_are_refused(
    change: dict[str, object], why: str
) -> None:  # APP-5
    auth = SoftAuthenticator()
    assertion = auth.assertion(MESSAGE, **change)  # type: ignore[arg-type]
    assert not verify_assertion(auth.public_key, assertion, MESSAGE, base_url=BASE), why


def test_an_assertion_binds_the_nonce_purpose_and_context() -> None:  # APP-5 WEB-2
    auth = SoftAuthenticator()
    assertion = auth.assertion(MESSAGE)
    for other in (
        signed_message("unlock", "nonce-2", None),
        signed_message("approve_login", "nonce-1", None),
        signed_message("unlock", "nonce-1", "tx"),
    ):
        assert not verify_assertion(auth.public_key, assertion, other, base_url=BASE)


def test_another_credentials_assertion_is_refused() -> None:  # APP-5
    mine, theirs = SoftAuthenticator(), SoftAuthenticator()
    assert not verify_assertion(mine.public_key, theirs.assertion(MESSAGE), MESSAGE, base_url=BASE)


@pytest.mark.parametrize(
    "garbage", ["", "a.b.c", "a.b.c.d.e", "...", "x" * 4000, "!!.@@.##.$$", "AA.AA.AA.AA"]
)
def test_malformed_assertions_are_simply_invalid(garbage: str) -> None:  # APP-5
    auth = SoftAuthenticator()
    assert not verify_assertion(auth.public_key, garbage, MESSAGE, base_url=BASE)


def test_relying_party_of_the_base_url() -> None:  # APP-5
    assert relying_party("https://portti.example.com") == (
        "portti.example.com",
        "https://portti.example.com",
    )
    # WebAuthn refuses IP addresses: a loopback base URL means localhost, port kept.
    assert relying_party("http://127.0.0.1:8000") == ("localhost", "http://localhost:8000")
    assert relying_party("http://localhost") == ("localhost", "http://localhost")


def test_only_p256_and_ed25519_credential_keys_are_taken() -> None:  # APP-5
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    from portti.devices.keys import b64url_encode

    def spki(key: object) -> str:
        return b64url_encode(
            key.public_bytes(  # type: ignore[attr-defined]
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    load_credential_key(SoftAuthenticator().public_key)
    for other in (
        rsa.generate_private_key(65537, 2048).public_key(),
        ec.generate_private_key(ec.SECP384R1()).public_key(),
    ):
        with pytest.raises(InvalidDeviceKey):
            load_credential_key(spki(other))
