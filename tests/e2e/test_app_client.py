"""The reference app client (``portti_app``) against the real service (APP-1 … APP-10).

One server subprocess for the module (`portti serve` on a fresh database migrated and seeded with
the demo data, as `make run` has it), its e-mail going over SMTP to an aiosmtpd server in this
process and its SMS to the dev mailbox.
Invitations are made the way a browser makes them: the demo KH logs in through the built-in
test identity provider, steps up, adds a person and invites them with the JSON API. Each
scenario has people of its own, so that one scenario's PIN pauses or TOTP steps do not leak into
another's. Every "phone" talks to the server from an address of its own in 127.0.0.0/8, as
different phones would, so per-client rate limits apply per phone.

TOTP codes: the server accepts the time steps now−1, now and now+1, each step once. The
``Authenticator`` below hands out the oldest still-acceptable fresh step, so a person can log in
three times within one 30-second step without waiting.
"""

from __future__ import annotations

import html
import itertools
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pyotp
import pytest
from stdnum.ee import ik

from portti.db.migrate import upgrade
from portti.db.session import make_engine, make_session_factory
from portti.demo import PEOPLE, seed_demo
from portti.infra.clock import SystemClock
from portti_app import AppClient, AppError, signed_message
from portti_app.client import b64url
from support.live_server import LiveServer, running_server
from support.messages import signup_code_in, sms_code_in
from support.sinks import SmtpSink, wait_until
from support.web import HIDDEN_RE, login, page_csrf, step_up

pytestmark = pytest.mark.e2e

BACKEND = os.environ.get("PORTTI_TEST_DATABASE", "sqlite")
PG_ADMIN = os.environ.get("PORTTI_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")

WAIT_S = 10.0
PIN = "482913"
OTHER_PIN = "739146"
PASSWORD = "kettle-orbit-lantern-97"
DESIGN = "Mäkinen Design Oy"
_phone_ips = itertools.count(10)
_serial = itertools.count(1)


# -- the server, its mail, and the conftest's failure report ------------------------------------


@dataclass
class Env:
    url: str
    smtp: SmtpSink


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of this module's own, migrated and with the demo data: SQLite, or
    PostgreSQL with ``PORTTI_TEST_DATABASE=postgresql``. Migrated in this process (the same
    code `portti migrate` and `portti demo` run) to save two interpreter starts."""
    if BACKEND == "postgresql":
        name = f"portti_e2e_app_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('app-client-db') / 'portti.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        assert seed_demo(make_session_factory(engine), SystemClock())
    finally:
        engine.dispose()
    try:
        yield url
    finally:
        if BACKEND == "postgresql":
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def live_server(
    smtp: SmtpSink, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """This module's own server: e-mail over SMTP to ``smtp``, SMS to the dev mailbox."""
    workdir = tmp_path_factory.mktemp("app-client-server")
    with running_server(
        database_url,
        workdir,
        PORTTI_MAIL_URL=smtp.url,
        PORTTI_SMS_URL="dev://",
        PORTTI_ARGON2_TIME_COST="1",
        PORTTI_ARGON2_MEMORY_KIB="1024",
        PORTTI_ARGON2_PARALLELISM="1",
    ) as server:
        yield server


@pytest.fixture(scope="module")
def env(live_server: LiveServer, smtp: SmtpSink) -> Env:
    return Env(live_server.url, smtp)


# -- what the person receives --------------------------------------------------------------------


def emails_to(env: Env, address: str, subject_part: str, count: int = 1) -> list[Any]:
    """The e-mail ``address`` got over SMTP whose subject has ``subject_part``, once there are
    at least ``count`` of them."""

    def matching() -> list[Any]:
        return [
            m
            for m in env.smtp.received()
            if address.lower() in m.to.lower() and subject_part in (m.subject or "")
        ]

    assert wait_until(lambda: len(matching()) >= count, timeout=WAIT_S), (
        f"no e-mail “{subject_part}” #{count} to {address}; got "
        f"{[(m.to, m.subject) for m in env.smtp.received()]}"
    )
    return matching()


def signup_code_from_email(env: Env, address: str, count: int = 1) -> str:
    mail = emails_to(env, address, "invites you", count)[count - 1]
    return signup_code_in(mail.text)  # shown in groups of four


