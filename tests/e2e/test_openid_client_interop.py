"""Portti as an OpenID Provider, proven with a client library nobody here wrote: panva's
`openid-client` (certified by the OpenID Foundation) run by Node against the real server
process, logging a person in by bank ID and by QR with the reference app (`portti-app`).
Back-channel logout tokens reach a small RP server and are checked with Authlib. Every refusal
is seen as openid-client reports it: a wrong redirect URI (an error page, never a redirect),
a code replayed (and what was issued with it revoked), a PKCE mismatch, an expired code and a
code redeemed by another client.

Node and the npm packages (`make test` runs `npm ci` in tests/interop/openid_client) are needed;
without them these tests are skipped loudly, and under CI=true they fail."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from authlib.jose import JsonWebKey
from sqlalchemy import func, select, update

from portti.audit.models import AuditAction, AuditEvent
from portti.companies.models import Company, Membership
from portti.oidc_provider.claims import ACR_APP, ACR_FTN_LOA2
from portti.oidc_provider.models import AuthorizationCode, OidcLogin, RefreshToken
from portti.people.models import Person
from portti.qrlogin.frames import QrFrames, elapsed_seconds
from portti.weblogin.models import LoginTransaction
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


def _register(live_server, receiver, tmp_path_factory, name: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A client registered with the `portti clients register` command, as an operator would."""
    out = tmp_path_factory.mktemp("client") / "client.json"
    done = subprocess.run(
        [sys.executable, "-m", "portti.cli", "clients", "register",
         "--name", name, "--redirect-uri", REDIRECT_URI,
         "--backchannel-logout-uri", receiver.url, "--json-out", str(out)],
        env=_portti_env(live_server), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    data: dict[str, Any] = json.loads(out.read_text())
    # The operator's own applications: nobody is asked for consent (OIDC-4), as registering
    # with the first-party flag does.
    from sqlalchemy import update

    from portti.db.session import make_engine
    from portti.oidc_provider.models import OidcClient

    engine = make_engine(live_server.database_url)
    with engine.begin() as conn:
        conn.execute(
            update(OidcClient)
            .where(OidcClient.client_id == data["client_id"])
            .values(first_party=True, version=OidcClient.version + 1)
        )
    engine.dispose()
    return data


@pytest.fixture(scope="module")
def registration(live_server, receiver, tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return _register(live_server, receiver, tmp_path_factory, "Numerot accounting")


@pytest.fixture(scope="module")
def other_registration(live_server, receiver, tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Another business application, with its own credentials (the same redirect URI, so only
    the client tells the two apart)."""
    return _register(live_server, receiver, tmp_path_factory, "Palkka payroll")


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


def _roles(live_db, person: str, company: str) -> list[str]:  # type: ignore[no-untyped-def]
    given, family = person.split()
    m = live_db.scalars(
        select(Membership)
        .join(Person, Person.id == Membership.person_id)
        .join(Company, Company.id == Membership.company_id)
        .where(Person.given_name == given, Person.family_name == family, Company.name == company)
    ).one()
    return sorted(m.role_codes)


def _refusals(live_db, client_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    live_db.expire_all()
    events = live_db.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == AuditAction.OIDC_TOKEN_REFUSED.value)
        .order_by(AuditEvent.id)
    ).all()
    return [e.details["reason"] for e in events if e.details.get("client") == client_id]


def _issued(live_db, client_id: str) -> int:  # type: ignore[no-untyped-def]
    live_db.expire_all()
    return int(live_db.scalar(select(func.count()).where(RefreshToken.client_id == client_id)) or 0)


def _code_for(node_rp: NodeRP, live_server, live_db, person: tuple[str, str], **extra: str):  # type: ignore[no-untyped-def]
    """A person logs in by bank ID at openid-client's request; the callback URL with the code."""
    started = node_rp.run("authorize", **extra)
    with httpx.Client(base_url=live_server.url, follow_redirects=False, timeout=15) as browser:
        first = browser.get(local(started["url"]))
        callback = login(
            browser,  # type: ignore[arg-type]
            _identity(live_db, *person),
            next_=query_of(first.headers["location"])["next"],
        )
        back = return_url(browser.get(local(callback.headers["location"])))
    assert back.startswith(REDIRECT_URI) and "code=" in back
    return started, back


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

        before = len(receiver.tokens)
        got = node_rp.callback(started, back)
        claims = got["claims"]
        assert claims["acr"] == ACR_FTN_LOA2 and claims["amr"] == ["mfa"]
        assert claims["name"] == "Kaisa Mäkinen"
        assert [c["name"] for c in claims["companies"]] == ["Mäkinen Design Oy"]
        assert claims["companies"][0]["roles"] == _roles(
            live_db, "Kaisa Mäkinen", "Mäkinen Design Oy"
        )
        assert "user_admin" in claims["companies"][0]["roles"]
        assert got["userinfo"]["sub"] == claims["sub"]
        assert got["userinfo"]["companies"] == claims["companies"]
        assert got["refreshed_sub"] == claims["sub"] and got["refresh_rotated"]
        assert got["reuse"]["error"] == "invalid_grant"  # the rotated refresh token

        # RP-initiated logout with the ID token as hint: Portti logs out at once, and the
        # back-channel logout token reaches the client's server. (The reuse of the rotated
        # refresh token above already ended this login, SEC-27: its logout token may have been
        # sent before this logout, and then this logout sends none.)
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
    claims = got["claims"]
    assert claims["acr"] == ACR_APP and claims["amr"] == ["swk", "pin", "mfa"]
    assert claims["name"] == "Kadri Tamm"
    assert [c["name"] for c in claims["companies"]] == ["Mäkinen Design Oy"]
    assert claims["companies"][0]["roles"] == _roles(live_db, "Kadri Tamm", "Mäkinen Design Oy")
    assert got["userinfo"]["sub"] == claims["sub"]
    assert got["refreshed_sub"] == claims["sub"]


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
    assert "pkce_mismatch" in _refusals(live_db, node_rp.env["CLIENT_ID"])


def test_openid_client_sees_a_wrong_redirect_uri_refused_on_a_page(
    live_server, live_db, node_rp
) -> None:  # OPS-4
    # OAuth 2.0 §4.1.2.1: an unregistered redirect URI is never redirected to.
    started = node_rp.run("authorize", REDIRECT_URI="https://attacker.example/callback")
    assert "attacker.example" in started["url"]
    before = _issued(live_db, node_rp.env["CLIENT_ID"])
    r = httpx.get(live_server.url + local(started["url"]), follow_redirects=False, timeout=15)
    assert r.status_code == 400 and "location" not in r.headers
    assert "has not registered" in r.text and "attacker.example" not in r.text
    live_db.expire_all()
    refused = live_db.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == AuditAction.OIDC_AUTHORIZATION_REFUSED.value)
        .order_by(AuditEvent.id.desc())
    ).first()
    assert refused is not None and refused.details == {
        "reason": "untrusted_request",
        "client": node_rp.env["CLIENT_ID"],
    }
    assert _issued(live_db, node_rp.env["CLIENT_ID"]) == before


def test_openid_client_sees_a_replayed_code_refused_and_its_tokens_revoked(
    live_server, live_db, node_rp, receiver, registration
) -> None:  # OPS-4
    started, back = _code_for(node_rp, live_server, live_db, ("Aino", "Laine"))
    tokens_before = len(receiver.tokens)
    got = node_rp.callback(started, back, step="replay")
    assert got["replay"]["error"] == "invalid_grant"
    # RFC 6749 §4.1.2: what the code gave is revoked — the access token at UserInfo, the
    # refresh token at the token endpoint — and the client hears of it by back-channel logout.
    assert got["userinfo_after"]["error"] == "invalid_token"
    assert got["userinfo_after"]["status"] == 401
    assert got["refresh_after"]["error"] == "invalid_grant"
    assert _refusals(live_db, registration["client_id"])[-1] == "code_replayed"
    code_hash = hashlib.sha256(query_of(back)["code"].encode()).hexdigest()
    revoked = live_db.scalars(select(RefreshToken).where(RefreshToken.family == code_hash)).all()
    assert revoked and all(t.revoked_at is not None for t in revoked)
    login = live_db.get(OidcLogin, revoked[0].login_id)
    assert login is not None and login.end_reason == "code_replayed"
    _wait_for_logout_token(receiver, tokens_before + 1)


def test_openid_client_sees_an_expired_code_refused(live_server, live_db, node_rp) -> None:  # OPS-4
    started, back = _code_for(node_rp, live_server, live_db, ("Aino", "Laine"))
    # The code's minute has passed (its expiry moved back rather than waiting a minute: the
    # server compares it with its own clock).
    code_hash = hashlib.sha256(query_of(back)["code"].encode()).hexdigest()
    live_db.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.code_hash == code_hash)
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    live_db.commit()
    before = _issued(live_db, node_rp.env["CLIENT_ID"])
    got = node_rp.callback(started, back, step="exchange")
    assert got["error"] == "invalid_grant" and "claims" not in got
    assert _refusals(live_db, node_rp.env["CLIENT_ID"])[-1] == "code_expired"
    assert _issued(live_db, node_rp.env["CLIENT_ID"]) == before


def test_openid_client_sees_a_code_of_another_client_refused(
    live_server, live_db, node_rp, other_registration
) -> None:  # OPS-4
    started, back = _code_for(node_rp, live_server, live_db, ("Aino", "Laine"))
    other = NodeRP(node_rp.node, live_server, other_registration)
    before = _issued(live_db, other_registration["client_id"])
    got = other.callback(started, back, step="exchange")
    assert got["error"] == "invalid_grant" and "claims" not in got
    assert _refusals(live_db, other_registration["client_id"])[-1] == "foreign_code"
    assert _issued(live_db, other_registration["client_id"]) == before
    # The code is not used up by the other client's try: its own client still redeems it.
    mine = node_rp.callback(started, back, step="exchange")
    assert mine["claims"]["aud"] == node_rp.env["CLIENT_ID"]
