"""Portti's own keys: kept sealed in the database, published, rotated with pre-publication."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from joserfc import jwe, jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from portti.db.session import make_engine, make_session_factory
from portti.keys.models import ServiceKey
from portti.keys.services import KeyPolicy, KeyStore

HOUR = timedelta(hours=1)


def store_of(app, clock, **policy) -> KeyStore:  # type: ignore[no-untyped-def]
    return KeyStore(
        app.state.runtime.session_factory,
        clock,
        app.state.runtime.settings.secret,
        KeyPolicy(prepublish=2 * HOUR, retain=3 * HOUR, **policy),
        monotonic=lambda: 0.0,  # the rows are re-read only when a test says so
    )


def kids(body: dict) -> set[str]:  # type: ignore[type-arg]
    return {k["kid"] for k in body["keys"]}


def test_jwks_is_published_with_cache_headers_and_no_private_parts(client, app):  # OPS-4
    r = client.get("/.well-known/jwks.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/jwk-set+json")
    assert r.headers["cache-control"] == "public, max-age=300"
    keys = r.json()["keys"]
    # Created on first use: one key per purpose and algorithm (SEC-25: the relying party's
    # signing and encryption keys, then the provider's signing keys), each with kid, alg, use.
    assert [k["alg"] for k in keys] == [
        "ECDH-ES",
        "ES256",
        "PS256",
        "RS256",
        "RSA-OAEP-256",
        "ES256",
        "PS256",
        "RS256",
    ]
    for k in keys:
        assert {"kid", "alg", "use", "kty"} <= k.keys()
        assert not {"d", "p", "q", "dp", "dq", "qi"} & k.keys()
        assert k["use"] == ("enc" if k["alg"] in ("ECDH-ES", "RSA-OAEP-256") else "sig")
        if k["kty"] == "RSA":
            assert len(KeySet.import_key_set({"keys": [k]}).keys[0].as_dict()["n"]) >= 342
    # Stable: the same keys on the next read.
    assert kids(client.get("/.well-known/jwks.json").json()) == kids(r.json())


def test_private_parts_are_sealed_in_the_database(client, app, db):  # OPS-4
    client.get("/.well-known/jwks.json")
    rows = db.scalars(select(ServiceKey)).all()
    assert len(rows) == 8
    assert sorted(r.purpose for r in rows) == ["op"] * 3 + ["rp"] * 5
    for row in rows:
        assert '"d"' not in row.private_sealed and "d" not in row.public_jwk
    # A signature made with the active key verifies with the published one.
    store = app.state.runtime.keys
    key = store.active_signing_key("ES256")
    token = jwt.encode({"alg": "ES256", "kid": key.kid}, {"sub": "x"}, key)
    published = KeySet.import_key_set(client.get("/.well-known/jwks.json").json())
    assert jwt.decode(token, published).claims == {"sub": "x"}


def test_a_store_with_another_secret_cannot_open_the_keys(app, clock):  # OPS-4
    store_of(app, clock).ensure(["ES256"])
    other = KeyStore(app.state.runtime.session_factory, clock, b"another secret " * 3)
    kid = other.active("ES256").kid
    with pytest.raises(Exception):
        other.private_key(kid)


def test_rotation_publishes_the_next_key_before_it_is_used(client, app, clock):  # OPS-4
    store = store_of(app, clock)
    first = store.active("RS256")
    nxt = store.rotate("RS256")
    assert nxt.generation == 2 and nxt.kid != first.kid
    # Asking again while one waits does not make a third.
    assert store.rotate("RS256").kid == nxt.kid
    published = {k.kid for k in store.published()}
    assert {first.kid, nxt.kid} <= published
    assert store.active("RS256").kid == first.kid
    assert store.active_signing_key("RS256").kid == first.kid

    clock.advance(2 * HOUR + timedelta(seconds=1))
    assert store.active_signing_key("RS256").kid == nxt.kid
    # The old key stays published while tokens signed with it may still be in use...
    assert first.kid in {k.kid for k in store.published()}
    clock.advance(3 * HOUR)
    # ... and then leaves the set.
    assert first.kid not in {k.kid for k in store.published()}
    assert nxt.kid in {k.kid for k in store.published()}


def test_the_jwks_endpoint_follows_rotation(client, app, clock):  # OPS-4
    before = kids(client.get("/.well-known/jwks.json").json())
    store = app.state.runtime.keys
    nxt = store.rotate("ES256")
    store.refresh()
    after = kids(client.get("/.well-known/jwks.json").json())
    assert after == before | {nxt.kid}


def test_decryption_keys_open_what_was_encrypted_to_a_published_key(app, clock):  # OPS-4
    store = store_of(app, clock)
    store.ensure(["RSA-OAEP-256", "ECDH-ES"])
    pending = store.rotate("RSA-OAEP-256")
    for jwk in [store.active_encryption_jwk("ECDH-ES"), pending.public_jwk]:
        recipient = KeySet.import_key_set({"keys": [jwk]}).keys[0]
        registry = jwe.JWERegistry(algorithms=[jwk["alg"], "A256GCM"])
        token = jwe.encrypt_compact(
            {"alg": jwk["alg"], "enc": "A256GCM", "kid": jwk["kid"]},
            b"secret",
            recipient,
            registry=registry,
        )
        key = store.decryption_keys().get_by_kid(jwk["kid"])
        assert jwe.decrypt_compact(token, key, registry=registry).plaintext == b"secret"


def test_an_old_key_gets_a_successor_on_its_own(app, clock):  # OPS-4
    store = store_of(app, clock, rotate_after=timedelta(days=90))
    first = store.active("ES256")
    clock.advance(timedelta(days=91))
    assert store.active("ES256").kid == first.kid  # still signing while its successor waits
    assert [k.generation for k in store.generations("ES256")] == [1, 2]
    clock.advance(2 * HOUR + timedelta(seconds=1))
    assert store.active("ES256").generation == 2


def test_two_processes_agree_on_the_first_key(app, clock, database_url):  # OPS-4
    """Each store has its own engine, as two processes would; the loser of the race re-reads."""
    engines = [make_engine(database_url) for _ in range(2)]
    stores = [
        KeyStore(make_session_factory(e), clock, app.state.runtime.settings.secret) for e in engines
    ]
    # Both read "no keys yet" before either writes.
    for s in stores:
        assert s.generations("ES256") == []
    barrier = threading.Barrier(2)
    results: list[str] = []

    def make(store: KeyStore) -> None:
        barrier.wait()
        results.append(store.active("ES256").kid)

    threads = [threading.Thread(target=make, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and results[0] == results[1]
    # The loser, holding a stale "none yet", still ends on the winner's key.
    late = KeyStore(make_session_factory(engines[0]), clock, app.state.runtime.settings.secret)
    late._rows = []
    late._read_at = float("inf")
    assert late.active("ES256").kid == results[0]
    with app.state.runtime.session_factory() as db:
        assert len(db.scalars(select(ServiceKey).where(ServiceKey.alg == "ES256")).all()) == 1
    for e in engines:
        e.dispose()


def test_portti_keys_rotate_command(app, database_url, monkeypatch):  # OPS-4
    from typer.testing import CliRunner

    from portti.cli import cli

    monkeypatch.setenv("PORTTI_MODE", "test")
    monkeypatch.setenv("PORTTI_DATABASE_URL", database_url)
    monkeypatch.setenv("PORTTI_SECRET_KEY", app.state.runtime.settings.secret.decode())
    runner = CliRunner()
    r = runner.invoke(cli, ["keys", "rotate", "--alg", "ES256"])
    assert r.exit_code == 0, r.output
    assert "rp ES256: key" in r.output and "op ES256: key" in r.output
    assert "(generation 2)" in r.output
    r = runner.invoke(cli, ["keys", "list"])
    assert r.exit_code == 0, r.output
    with app.state.runtime.session_factory() as db:
        gens = db.scalars(select(ServiceKey.generation).where(ServiceKey.alg == "ES256")).all()
    assert sorted(gens) == [1, 1, 2, 2]
    app.state.runtime.keys.refresh()
    assert len([k for k in app.state.runtime.keys.published("op") if k.alg == "ES256"]) == 2
