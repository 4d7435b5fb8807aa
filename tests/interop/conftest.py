"""Interoperability fixtures: a certified OpenID Provider (panva's ``oidc-provider``, from the npm
registry, installed by `make` with `npm ci` under tests/interop/oidc_provider) and Portti served
for real on 127.0.0.1, one of each per test module.

The provider registers one client per way of talking to it (client secret, private_key_jwt with
ES256, PAR + JAR with PS256, encrypted ID tokens and UserInfo, claims in the ID token through the
``claims`` parameter); Portti has one identity-provider entry per client, most configured by
``issuer`` alone (discovery). Test-only switches on the provider process (``op_switch``; see
provider.mjs) make it misbehave on demand: an ID token for another audience or issuer, unsigned,
or carrying a nonce Portti did not send; a rotation of its own signing keys. ``op_seen`` tells
what it saw: how often its key set was read, token requests, the audience of each client
assertion.

Without Node or the installed package the tests are skipped loudly; under CI=true they fail
instead, as the browser tests do.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from joserfc.jwk import ECKey, RSAKey

from portti.app import create_app
from portti.config import Mode, OidcProviderSettings, Settings
from portti.db.migrate import upgrade
from portti.infra.clock import OffsetClock
from support.pg import scratch_database

PROVIDER_DIR = Path(__file__).parent / "oidc_provider"
BACKEND = os.environ.get("PORTTI_TEST_DATABASE", "sqlite")
PG_ADMIN = os.environ.get("PORTTI_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
NO_PROVIDER = (
    "INTEROPERABILITY TESTS SKIPPED: {why}; install Node 20+ and run `make interop-deps` "
    "(npm ci in tests/interop/oidc_provider)"
)
LOA2 = "http://ftn.ficora.fi/2017/loa2"
LOA3 = "http://ftn.ficora.fi/2017/loa3"
SECRET = "interop-basic-client-secret-0123456789"
SCOPES = ["openid", "profile", "national_id"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _need_provider() -> str:
    node = shutil.which("node")
    why = None
    if node is None:
        why = "no `node` on PATH"
    elif not (PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        why = "oidc-provider is not installed"
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Interoperability tests must run in CI: {why}", pytrace=False)
        pytest.skip(NO_PROVIDER.format(why=why))
    assert node is not None
    return node


def provider_jwks() -> dict[str, Any]:
    """The provider's own signing keys: RSA (RS256, PS256) and P-256 (ES256)."""
    rsa = RSAKey.generate_key(2048, parameters={"use": "sig"}, auto_kid=True)
    ec = ECKey.generate_key("P-256", parameters={"use": "sig"}, auto_kid=True)
    return {"keys": [rsa.as_dict(private=True), ec.as_dict(private=True)]}


def clients(portti: str) -> list[dict[str, Any]]:
    base = {
        "redirect_uris": [f"{portti}/login/callback"],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
    }
    pkjwt = {
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": f"{portti}/.well-known/jwks.json",
    }
    return [
        {**base, "client_id": "basic", "client_secret": SECRET},
        {
            **base,
            **pkjwt,
            "client_id": "es256",
            "token_endpoint_auth_signing_alg": "ES256",
            "id_token_signed_response_alg": "ES256",
        },
        {
            **base,
            **pkjwt,
            "client_id": "ps256",
            "token_endpoint_auth_signing_alg": "PS256",
            "id_token_signed_response_alg": "PS256",
            "request_object_signing_alg": "PS256",
            "require_pushed_authorization_requests": True,
        },
        {
            **base,
            **pkjwt,
            "client_id": "jar",
            "token_endpoint_auth_signing_alg": "RS256",
            "request_object_signing_alg": "RS256",
        },
        {
            **base,
            **pkjwt,
            "client_id": "jwe",
            "token_endpoint_auth_signing_alg": "RS256",
            "id_token_encrypted_response_alg": "RSA-OAEP-256",
            "id_token_encrypted_response_enc": "A256GCM",
            "userinfo_signed_response_alg": "RS256",
            "userinfo_encrypted_response_alg": "ECDH-ES",
            "userinfo_encrypted_response_enc": "A256GCM",
        },
        # ID tokens encrypted, UserInfo plain JSON.
        {
            **base,
            **pkjwt,
            "client_id": "jwe_id_token_only",
            "token_endpoint_auth_signing_alg": "RS256",
            "id_token_encrypted_response_alg": "RSA-OAEP-256",
            "id_token_encrypted_response_enc": "A256GCM",
        },
        {**base, "client_id": "public", "token_endpoint_auth_method": "none"},
        # Refusals: a client whose ID tokens the tests make the provider get wrong on demand
        # (POST /__test__/id-token, /__test__/nonce), and one whose ID tokens are HS256, signed
        # with its client secret.
        {**base, "client_id": "tampered", "client_secret": SECRET},
        {
            **base,
            "client_id": "hs256",
            "client_secret": SECRET,
            "id_token_signed_response_alg": "HS256",
        },
        # Used only by the key-rotation test: the provider reads Portti's key set for it first
        # after the rotation was published.
        {
            **base,
            **pkjwt,
            "client_id": "rotating",
            "token_endpoint_auth_signing_alg": "ES256",
        },
    ]