def email_code_from_email(env: Env, address: str) -> str:
    mail = emails_to(env, address, "e-mail confirmation code")[-1]
    return sms_code_in(mail.text)


def sms_code(env: Env, phone: str, count: int = 1) -> str:
    """The newest SMS code to ``phone`` from the dev mailbox (GET /dev/mailbox.json)."""
    found: list[dict[str, Any]] = []

    def arrived() -> bool:
        nonlocal found
        r = httpx.get(
            env.url + "/dev/mailbox.json", params={"channel": "sms", "to": phone}, timeout=5
        )
        r.raise_for_status()
        found = r.json()
        return len(found) >= count

    assert wait_until(arrived, timeout=WAIT_S), f"no SMS #{count} to {phone}"
    return sms_code_in(found[0]["text"])


class Authenticator:
    """The person's authenticator app: codes for fresh time steps the server accepts."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.last_step: int | None = None

    def code(self) -> str:
        while True:
            now = time.time()
            step = int(now // 30)
            # now−1 only while it cannot turn into now−2 before the server checks it.
            candidates = ([step - 1] if now - step * 30 < 25 else []) + [step, step + 1]
            fresh = [s for s in candidates if self.last_step is None or s > self.last_step]
            if fresh:
                self.last_step = fresh[0]
                return str(self.totp.generate_otp(fresh[0]))
            time.sleep((step + 1) * 30 - now + 0.05)

    def last_code(self) -> str:
        assert self.last_step is not None
        return str(self.totp.generate_otp(self.last_step))


# -- the admin side, over HTTP like a browser -----------------------------------------------------


def _identity(key: str) -> dict[str, str]:
    p = next(p for p in PEOPLE if p.key == key)
    return {
        "given_name": p.given,
        "family_name": p.family,
        "country": p.country,
        "national_id": p.value,
    }


@dataclass
class Person:
    given: str
    family: str
    email: str
    phone: str
    membership_id: int
    identity: dict[str, str] = field(default_factory=dict)


class Admin:
    """The demo KH of Mäkinen Design Oy in a browser: logged in, stepped up."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=10.0, follow_redirects=False)
        who = _identity("kh")
        r = login(self.http, who)  # type: ignore[arg-type]
        assert r.status_code == 303, r.text
        r = step_up(self.http, who)  # type: ignore[arg-type]
        assert r.status_code == 303, r.text
        companies = self.http.get("/api/v1/companies").json()
        self.company_id = next(c["id"] for c in companies if c["name"] == DESIGN)

    def _headers(self) -> dict[str, str]:
        return {"X-CSRF-Token": page_csrf(self.http)}  # type: ignore[arg-type]

    def add_person(self, given: str, *, estonian: bool = False) -> Person:
        n = next(_serial)
        tag = secrets.token_hex(3)
        email = f"{given.lower()}.{tag}@example.com"
        phone = f"+35850{secrets.randbelow(10**7):07d}"
        body: dict[str, Any] = {
            "method": "foreign",
            "given_name": given,
            "family_name": f"Testinen{n}",
            "email": email,
            "phone": phone,
            "roles": ["bookkeeper"],
        }
        identity: dict[str, str] = {}
        if estonian:
            # A valid Estonian personal code: the person can also use the Estonian ID card.
            ten = f"4{90 + n % 10:02d}{1 + n % 12:02d}{1 + n % 28:02d}{secrets.randbelow(1000):03d}"
            code = ten + ik.calc_check_digit(ten + "0")  # it skips the last digit
            body |= {"id_kind": "personal_number", "id_value": code, "id_country": "EE"}
            identity = {
                "given_name": given,
                "family_name": body["family_name"],
                "country": "EE",
                "national_id": code,
            }
        else:
            body |= {"id_kind": "other_code", "id_value": f"P-{tag}-{n}", "id_country": "UA"}
        r = self.http.post(
            f"/api/v1/companies/{self.company_id}/members", json=body, headers=self._headers()
        )
        assert r.status_code == 201, r.text
        return Person(given, body["family_name"], email, phone, r.json()["membership_id"], identity)

    def invite(self, person: Person) -> dict[str, Any]:
        r = self.http.post(
            f"/api/v1/companies/{self.company_id}/members/{person.membership_id}/invitation",
            json={"identity_verified": True},
            headers=self._headers(),
        )
        assert r.status_code == 201, r.text
        return dict(r.json())


