"""Portti as an OpenID Provider, proven with a client library nobody here wrote: panva's
`openid-client` (certified by the OpenID Foundation) run by Node against the real server
process, logging a person in by bank ID and by QR with the reference app (`portti-app`).
Back-channel logout tokens reach a small RP server and are checked with Authlib.

Node and the npm packages (`make test` runs `npm ci` in tests/interop/openid_client) are needed;
without them these tests are skipped loudly, and under CI=true they fail."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
from authlib.jose import JsonWebKey
from sqlalchemy import select

from portti.oidc_provider.claims import ACR_APP, ACR_BANK_ID
from portti.people.models import Person
from portti.weblogin.models import LoginTransaction
from portti.weblogin.qr.frames import QrFrames, elapsed_seconds
from support.devices import PIN
from support.live_phone import bind_demo_device, unlocked_phone
from support.oidc import logout_receiver, query_of, return_url, verify_logout_token
from support.qr import complete, open_qr_login, reference_app_state
from support.web import local, login

pytestmark = [pytest.mark.e2e]

NODE_DIR = Path(__file__).resolve().parents[1] / "interop" / "openid_client"
REDIRECT_URI = "https://accounting.example/callback"
NO_NODE = (
    "OPENID-CLIENT INTEROP TESTS SKIPPED: {why}; install Node.js and run "
    "`npm ci` in tests/interop/openid_client (make test does)"
)


def _node() -> str:
    node = shutil.which("node")
    why = None
    if node is None:
        why = "no `node` on PATH"
    elif not (NODE_DIR / "node_modules" / "openid-client").is_dir():
        why = "tests/interop/openid_client/node_modules is missing"
    if why:
        message = NO_NODE.format(why=why)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    assert node is not None
    return node


def _portti_env(live_server) -> dict[str, str]:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTTI_")}
    return env | {
        "PORTTI_MODE": "demo",
        "PORTTI_DATABASE_URL": live_server.database_url,
        "PORTTI_BASE_URL": live_server.url,
        "PORTTI_SECRET_KEY": live_server.secret_key,
    }


@pytest.fixture(scope="module")
def receiver():  # type: ignore[no-untyped-def]
    with logout_receiver() as server:
        yield server


@pytest.fixture(scope="module")
def registration(live_server, receiver, tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A client registered with the `portti clients register` command, as an operator would."""
    out = tmp_path_factory.mktemp("client") / "client.json"
    done = subprocess.run(
        [sys.executable, "-m", "portti.cli", "clients", "register",
         "--name", "Numerot accounting", "--redirect-uri", REDIRECT_URI,
         "--backchannel-logout-uri", receiver.url, "--json-out", str(out)],
        env=_portti_env(live_server), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    data: dict[str, Any] = json.loads(out.read_text())
    return data


class NodeRP:
    def __init__(self, node: str, live_server, reg: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
        self.node = node
        self.env = {
            **os.environ,
            "ISSUER": live_server.url,
            "CLIENT_ID": reg["client_id"],
            "CLIENT_SECRET": reg["client_secret"],
            "REDIRECT_URI": REDIRECT_URI,
        }

    def run(self, *args: str, **extra: str) -> dict[str, Any]:
        done = subprocess.run(
            [self.node, "rp.mjs", *args], cwd=NODE_DIR, env={**self.env, **extra},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.stdout.strip(), done.stderr
        out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        assert "fatal" not in out, out
        return out

    def authorize(self) -> dict[str, Any]:
        return self.run("authorize")

    def callback(self, started: dict[str, Any], url: str, step: str = "callback") -> dict[str, Any]:
        return self.run(
            step, url, STATE=started["state"], NONCE=started["nonce"], VERIFIER=started["verifier"]
        )


@pytest.fixture
def node_rp(live_server, registration) -> NodeRP:  # type: ignore[no-untyped-def]
    return NodeRP(_node(), live_server, registration)


def _identity(live_db, given: str, family: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    p = live_db.scalars(
        select(Person).where(Person.given_name == given, Person.family_name == family)
    ).one()
    i = p.identifiers[0]
    return {
        "given_name": given,
        "family_name": family,
        "country": i.country,
        "national_id": i.value,
    }


def _wait_for_logout_token(receiver, count: int, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while len(receiver.tokens) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(receiver.tokens) >= count, "no back-channel logout token arrived"


def test_openid_client_logs_in_by_bank_id_refreshes_and_is_logged_out(
    live_server, live_db, node_rp, receiver, registration
) -> None:  # WEB-4 WEB-5
    started = node_rp.authorize()
    with httpx.Client(base_url=live_server.url, follow_redirects=False, timeout=15) as browser:
        first = browser.get(local(started["url"]))
        assert first.status_code == 303 and first.headers["location"].startswith("/login?next=")
        callback = login(
            browser,  # type: ignore[arg-type]
            _identity(live_db, "Kaisa", "Mäkinen"),
            next_=query_of(first.headers["location"])["next"],
        )
        assert callback.status_code == 303, callback.text
        back = return_url(browser.get(local(callback.headers["location"])))
        assert back.startswith(REDIRECT_URI)

        got = node_rp.callback(started, back)
        claims = got["claims"]
        assert claims["acr"] == ACR_BANK_ID and claims["name"] == "Kaisa Mäkinen"
        assert [c["name"] for c in claims["companies"]] == ["Mäkinen Design Oy"]
        assert "user_admin" in claims["companies"][0]["roles"]
        assert got["userinfo"]["sub"] == claims["sub"]
        assert got["refreshed_sub"] == claims["sub"] and got["refresh_rotated"]
        assert got["replay"]["error"] == "invalid_grant"  # the code, a second time
        assert got["reuse"]["error"] == "invalid_grant"  # the rotated refresh token

        # RP-initiated logout with the ID token as hint: Portti logs out at once, and the
        # back-channel logout token reaches the client's server.
        before = len(receiver.tokens)
        r = browser.get(local(got["end_session"]))
        assert r.status_code == 200 and "You have logged out" in r.text
    _wait_for_logout_token(receiver, before + 1)
    jwks = JsonWebKey.import_key_set(httpx.get(live_server.url + "/.well-known/jwks.json").json())
    token = verify_logout_token(
        receiver.tokens[-1], jwks, live_server.url, registration["client_id"]
    )
    assert token["sid"] == claims["sid"] and token["sub"] == claims["sub"]


def test_openid_client_logs_in_by_qr_with_the_reference_app(
    live_server, live_db, node_rp, tmp_path
) -> None:  # WEB-1 WEB-4
    sim = bind_demo_device(live_server.database_url, live_server.secret_key, "Kadri", "Tamm")
    phone = unlocked_phone(live_server.url, sim)
    state = reference_app_state(tmp_path / "app", live_server.url, phone)
    started = node_rp.authorize()
    with httpx.Client(base_url=live_server.url, follow_redirects=False, timeout=15) as browser:
        first = browser.get(local(started["url"]))
        panel = open_qr_login(browser, next_=query_of(first.headers["location"])["next"])
        live_db.expire_all()
        tx = live_db.scalars(
            select(LoginTransaction).where(LoginTransaction.public_id == panel.public_id)
        ).one()
        # What the phone's camera reads from the screen (the browser test reads it from a
        # screenshot; here the frame is made as the page makes it).
        payload = QrFrames(live_server.secret_key.encode()).payload(
            panel.public_id, elapsed_seconds(tx.created_at, tx.created_at)
        )
        done = subprocess.run(
            [sys.executable, "-m", "portti_app.cli", "--state", str(state), "--server",
             live_server.url, "scan-qr", payload, "--number", str(tx.number), "--pin", PIN],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        completed = complete(browser, panel)
        assert completed.status_code == 303, completed.text
        back = return_url(browser.get(local(completed.headers["location"])))

    got = node_rp.callback(started, back)
    assert got["claims"]["acr"] == ACR_APP
    assert [c["name"] for c in got["claims"]["companies"]] == ["Mäkinen Design Oy"]


def test_openid_client_sees_a_pkce_mismatch_refused(live_server, live_db, node_rp) -> None:  # OPS-4
    started = node_rp.authorize()
    with httpx.Client(base_url=live_server.url, follow_redirects=False, timeout=15) as browser:
        first = browser.get(local(started["url"]))
        callback = login(
            browser,  # type: ignore[arg-type]
            _identity(live_db, "Aino", "Laine"),
            next_=query_of(first.headers["location"])["next"],
        )
        back = return_url(browser.get(local(callback.headers["location"])))
    got = node_rp.callback(started, back, step="wrong-verifier")
    assert got["error"] == "invalid_grant"