def portti_providers(op: str) -> list[OidcProviderSettings]:
    def entry(key: str, client_id: str, **extra: Any) -> OidcProviderSettings:
        fields: dict[str, Any] = {
            "key": key,
            "label": key,
            "issuer": op,
            "client_id": client_id,
            "scopes": SCOPES,
            "algorithms": ["RS256", "PS256", "ES256"],
        }
        return OidcProviderSettings(**(fields | extra))

    return [
        entry("fi_basic", "basic", client_secret=SECRET, algorithms=["RS256"]),
        entry(
            "fi_es256",
            "es256",
            token_endpoint_auth_method="private_key_jwt",
            client_assertion_alg="ES256",
            algorithms=["ES256"],
        ),
        # The same client, its assertion's audience the token endpoint URL.
        entry(
            "fi_es256_token_aud",
            "es256",
            token_endpoint_auth_method="private_key_jwt",
            client_assertion_alg="ES256",
            client_assertion_audience="token_endpoint",
            algorithms=["ES256"],
        ),
        entry(
            "fi_ps256",
            "ps256",
            token_endpoint_auth_method="private_key_jwt",
            client_assertion_alg="PS256",
            request_object_signing_alg="PS256",
            par=True,
            algorithms=["PS256"],
        ),
        entry(
            "fi_ps256_token_aud",
            "ps256",
            token_endpoint_auth_method="private_key_jwt",
            client_assertion_alg="PS256",
            client_assertion_audience="token_endpoint",
            request_object_signing_alg="PS256",
            par=True,
            algorithms=["PS256"],
        ),
        entry(
            "fi_jar",
            "jar",
            token_endpoint_auth_method="private_key_jwt",
            request_object_signing_alg="RS256",
        ),
        entry(
            "fi_jwe",
            "jwe",
            token_endpoint_auth_method="private_key_jwt",
            require_encryption=True,
            userinfo="always",
        ),
        entry(
            "fi_claims",
            "public",
            userinfo="never",
            claims={"id_token": {"national_id": None, "national_id_country": None}},
        ),
        entry(
            "fi_rotating",
            "rotating",
            token_endpoint_auth_method="private_key_jwt",
            client_assertion_alg="ES256",
        ),
        entry(
            "fi_acr",
            "basic",
            client_secret=SECRET,
            acr_values=LOA2,
            step_up_acr_values=LOA3,
            claims={"id_token": {"amr": None}},
        ),
        # Refusals: loa3 asked for at login; tokens made wrong on demand; HS256 (the provider
        # allows it for that client, Portti does not); tokens signed with RS256 where only ES256
        # is allowed; a provider whose answers carry another issuer than the one configured.
        entry("fi_loa3", "basic", client_secret=SECRET, acr_values=LOA3),
        entry("fi_tampered", "tampered", client_secret=SECRET, algorithms=["RS256"]),
        entry("fi_hs256", "hs256", client_secret=SECRET),
        entry(
            "fi_plain_userinfo",
            "jwe_id_token_only",
            token_endpoint_auth_method="private_key_jwt",
            require_encryption=True,
            userinfo="always",
        ),
        entry("fi_wrong_alg", "basic", client_secret=SECRET, algorithms=["ES256"]),
        entry(
            "fi_wrong_iss",
            "basic",
            client_secret=SECRET,
            issuer=f"{op}/other",
            authorization_endpoint=f"{op}/auth",
            token_endpoint=f"{op}/token",
            jwks_uri=f"{op}/jwks",
        ),
    ]


