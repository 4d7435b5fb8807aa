"""Device keys: loading what apps send, and checking signatures over server nonces (APP-4)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from portti.devices.errors import InvalidDeviceKey
from portti.devices.keys import (
    b64url_encode,
    encode_public_key,
    load_public_key,
    signed_message,
    verify_signature,
)
from support.device_keys import new_private_key, public_b64, sign

ALGS = ["Ed25519", "ES256"]


def spki(public_key: object) -> str:
    return b64url_encode(
        public_key.public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def test_signed_message_names_version_purpose_nonce_and_context():  # APP-4
    assert signed_message("unlock", "abc", None) == b"portti-v1|unlock|abc|"
    assert signed_message("approve_login", "n", "tx_1") == b"portti-v1|approve_login|n|tx_1"


@pytest.mark.parametrize("alg", ALGS)
def test_round_trip_with_a_key_made_by_cryptography(alg):  # APP-4
    key = new_private_key(alg)
    pub = public_b64(key)
    loaded = load_public_key(alg, pub)
    assert encode_public_key(loaded) == pub
    message = signed_message("unlock", "nonce-1", None)
    assert verify_signature(alg, pub, sign(key, message), message) is True


@pytest.mark.parametrize("alg", ALGS)
def test_signature_over_a_different_nonce_is_false(alg):  # APP-4
    key = new_private_key(alg)
    signature = sign(key, signed_message("unlock", "nonce-1", None))
    assert not verify_signature(
        alg, public_b64(key), signature, signed_message("unlock", "nonce-2", None)
    )
    # …or another purpose, or another context (e.g. another login transaction)
    assert not verify_signature(
        alg, public_b64(key), signature, signed_message("step_up", "nonce-1", None)
    )
    assert not verify_signature(
        alg, public_b64(key), signature, signed_message("unlock", "nonce-1", "x")
    )


@pytest.mark.parametrize("alg", ALGS)
def test_signature_by_another_key_is_false(alg):  # APP-4
    message = signed_message("unlock", "n", None)
    signature = sign(new_private_key(alg), message)
    assert not verify_signature(alg, public_b64(new_private_key(alg)), signature, message)


@pytest.mark.parametrize("alg", ALGS)
@pytest.mark.parametrize("garbage", ["", "AAAA", "not base64!", "A" * 201, "QUJD=", "////", "A"])
def test_garbage_signature_is_false(alg, garbage):  # APP-4 OPS-4
    key = new_private_key(alg)
    assert verify_signature(alg, public_b64(key), garbage, b"m") is False


def test_es256_signature_must_be_der_not_raw_r_s():  # APP-4
    key = ec.generate_private_key(ec.SECP256R1())
    message = signed_message("unlock", "n", None)
    der = key.sign(message, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert verify_signature("ES256", public_b64(key), b64url_encode(der), message)
    assert not verify_signature("ES256", public_b64(key), b64url_encode(raw), message)


@pytest.mark.parametrize(
    "alg, b64",
    [
        ("RS256", "AAAA"),  # unknown algorithm
        ("Ed25519", ""),
        ("Ed25519", "not base64 at all"),
        ("Ed25519", "MCowBQYDK2VwAyEA"),  # a truncated SubjectPublicKeyInfo
        ("ES256", "A" * 301),  # longer than the column
        ("ES256", "QUJD="),  # padding is not base64url-without-padding
    ],
)
def test_malformed_key_is_refused(alg, b64):  # APP-4 OPS-4
    with pytest.raises(InvalidDeviceKey) as e:
        load_public_key(alg, b64)
    assert e.value.code == "device_key_invalid"


def test_wrong_curve_p384_is_refused():  # APP-4
    key = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(InvalidDeviceKey):
        load_public_key("ES256", spki(key.public_key()))


def test_key_of_another_algorithm_than_named_is_refused():  # APP-4
    ed = ed25519.Ed25519PrivateKey.generate().public_key()
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    for alg, key in [("ES256", ed), ("Ed25519", p256), ("ES256", rsa_key), ("Ed25519", rsa_key)]:
        with pytest.raises(InvalidDeviceKey):
            load_public_key(alg, spki(key))


def test_p256_point_off_the_curve_is_refused():  # APP-4
    der = bytearray(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    der[-1] ^= 1  # y no longer matches x
    with pytest.raises(InvalidDeviceKey):
        load_public_key("ES256", b64url_encode(bytes(der)))


def test_compressed_p256_point_is_accepted_and_stored_uncompressed():  # APP-4
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    # SubjectPublicKeyInfo with a compressed point, written by hand (cryptography writes
    # uncompressed ones): SEQUENCE { AlgorithmIdentifier(ecPublicKey, P-256), BIT STRING }.
    alg_id = bytes.fromhex("301306072a8648ce3d020106082a8648ce3d030107")
    bits = b"\x03" + bytes([len(point) + 1]) + b"\x00" + point
    body = alg_id + bits
    der = b"\x30" + bytes([len(body)]) + body
    loaded = load_public_key("ES256", b64url_encode(der))
    assert encode_public_key(loaded) == public_b64(key)


# The encodings of Ed25519 points of order 1, 2, 4 and 8, canonical and not (libsodium's list):
# with such a key anyone could make signatures that verify.
SMALL_ORDER = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
]


@pytest.mark.parametrize("raw", SMALL_ORDER)
def test_ed25519_small_order_and_non_canonical_keys_are_refused(raw):  # APP-4
    key = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(raw))
    with pytest.raises(InvalidDeviceKey):
        load_public_key("Ed25519", spki(key))


def test_ed25519_encoding_that_is_not_a_point_is_refused():  # APP-4
    # y = 2 gives x² = 3 / (4d + 1), which is not a square mod 2^255 − 19.
    raw = (2).to_bytes(32, "little")
    key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
    with pytest.raises(InvalidDeviceKey):
        load_public_key("Ed25519", spki(key))


def test_many_real_ed25519_keys_are_accepted():  # APP-4
    for _ in range(200):
        key = ed25519.Ed25519PrivateKey.generate()
        load_public_key("Ed25519", public_b64(key))