@pytest.fixture(scope="module")
def admin(env: Env) -> Iterator[Admin]:
    a = Admin(env.url)
    try:
        yield a
    finally:
        a.http.close()


# -- the app side --------------------------------------------------------------------------------


def phone_http(env: Env) -> httpx.Client:
    """An HTTP client that connects from an address of its own, like a separate phone."""
    address = f"127.0.0.{next(_phone_ips)}"
    return httpx.Client(
        base_url=env.url,
        timeout=15.0,
        transport=httpx.HTTPTransport(local_address=address),
    )


def new_app(env: Env, state_dir: Path) -> AppClient:
    return AppClient(env.url, state_dir, http=phone_http(env))


@dataclass
class Activated:
    app: AppClient
    person: Person
    authenticator: Authenticator
    state_dir: Path


def invited_until_account(env: Env, admin: Admin, person: Person, app: AppClient) -> dict[str, Any]:
    """Invitation → sign-up code → SMS code: the app is at the account step."""
    admin.invite(person)
    info = app.redeem_signup_code(signup_code_from_email(env, person.email))
    answer = app.confirm_phone(sms_code(env, person.phone))
    assert answer["step"] == "account"
    return info


def new_account(env: Env, person: Person, app: AppClient) -> Authenticator:
    """Create an account: e-mail code, password, TOTP enrolment and first code."""
    assert app.create_account(person.email)["step"] == "verify_email"
    assert app.verify_email(email_code_from_email(env, person.email))["step"] == "password"
    assert app.set_password(PASSWORD)["step"] == "totp"
    enrolment = app.start_totp()
    assert enrolment["otpauth_uri"].startswith("otpauth://totp/")
    authenticator = Authenticator(enrolment["secret"])
    assert app.confirm_totp(authenticator.code())["step"] == "terms"
    return authenticator


def accept_current_terms(app: AppClient) -> None:
    terms = app.terms()
    assert app.accept_terms(terms["version"])["step"] == "device"


def activate(
    env: Env,
    admin: Admin,
    tmp_path: Path,
    given: str,
    *,
    biometrics: bool = False,
    estonian: bool = False,
) -> Activated:
    person = admin.add_person(given, estonian=estonian)
    state_dir = tmp_path / f"{given.lower()}-phone"
    app = new_app(env, state_dir)
    invited_until_account(env, admin, person, app)
    authenticator = new_account(env, person, app)
    accept_current_terms(app)
    app.bind_device(f"{given}'s phone", PIN, biometrics=biometrics)
    return Activated(app, person, authenticator, state_dir)


def refused(call: Any, *args: Any, **kwargs: Any) -> AppError:
    with pytest.raises(AppError) as caught:
        call(*args, **kwargs)
    return caught.value


# -- 1 and 2: activation with a new account; lock and unlock ------------------------------------


@pytest.fixture(scope="module")
def anna(env: Env, admin: Admin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Activated]:
    person = admin.add_person("Anna")
    state_dir = tmp_path_factory.mktemp("anna") / "phone"
    app = new_app(env, state_dir)
    activated = Activated(app, person, Authenticator(pyotp.random_base32()), state_dir)
    yield activated
    app.close()


def test_activation_with_a_signup_code_and_a_new_account(
    env, admin, anna
):  # APP-1 APP-2 APP-3 APP-4 APP-10
    app, person = anna.app, anna.person
    info = invited_until_account(env, admin, person, app)
    assert info["inviter_name"] == "Kaisa Mäkinen"
    assert info["company_name"] == DESIGN
    assert info["phone_hint"].endswith(person.phone[-2:]) and "•" in info["phone_hint"]
    assert "activation_token" not in info

    anna.authenticator = new_account(env, person, app)
    assert app.status()["next_step"] == "terms"

    terms = app.terms()
    assert terms["version"] and "terms" in terms["text"].lower()
    outdated = refused(app.accept_terms, "2000-01-01")  # APP-3: only the current version
    assert outdated.code == "terms_outdated"
    assert app.accept_terms(terms["version"])["step"] == "device"

    bound = app.bind_device("Anna's phone", PIN, biometrics=True)
    assert bound["device_id"].startswith("dev_")
    assert bound["person"]["given_name"] == "Anna"

    # The private keys stay here, readable by the owner only; the state holds no PIN.
    for name in ("device_key.pem", "biometric_key.pem", "state.json"):
        assert (anna.state_dir / name).stat().st_mode & 0o777 == 0o600
    assert PIN not in (anna.state_dir / "state.json").read_text()
    assert app.status()["state"] == "locked"

    app.unlock(PIN)
    me = app.me()
    assert me["person"] == bound["person"]
    assert [(c["company_name"], c["valid"]) for c in me["companies"]] == [(DESIGN, True)]
    assert [d["this_device"] for d in me["devices"]] == [True]
    assert me["devices"][0]["name"] == "Anna's phone"

    mail = emails_to(env, person.email, "new device")[-1]  # the person is told at once
    assert "Anna's phone" in mail.text and "/devices/not-me/" in mail.text