@dataclass
class Interop:
    portti: str
    op: str
    app: FastAPI
    clock: OffsetClock
    op_log: Path
    seen: dict[str, Any] = field(default_factory=dict)

    def browser(self) -> httpx.Client:
        return httpx.Client(base_url=self.portti, follow_redirects=False, timeout=10)

    def op_browser(self) -> httpx.Client:
        return httpx.Client(follow_redirects=False, timeout=10)

    def op_switch(self, name: str, body: dict[str, Any]) -> None:
        """One of the provider's test-only switches (see provider.mjs)."""
        r = httpx.post(f"{self.op}/__test__/{name}", json=body, timeout=10)
        assert r.status_code == 200, r.text

    def op_seen(self) -> dict[str, Any]:
        """What the provider saw since the last call: key set fetches, client assertions."""
        r = httpx.get(f"{self.op}/__test__/seen", timeout=10)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


def account(identity: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(identity).encode()).decode().rstrip("=")


@pytest.fixture(scope="module")
def interop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Interop]:
    node = _need_provider()
    tmp = tmp_path_factory.mktemp("interop")
    portti_port, op_port = _free_port(), _free_port()
    portti, op = f"http://127.0.0.1:{portti_port}", f"http://127.0.0.1:{op_port}"

    config = {
        "port": op_port,
        "issuer": op,
        "clients": clients(portti),
        "acrValues": [LOA2, LOA3],
        "jwks": provider_jwks(),
    }
    config_path = tmp / "provider.json"
    config_path.write_text(json.dumps(config))
    op_log = tmp / "provider.log"
    log = op_log.open("w")
    proc = subprocess.Popen(
        [node, str(PROVIDER_DIR / "provider.mjs"), str(config_path)],
        cwd=PROVIDER_DIR,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        # oidc-provider's own account of each refusal, in provider.log beside the test's files.
        env={**os.environ, "DEBUG": "oidc-provider:*"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("READY"):
            proc.wait(5)
            pytest.fail(f"oidc-provider did not start:\n{op_log.read_text()[-3000:]}")
        with _database(tmp) as database_url:
            upgrade(database_url)
            settings = Settings(
                mode=Mode.TEST,
                database_url=database_url,
                base_url=portti,
                secret_key="interop-secret-key-" + "y" * 32,
                argon2_time_cost=1,
                argon2_memory_kib=1024,
                argon2_parallelism=1,
                outbox_in_process=False,
                oidc_providers=portti_providers(op),
                keys_rotate_days=0,
                keys_prepublish_hours=1,
            )
            clock = OffsetClock()
            app = create_app(settings, clock=clock)
            server = uvicorn.Server(
                uvicorn.Config(app, host="127.0.0.1", port=portti_port, log_level="warning")
            )
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            deadline = time.monotonic() + 20
            while not server.started:
                if time.monotonic() > deadline or not thread.is_alive():
                    pytest.fail("Portti did not start")
                time.sleep(0.02)
            try:
                yield Interop(portti, op, app, clock, op_log)
            finally:
                server.should_exit = True
                thread.join(10)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _database(tmp: Path) -> Any:
    from contextlib import contextmanager

    @contextmanager
    def sqlite() -> Iterator[str]:
        yield f"sqlite:///{tmp / 'portti.db'}"

    if BACKEND == "postgresql":
        return scratch_database(PG_ADMIN, "portti_interop")
    return sqlite()
