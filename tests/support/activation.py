"""The app's activation driven over HTTP, step by step, as the app does it: invitation by the
admin API, sign-up code, SMS code, account (new or existing), terms, device. Also an account
made straight in the database, for tests whose subject is not the account's creation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pyotp
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from portti.accounts.models import Account
from portti.accounts.passwords import normalise_password
from portti.accounts.services import totp_context
from portti.infra.clock import OffsetClock
from portti.infra.crypto import SecretBox
from portti.people.models import Person
from support.device_keys import SimulatedApp
from support.devices import PIN
from support.messages import queued, signup_code_in, sms_code_in
from support.web import page_csrf

API = "/app-api/v1"
PASSWORD = "violet tractor under 7 lanterns"
TOTP_STEP = timedelta(seconds=30)


def invitation_url(company_id: int, membership_id: int) -> str:
    return f"/api/v1/companies/{company_id}/members/{membership_id}/invitation"


def request_invitation(
    admin: TestClient, company_id: int, membership_id: int, *, verified: bool = True
) -> httpx.Response:
    """The admin asks for an invitation to be sent; the answer, whatever it is."""
    return admin.post(
        invitation_url(company_id, membership_id),
        json={"identity_verified": verified},
        headers={"X-CSRF-Token": page_csrf(admin)},
    )


def invite(admin: TestClient, company_id: int, membership_id: int) -> httpx.Response:
    """The admin (logged in and stepped up) sends an invitation."""
    r = request_invitation(admin, company_id, membership_id)
    assert r.status_code == 201, r.text
    return r


def cancel_invitation(admin: TestClient, company_id: int, membership_id: int) -> None:
    r = admin.delete(
        invitation_url(company_id, membership_id),
        headers={"X-CSRF-Token": page_csrf(admin)},
    )
    assert r.status_code == 204, r.text


def latest_signup_code(db: Session, secret: bytes, person: Person) -> str:
    mails = [
        m for m in queued(db, secret, channel="email", to=person.email) if m["kind"] == "invitation"
    ]
    return signup_code_in(mails[-1]["text"])


def latest_sms_code(db: Session, secret: bytes, person: Person) -> str:
    assert person.phone
    return sms_code_in(queued(db, secret, channel="sms", to=person.phone)[-1]["text"])


def latest_email_code(db: Session, secret: bytes, address: str) -> str:
    mails = [
        m
        for m in queued(db, secret, channel="email", to=address)
        if m["kind"] == "email_verification"
    ]
    m = re.search(r"^\s+(\d{6})\s*$", mails[-1]["text"], re.MULTILINE)
    assert m, mails[-1]["text"]
    return m.group(1)


def totp_now(secret: str, clock: OffsetClock) -> str:
    return pyotp.TOTP(secret, interval=30).at(clock.now())


@dataclass
class Credentials:
    email: str
    password: str
    totp_secret: str

    def next_code(self, clock: OffsetClock) -> str:
        """A code of a time step not used yet (each step is accepted once)."""
        clock.advance(TOTP_STEP)
        return totp_now(self.totp_secret, clock)

    def login_body(self, clock: OffsetClock) -> dict[str, str]:
        return {"email": self.email, "password": self.password, "totp_code": self.next_code(clock)}


def account_in_db(
    db: Session,
    app: Any,
    person: Person,
    *,
    requires_invitation: bool = False,
) -> Credentials:
    """A finished account (password and authenticator app) for ``person``."""
    settings, clock = app.state.runtime.settings, app.state.runtime.clock
    secret = pyotp.random_base32()
    email = f"account.{person.id}@example.org"
    now = clock.now()
    account = Account(
        person_id=person.id,
        email=email,
        email_verified_at=now,
        password_hash=app.state.runtime.password_hasher.hash(normalise_password(PASSWORD)),
        password_changed_at=now,
        totp_confirmed_at=now,
        failed_logins=0,
        requires_invitation=requires_invitation,
        created_at=now,
    )
    db.add(account)
    db.flush()
    # Sealed to its account, as AccountService.start_totp seals it.
    account.totp_secret_sealed = SecretBox(settings.secret, "totp").seal(
        secret, context=totp_context(account.id)
    )
    db.commit()
    return Credentials(email, PASSWORD, secret)


@dataclass
class AppActivation:
    """One app installation going through the activation API with its bearer token."""

    http: httpx.Client
    token: str | None = None
    sim: SimulatedApp = field(default_factory=SimulatedApp)

    @property
    def auth(self) -> dict[str, str]:
        assert self.token
        return {"Authorization": f"Bearer {self.token}"}

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(API + path, json=body, headers=self.auth)

    def redeem(self, code: str) -> httpx.Response:
        r = self.http.post(API + "/activations", json={"signup_code": code})
        if r.status_code == 201:
            self.token = r.json()["activation_token"]
        return r

    def confirm_phone(self, code: str) -> httpx.Response:
        return self.post("/activations/current/confirmation-code", {"code": code})

    def resend(self) -> httpx.Response:
        return self.post("/activations/current/confirmation-code/resend")

    def new_account(self, email: str) -> httpx.Response:
        return self.post("/activations/current/account", {"email": email})

    def verify_email(self, code: str) -> httpx.Response:
        return self.post("/activations/current/account/email-code", {"code": code})

    def password(self, password: str = PASSWORD) -> httpx.Response:
        return self.post("/activations/current/account/password", {"password": password})

    def start_totp(self) -> httpx.Response:
        return self.post("/activations/current/account/totp")

    def confirm_totp(self, code: str) -> httpx.Response:
        return self.post("/activations/current/account/totp/confirm", {"code": code})

    def existing_account(self, body: dict[str, str]) -> httpx.Response:
        return self.post("/activations/current/existing-account", body)

    def accept_terms(self) -> httpx.Response:
        version = self.http.get(API + "/terms").json()["version"]
        return self.post("/activations/current/terms", {"version": version})

    def bind(
        self, pin: str = PIN, name: str = "Test phone", *, replaces: str | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {"name": name, "platform": "android", "pin": pin}
        body.update(self.sim.bind_kwargs())
        if replaces is not None:
            body["replaces_device"] = replaces
        r = self.post("/activations/current/device", body)
        if r.status_code == 201:
            self.sim.public_id = r.json()["device_id"]
        return r

    def start_with_account(self, body: dict[str, str]) -> httpx.Response:
        """ "Two-factor authentication already done": a new activation from the account."""
        r = self.http.post(API + "/activations/account", json=body)
        if r.status_code == 201:
            self.token = r.json()["activation_token"]
        return r


def new_account_over_http(
    act: AppActivation, db: Session, secret: bytes, clock: OffsetClock, email: str
) -> Credentials:
    """Creates a new account inside an activation whose phone is confirmed."""
    assert act.new_account(email).status_code == 200
    assert act.verify_email(latest_email_code(db, secret, email)).status_code == 200
    assert act.password().status_code == 200
    enrolment = act.start_totp()
    assert enrolment.status_code == 200, enrolment.text
    totp_secret = enrolment.json()["secret"]
    r = act.confirm_totp(totp_now(totp_secret, clock))
    assert r.status_code == 200 and r.json()["step"] == "terms", r.text
    return Credentials(email, PASSWORD, totp_secret)