def test_lock_and_unlock_with_pin_and_biometrics(anna):  # APP-5 APP-6
    app = anna.app
    app.unlock(PIN)
    session = app.state.app_session_token
    app.lock()
    assert app.status()["state"] == "locked"
    # The old session token is dead on the server, not only forgotten here.
    app.state.app_session_token = session
    assert refused(app.me).code == "app_locked"
    assert app.state.app_session_token is None

    app.unlock(biometric=True)  # the platform's fingerprint / Face ID prompt succeeded
    assert app.me()["person"]["given_name"] == "Anna"
    app.lock()
    app.unlock(PIN)
    assert app.status()["state"] == "unlocked"
    app.lock()

    # The device key's signature alone (no PIN, no biometric signature) unlocks nothing.
    nonce = app.challenge("unlock")["nonce"]
    body = app.sign_challenge("unlock", nonce, None, pin="000000")
    del body["pin"]
    error = refused(app.request, "POST", f"/devices/{app.state.device_id}/unlock", json_body=body)
    assert error.code == "pin_required"


# -- 3: log out and activate again with the account --------------------------------------------


def test_log_out_and_reactivate_with_the_account(env, admin, tmp_path):  # APP-7
    bert = activate(env, admin, tmp_path, "Bert")
    app = bert.app
    first_device = app.state.device_id
    app.unlock(PIN)
    app.logout()
    assert app.status()["state"] == "not activated"
    assert not (bert.state_dir / "device_key.pem").exists()
    with httpx.Client(base_url=env.url) as http:  # the old device is gone on the server too
        r = http.post(f"/app-api/v1/devices/{first_device}/challenges", json={"purpose": "unlock"})
    assert r.status_code == 401 and r.json()["code"] == "device_unknown"

    # "Two-factor authentication already done": e-mail, password, a new TOTP code.
    answer = app.reactivate_with_account(bert.person.email, PASSWORD, bert.authenticator.code())
    assert answer["person"]["given_name"] == "Bert"
    if answer["step"] == "terms":
        accept_current_terms(app)
    bound = app.bind_device("Bert's phone", OTHER_PIN)  # create PIN + confirm PIN
    assert bound["device_id"] != first_device
    app.unlock(OTHER_PIN)
    devices = {d["device_id"]: d["status"] for d in app.me()["devices"]}
    assert devices == {first_device: "logged_out", bound["device_id"]: "active"}
    app.close()


# -- 4: wrong PINs --------------------------------------------------------------------------------


def test_three_wrong_pins_pause_the_pin_even_the_right_one(env, admin, tmp_path):  # APP-4
    carl = activate(env, admin, tmp_path, "Carl", biometrics=True)
    app = carl.app
    for tries_left in (8, 7):
        error = refused(app.unlock, "111119")
        assert (error.status, error.code) == (400, "pin_wrong")
        assert f"{tries_left} tries left" in error.detail
    error = refused(app.unlock, "111119")
    assert error.code == "pin_wrong" and "6 tries left" in error.detail
    assert "60 seconds" in error.detail

    blocked = refused(app.unlock, "111119")
    assert (blocked.status, blocked.code) == (429, "pin_blocked")
    assert blocked.retry_after is not None and 50 <= blocked.retry_after <= 60
    right = refused(app.unlock, PIN)  # not even looked at during the pause
    assert right.code == "pin_blocked" and 0 < right.retry_after <= blocked.retry_after
    assert "6 tries left" in right.detail
    assert right.next_step and "biometrics" in right.next_step

    # The device is paused, not lost: biometrics still work, and the state was kept.
    assert app.status()["device_id"] is not None
    app.unlock(biometric=True)
    assert app.me()["person"]["given_name"] == "Carl"
    app.close()


