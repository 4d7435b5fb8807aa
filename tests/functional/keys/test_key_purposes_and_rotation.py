"""Keys per purpose, sealed to their row (SEC-25), and a rotation every instance hears at once
with the active key first in the key set (OIDC-9)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import select, text

from portti.app import create_app
from portti.config import Settings
from portti.db.migrate import upgrade
from portti.db.session import make_engine, make_session_factory
from portti.infra.clock import SystemClock
from portti.infra.crypto import SecretBox
from portti.keys.models import ServiceKey
from portti.keys.services import KeyPolicy, KeyStore
from support.db import BACKEND_IS_SQLITE
from support.pg import scratch_database
from support.web import HTML

PG_ADMIN = os.environ.get("PORTTI_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("PORTTI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _id_token_shaped(key: ECKey, issuer: str, aud: str, typ: str | None = None) -> str:
    header = {"alg": "ES256", "kid": key.kid}
    if typ:
        header["typ"] = typ
    now = int(time.time())
    claims = {"iss": issuer, "aud": aud, "sub": "x", "sid": "s", "iat": now, "exp": now + 60}
    return jwt.encode(header, claims, key)


def test_a_brokers_assertion_key_never_passes_for_the_providers_token(
    client, app
) -> None:  # SEC-25
    store = app.state.runtime.keys
    rp_key = store.active_signing_key("ES256")  # signs client assertions sent to brokers
    op_key = store.active_signing_key("ES256", "op")
    assert rp_key.kid != op_key.kid
    # A token shaped like an ID token, signed with the relying party's key, is refused at
    # logout as id_token_hint; the same signed with the provider's key is read.
    forged = _id_token_shaped(rp_key, "http://testserver", "some-client")
    r = client.get("/oidc/logout", params={"id_token_hint": forged}, headers=HTML)
    assert r.status_code == 400 and "The logout request is not valid." in r.text
    genuine = _id_token_shaped(op_key, "http://testserver", "some-client")
    assert client.get("/oidc/logout", params={"id_token_hint": genuine}).status_code == 200


def test_typed_tokens_are_not_taken_for_id_tokens(client, app) -> None:  # SEC-25
    op_key = app.state.runtime.keys.active_signing_key("ES256", "op")
    for typ in ("at+jwt", "logout+jwt", "oauth-authz-req+jwt"):
        token = _id_token_shaped(op_key, "http://testserver", "some-client", typ=typ)
        r = client.get("/oidc/logout", params={"id_token_hint": token}, headers=HTML)
        assert r.status_code == 400, typ
    # An access token (aud: the issuer, typ at+jwt) as hint, as the review sent it.
    at = _id_token_shaped(op_key, "http://testserver", "http://testserver", typ="at+jwt")
    assert client.get("/oidc/logout", params={"id_token_hint": at}).status_code == 400


def test_a_sealed_private_part_copied_to_another_row_does_not_open(app, db) -> None:  # SEC-25
    store = app.state.runtime.keys
    store.ensure()
    a, b = db.scalars(select(ServiceKey).where(ServiceKey.alg == "ES256")).all()[:2]
    b.private_sealed = a.private_sealed
    db.commit()
    fresh_store = KeyStore(app.state.runtime.session_factory, SystemClock(), store._secret)
    with pytest.raises(InvalidTag):
        fresh_store.private_key(b.kid)
    assert fresh_store.private_key(a.kid).kid == a.kid


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    if BACKEND_IS_SQLITE:
        yield f"sqlite:///{tmp_path / 'old.db'}"
    else:
        with scratch_database(PG_ADMIN, "portti_keys_migration") as url:
            yield url


def test_the_migration_reseals_existing_keys_bound_to_their_row(
    empty_database_url, monkeypatch
) -> None:  # SEC-25
    secret = "migration-secret-" + "k" * 32
    monkeypatch.setenv("PORTTI_SECRET_KEY", secret)
    monkeypatch.setenv("PORTTI_MODE", "test")
    upgrade(empty_database_url, "0011")
    key = ECKey.generate_key("P-256", parameters={"alg": "ES256", "use": "sig"}, auto_kid=True)
    old_sealed = SecretBox(secret.encode(), "service-keys").seal(json.dumps(key.as_dict()))
    engine = make_engine(empty_database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO service_keys (kid, alg, use, generation, public_jwk, private_sealed,"
                " created_at, active_from) VALUES (:kid, 'ES256', 'sig', 1, :pub, :sealed,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"kid": key.kid, "pub": json.dumps(key.as_dict(private=False)), "sealed": old_sealed},
        )
    upgrade(empty_database_url)
    store = KeyStore(make_session_factory(engine), SystemClock(), secret.encode())
    [row] = store.generations("ES256", "rp")
    assert row.kid == key.kid and row.purpose == "rp"
    assert store.private_key(key.kid).as_dict() == key.as_dict()
    with make_session_factory(engine)() as db:
        resealed = db.get(ServiceKey, key.kid)
        assert resealed is not None and resealed.private_sealed != old_sealed
    with pytest.raises(InvalidTag):
        SecretBox(secret.encode(), "service-keys").open(resealed.private_sealed)
    engine.dispose()


def test_the_active_key_comes_first_in_the_key_set(app, clock) -> None:  # OIDC-9
    store = KeyStore(
        app.state.runtime.session_factory,
        clock,
        app.state.runtime.settings.secret,
        KeyPolicy(prepublish=timedelta(hours=2), retain=timedelta(hours=3)),
        monotonic=lambda: 0.0,
    )
    first = store.active("RSA-OAEP-256")
    pending = store.rotate("RSA-OAEP-256")
    store.refresh()

    def order() -> list[str]:
        return [k.kid for k in store.published("rp") if k.alg == "RSA-OAEP-256"]

    assert order() == [first.kid, pending.kid]
    clock.advance(timedelta(hours=2, minutes=1))
    # The new key is active, the retiring one (still opening what was encrypted to it) after.
    assert order() == [pending.kid, first.kid]
    assert store.active_encryption_jwk("RSA-OAEP-256")["kid"] == pending.kid
    jwks = [k["kid"] for k in store.public_jwks()["keys"] if k["alg"] == "RSA-OAEP-256"]
    assert jwks == [pending.kid, first.kid]


@pytest.mark.skipif(
    os.environ.get("PORTTI_TEST_NO_REDIS") == "1", reason="needs Redis at 127.0.0.1:6379"
)
def test_an_immediate_rotation_by_the_command_is_used_at_once_by_a_running_server(
    settings, clock, database_url, monkeypatch
) -> None:  # OIDC-9
    from typer.testing import CliRunner

    from portti.cli import cli

    channel_settings = Settings(**{**settings.model_dump(), "event_bus_url": REDIS})
    app = create_app(channel_settings, clock=clock)
    rt = app.state.runtime
    with TestClient(app, base_url="http://testserver"):
        old = rt.keys.active("ES256", "op")
        # Read a moment ago: without the announcement this instance would keep the old key
        # for up to 30 seconds.
        monkeypatch.setenv("PORTTI_MODE", "test")
        monkeypatch.setenv("PORTTI_DATABASE_URL", database_url)
        monkeypatch.setenv("PORTTI_EVENT_BUS_URL", REDIS)
        monkeypatch.setenv("PORTTI_SECRET_KEY", settings.secret.decode())
        r = CliRunner().invoke(
            cli, ["keys", "rotate", "--alg", "ES256", "--purpose", "op", "--immediately"]
        )
        assert r.exit_code == 0, r.output
        assert "told to read the keys again" in r.output
        deadline = time.monotonic() + 3
        while rt.keys.active("ES256", "op").kid == old.kid and time.monotonic() < deadline:
            time.sleep(0.05)
        new = rt.keys.active("ES256", "op")
        assert new.kid != old.kid and new.generation == old.generation + 1
        assert rt.oidc_keys.active_signing_key("ES256").kid == new.kid
    app.state.runtime.engine.dispose()