# -- 5: log out from all devices --------------------------------------------------------------


def test_log_out_from_all_devices_needs_a_new_invitation(env, admin, tmp_path):  # APP-8 WEB-4
    dana = activate(env, admin, tmp_path, "Dana", estonian=True)
    app = dana.app
    # Dana also logs in on the web with her Estonian ID card.
    with httpx.Client(base_url=env.url, timeout=10.0, follow_redirects=False) as browser:
        r = login(browser, dana.person.identity, provider="ee_id")  # type: ignore[arg-type]
        assert r.status_code == 303, r.text
        assert browser.get("/api/v1/me").status_code == 200
        old_device = app.state.device_id

        app.unlock(PIN)
        assert app.logout_everywhere() == {"devices_ended": 1}
        assert app.status()["state"] == "not activated"

        assert browser.get("/api/v1/me").status_code == 401  # the web session ended too
    with httpx.Client(base_url=env.url) as http:
        r = http.post(f"/app-api/v1/devices/{old_device}/challenges", json={"purpose": "unlock"})
    assert r.json()["code"] == "device_unknown"

    # The account alone no longer activates the app, even with every factor right.
    error = refused(
        app.reactivate_with_account, dana.person.email, PASSWORD, dana.authenticator.code()
    )
    assert (error.status, error.code) == (403, "reactivation_needs_invitation")
    assert error.next_step and "invitation" in error.next_step
    assert app.state.activation_token is None

    # A new invitation (contact details unchanged: the KH may send it) and the existing account.
    admin.invite(dana.person)
    info = app.redeem_signup_code(signup_code_from_email(env, dana.person.email, count=2))
    assert info["company_name"] == DESIGN
    app.confirm_phone(sms_code(env, dana.person.phone, count=2))
    answer = app.log_in_to_existing_account(dana.person.email, PASSWORD, dana.authenticator.code())
    # She accepted the current terms at her first activation: not asked again.
    assert answer["step"] == "device"
    bound = app.bind_device("Dana's new phone", PIN)
    app.unlock(PIN)
    statuses = {d["device_id"]: d["status"] for d in app.me()["devices"]}
    assert statuses == {old_device: "revoked", bound["device_id"]: "active"}
    app.close()


# -- 6: a copied state directory is no offline PIN oracle ----------------------------------------


def test_a_copied_state_directory_gives_no_offline_pin_oracle(env, admin, tmp_path):  # APP-4
    eva = activate(env, admin, tmp_path, "Eva")
    copy_dir = tmp_path / "eva-copy"
    shutil.copytree(eva.state_dir, copy_dir)
    # Nothing in the copy can check a PIN: no PIN, no hash, only keys and ids.
    for f in copy_dir.iterdir():
        assert PIN not in f.read_text() and "argon2" not in f.read_text()
    assert not [k for k in json.loads((copy_dir / "state.json").read_text()) if "pin" in k]

    thief = new_app(env, copy_dir)
    assert thief.state.device_id == eva.app.state.device_id
    for tries_left in (8, 7, 6):  # every guess is answered, and counted, by the server
        error = refused(thief.unlock, "205871")
        assert error.code == "pin_wrong" and f"{tries_left} tries left" in error.detail
    assert refused(thief.unlock, PIN).code == "pin_blocked"

    # It is the same device on the server: the owner's phone is paused as well.
    owner = refused(eva.app.unlock, PIN)
    assert owner.code == "pin_blocked" and owner.retry_after and owner.retry_after > 0
    thief.close()
    eva.app.close()


# -- 7: bad input gets stable codes and changes nothing ---------------------------------------


def test_bad_input_gets_stable_codes(env, admin, tmp_path):  # APP-4 OPS-4
    fred = admin.add_person("Fred")
    app = new_app(env, tmp_path / "fred")
    invited_until_account(env, admin, fred, app)
    authenticator = new_account(env, fred, app)

    # A TOTP code is good once.
    reused = refused(app.reactivate_with_account, fred.email, PASSWORD, authenticator.last_code())
    assert (reused.status, reused.code) == (400, "totp_reused")
    accept_current_terms(app)

    # A public key that is not one.
    device_body = {"name": "Fred's phone", "key_alg": "Ed25519", "pin": PIN}
    for bad_key in ("not a key", b64url(b"\x30\x05 junk"), b64url(bytes(44))):
        error = refused(
            app.request,
            "POST",
            "/activations/current/device",
            json_body={**device_body, "public_key": bad_key},
            auth="activation",
        )
        assert (error.status, error.code) == (422, "device_key_invalid"), error
    app.bind_device("Fred's phone", PIN)  # the activation is where it was

    # A signature over another nonce than the one sent.
    device = f"/devices/{app.state.device_id}/unlock"
    first = app.challenge("unlock")["nonce"]
    second = app.challenge("unlock")["nonce"]
    body = app.sign_challenge("unlock", second, None, pin=PIN)
    error = refused(app.request, "POST", device, json_body={**body, "nonce": first})
    assert (error.status, error.code) == (401, "signature_invalid")
    assert signed_message("unlock", first, None) != signed_message("unlock", second, None)

    # A signature for another purpose.
    nonce = app.challenge("unlock")["nonce"]
    body = app.sign_challenge("approve_login", nonce, None, pin=PIN)
    assert refused(app.request, "POST", device, json_body=body).code == "signature_invalid"

    # A replayed nonce: the first use unlocks, the same body again is refused.
    nonce = app.challenge("unlock")["nonce"]
    body = app.sign_challenge("unlock", nonce, None, pin=PIN)
    assert "app_session_token" in app.request("POST", device, json_body=body)
    error = refused(app.request, "POST", device, json_body=body)
    assert (error.status, error.code) == (400, "nonce_invalid")

    # A purpose the server does not know the shape of is a validation error, not a crash.
    error = refused(app.challenge, "Not A Purpose")
    assert error.status == 422, error
    app.close()


def test_two_phones_racing_one_signup_code(env, admin, tmp_path):  # OPS-4 APP-1
    gina = admin.add_person("Gina")
    admin.invite(gina)
    code = signup_code_from_email(env, gina.email)
    apps = [new_app(env, tmp_path / f"gina-{i}") for i in range(2)]
    start = threading.Barrier(len(apps))
    results: list[Any] = [None] * len(apps)

    def redeem(i: int) -> None:
        start.wait()
        try:
            results[i] = apps[i].redeem_signup_code(code)
        except AppError as exc:
            results[i] = exc

    threads = [threading.Thread(target=redeem, args=(i,)) for i in range(len(apps))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    won = [r for r in results if isinstance(r, dict)]
    lost = [r for r in results if isinstance(r, AppError)]
    assert len(won) == 1 and len(lost) == 1, results
    assert (lost[0].status, lost[0].code) == (400, "invitation_invalid")
    assert lost[0].next_step
    for a in apps:
        a.close()


# -- 8: Finnish bank ID instead of an invitation -------------------------------------------------


def test_activation_with_finnish_bank_id(env, tmp_path):  # APP-9
    app = new_app(env, tmp_path / "matti")
    url = app.start_bank_id()
    with httpx.Client(timeout=10.0, follow_redirects=False) as browser:  # the phone's browser
        page = browser.get(url)
        assert page.status_code == 200, page.text
        hidden = {k: html.unescape(v) for k, v in HIDDEN_RE.findall(page.text)}
        radio = re.search(
            r'id="identity-(\d+)" name="identity" value="\d+"[^>]*>\s*<label[^>]*>\s*'
            r"<strong>Matti Virtanen</strong>",
            page.text,
        )
        assert radio, "Matti Virtanen is not offered by the test identity provider"
        picked = browser.post(url.split("?")[0], data={**hidden, "identity": radio.group(1)})
        assert picked.status_code == 303, picked.text
        back = browser.get(picked.headers["location"])
    assert back.status_code == 303, back.text
    handoff_url = back.headers["location"]
    assert handoff_url.startswith("portti-app://activation?handoff=")

    # Whoever catches the redirect but not the app's verifier gets nothing.
    verifier = app.state.bank_id_verifier
    app.state.bank_id_verifier = secrets.token_urlsafe(48)
    assert refused(app.finish_bank_id, handoff_url).code == "activation_unknown"
    app.state.bank_id_verifier = verifier
    answer = app.finish_bank_id(handoff_url)
    assert answer["person"]["given_name"] == "Matti" and answer["step"] == "terms"
    app.state.bank_id_verifier = verifier  # and the handoff works once
    assert refused(app.finish_bank_id, handoff_url).code == "activation_unknown"
    app.state.bank_id_verifier = None
    accept_current_terms(app)
    app.bind_device("Matti's phone", PIN, key_alg="ES256")
    app.unlock(PIN)
    me = app.me()
    assert me["person"]["family_name"] == "Virtanen"
    assert ("Rakennus Virtanen Oy", True) in [
        (c["company_name"], c["valid"]) for c in me["companies"]
    ]
    assert ("Mäkinen Design Oy", False) in [
        (c["company_name"], c["valid"]) for c in me["companies"]
    ]

    # Only Finnish bank ID replaces an invitation.
    other = new_app(env, tmp_path / "kadri")
    assert refused(other.start_bank_id, "ee_id").code == "bank_id_not_finnish"
    app.close()
    other.close()


# -- the command line ----------------------------------------------------------------------------


def portti_app(
    *args: str, state: Path | None = None, server: str | None = None
) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("portti-app"))]
    if state is not None:
        command += ["--state", str(state)]
    if server is not None:
        command += ["--server", server]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PORTTI_")}
    environment |= {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        check=False,
    )


def test_help_lists_the_steps_in_order():  # APP-10
    done = portti_app("--help")
    assert done.returncode == 0, done.stderr
    steps = [
        "signup-code",
        "confirm-phone",
        "resend-code",
        "create-account",
        "verify-email",
        "set-password",
        "enrol-totp",
        "confirm-totp",
        "log-in-account",
        "terms",
        "accept-terms",
        "create-pin",
        "unlock",
        "lock",
        "log-out",
        "log-out-everywhere",
        "reactivate",
        "bank-id",
        "bank-id-finish",
        "status",
        "me",
    ]
    listed = re.findall(r"^│ ([a-z][a-z-]+) ", done.stdout, flags=re.MULTILINE)
    # In this order; commands for later features (web login) may follow.
    assert [name for name in listed if name in steps] == steps, done.stdout
    assert listed[: len(steps)] == steps, done.stdout
    assert "I have a sign-up code" in done.stdout and "Resend code?" in done.stdout
    assert "Two-factor authentication already done" in done.stdout


def test_the_command_line_walks_the_steps(env, admin, tmp_path):  # APP-10 APP-1 APP-4
    hanna = admin.add_person("Hanna")
    admin.invite(hanna)
    state = tmp_path / "hanna"

    done = portti_app(
        "signup-code", signup_code_from_email(env, hanna.email), state=state, server=env.url
    )
    assert done.returncode == 0, done.stderr
    assert "Kaisa Mäkinen invited you to Mäkinen Design Oy" in done.stdout
    assert "Next: portti-app confirm-phone CODE" in done.stdout

    with AppClient(None, state) as app:  # the same installation, through the library
        assert app.base_url == env.url  # remembered in the state directory
        app.confirm_phone(sms_code(env, hanna.phone))
        new_account(env, hanna, app)
        accept_current_terms(app)

    done = portti_app("create-pin", "--pin", PIN, "--confirm-pin", OTHER_PIN, state=state)
    assert done.returncode == 1
    assert "The PINs do not match" in done.stderr
    done = portti_app(
        "create-pin", "--pin", PIN, "--name", "Hanna's CLI", "--biometrics", state=state
    )
    assert done.returncode == 0, done.stderr
    assert "Done" in done.stdout and "Hanna" in done.stdout

    done = portti_app("unlock", "--pin", "999990", state=state)
    assert done.returncode == 1
    assert "The PIN is wrong. 8 tries left" in done.stderr and "(pin_wrong)" in done.stderr
    assert "What to do: Check your PIN" in done.stderr

    with AppClient(None, state) as app:
        app.unlock(biometric=True)
        device = app.me()["devices"][0]
        assert (device["name"], device["status"]) == ("Hanna's CLI", "active")
