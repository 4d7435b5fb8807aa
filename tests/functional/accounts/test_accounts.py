"""Accounts and the activation's account steps: e-mail confirmation, password, TOTP enrolment
and replay, the "two-factor already done" login with its lockout, and versioned terms — on
SQLite and PostgreSQL."""

from __future__ import annotations

import contextvars
import json
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

import argon2
import pyotp
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from portti.accounts.errors import (
    AccountExists,
    AccountLocked,
    AccountLoginFailed,
    AccountNotYours,
    AccountSetupIncomplete,
    EmailCodeExpired,
    EmailCodeLocked,
    EmailCodeResendLimit,
    EmailCodeWrong,
    PasswordRejected,
    ReactivationNeedsInvitation,
    TermsOutdated,
    TotpAlreadyEnrolled,
    TotpReused,
    TotpWrong,
    WrongStep,
)
from portti.accounts.models import Account, TermsAcceptance
from portti.accounts.passwords import PasswordPolicy, make_password_hasher
from portti.accounts.totp import TotpEnrolment, totp_context
from portti.activation.accounts import AccountSteps
from portti.activation.deps import account_steps_from
from portti.activation.models import Activation
from portti.audit.models import AuditEvent
from portti.audit.services import AuditLog
from portti.config import Settings
from portti.devices.models import ActivationKind
from portti.errors import DomainError, RateLimited, ValidationFailed
from portti.infra.clock import OffsetClock
from portti.infra.crypto import SecretBox
from portti.infra.outbox import OutboxMessage, body_context, outbox_box
from portti.people.models import Person
from portti.runtime import Runtime
from support import factories

PASSWORD = "violet tractor under 7 lanterns"
STEP = timedelta(seconds=30)


class CountingHasher(argon2.PasswordHasher):
    """Counts verifications, to show that an unknown e-mail costs an argon2 check too."""

    verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verifications += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher(settings: Settings) -> CountingHasher:
    base = make_password_hasher(settings)
    return CountingHasher(
        time_cost=base.time_cost,
        memory_cost=base.memory_cost,
        parallelism=base.parallelism,
        hash_len=base.hash_len,
        salt_len=base.salt_len,
        type=argon2.Type.ID,
    )


@pytest.fixture
def service(db: Session, runtime: Runtime, hasher: CountingHasher) -> AccountSteps:
    """The app's wiring, with a hasher that counts its verifications."""
    rt = replace(runtime, password_hasher=hasher, password_policy=PasswordPolicy())
    return account_steps_from(rt, db, AuditLog(db, rt.clock))


def new_activation(
    db: Session, person: Person, clock: OffsetClock, kind: str = ActivationKind.INVITATION
) -> Activation:
    now = clock.now()
    activation = Activation(
        token_hash=secrets.token_hex(32),
        kind=kind,
        person_id=person.id,
        created_at=now,
        expires_at=now + timedelta(hours=24),
    )
    db.add(activation)
    db.flush()
    return activation


def emails(db: Session, settings: Settings, to: str) -> list[dict[str, Any]]:
    db.flush()
    box = outbox_box(settings.secret)
    rows = db.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient == to).order_by(OutboxMessage.id)
    )
    return [
        {"subject": m.subject, "kind": m.kind, "person_id": m.person_id}
        | json.loads(box.open(m.sealed_body or "", context=body_context(m.id)))
        for m in rows
    ]


def last_code(db: Session, settings: Settings, to: str) -> str:
    body = emails(db, settings, to)[-1]["text"]
    found = re.search(r"\b(\d{6})\b", body)
    assert found, "no code in the e-mail"
    return found.group(1)


def totp_at(secret: str, when: datetime) -> str:
    code: str = pyotp.TOTP(secret).at(when)
    return code


def raw_values(db: Session, table: str) -> list[str]:
    """Every non-timestamp value of every row, as text, read with raw SQL."""
    db.flush()
    result = db.execute(text(f"SELECT * FROM {table}"))
    names = list(result.keys())
    return [
        str(value)
        for row in result
        for name, value in zip(names, row, strict=True)
        if value is not None and not name.endswith("_at")
    ]


def audit_actions(db: Session) -> list[str]:
    db.flush()
    return list(db.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def error_shape(err: DomainError) -> tuple[int, str, str, str | None]:
    return err.status, err.code, err.message, err.next_step


@dataclass
class Made:
    person: Person
    activation: Activation
    account: Account
    secret: str
    email: str


def make_account(
    service: AccountSteps,
    db: Session,
    settings: Settings,
    clock: OffsetClock,
    *,
    email: str | None = None,
    person: Person | None = None,
) -> Made:
    person = person or factories.person(db)
    email = email or f"user{secrets.token_hex(4)}@example.com"
    activation = new_activation(db, person, clock)
    service.start_new_account(activation, email)
    service.verify_email(activation, last_code(db, settings, email))
    account = service.set_password(activation, PASSWORD)
    enrolment = service.start_totp(activation)
    service.confirm_totp(activation, totp_at(enrolment.secret, clock.now()))
    assert account.requires_invitation is True  # not on its own before a device is bound
    account.requires_invitation = False  # what binding the activation's device does
    return Made(person, activation, account, enrolment.secret, email)


def next_code(made: Made, clock: OffsetClock) -> str:
    """A code for a time step the account has not used yet."""
    clock.advance(STEP)
    return totp_at(made.secret, clock.now())


# -- e-mail confirmation -------------------------------------------------------------------------


def test_a_new_account_starts_with_a_six_digit_code_by_email(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-1, APP-2
    person = factories.person(db, "Anna")
    activation = new_activation(db, person, clock)
    service.start_new_account(activation, "  anna.k@Example.COM ")
    assert activation.email_to_verify == "anna.k@example.com"
    [mail] = emails(db, settings, "anna.k@example.com")
    assert mail["kind"] == "email_verification"
    assert mail["person_id"] == person.id
    assert "Hello Anna" in mail["text"]
    assert "15 minutes" in mail["text"]
    assert "http" not in mail["text"] and "href" not in mail["html"]  # no links
    code = last_code(db, settings, "anna.k@example.com")
    assert activation.email_code_expires_at is not None
    assert activation.email_code_expires_at - clock.now() <= timedelta(minutes=15)
    service.verify_email(activation, code[:3] + " " + code[3:])  # spaces are forgiven
    assert activation.email_verified_at is not None
    assert activation.email_code_hash is None  # single use
    assert audit_actions(db) == ["account_email_code_sent", "account_email_verified"]


def test_the_email_code_is_not_stored_in_clear(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # OPS-4
    activation = new_activation(db, factories.person(db), clock)
    service.start_new_account(activation, "clear@example.com")
    code = last_code(db, settings, "clear@example.com")
    values = raw_values(db, "activations") + raw_values(db, "outbox_messages")
    values += raw_values(db, "audit_events")
    assert values
    assert not [v for v in values if code in v]


def test_a_wrong_email_code_says_how_many_tries_are_left(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-2, OPS-4
    activation = new_activation(db, factories.person(db), clock)
    service.start_new_account(activation, "wrong@example.com")
    code = last_code(db, settings, "wrong@example.com")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    with pytest.raises(EmailCodeWrong) as caught:
        service.verify_email(activation, wrong)
    assert caught.value.code == "email_code_wrong"
    assert "4 tries left" in caught.value.message
    assert wrong not in caught.value.message and code not in caught.value.message
    assert activation.email_verified_at is None
    service.verify_email(activation, code)
    assert activation.email_verified_at is not None


def test_five_wrong_email_codes_burn_the_code(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-2, OPS-4
    activation = new_activation(db, factories.person(db), clock)
    service.start_new_account(activation, "burn@example.com")
    code = last_code(db, settings, "burn@example.com")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        with pytest.raises(EmailCodeWrong, match=f"{left} tr"):
            service.verify_email(activation, wrong)
    with pytest.raises(EmailCodeLocked) as caught:
        service.verify_email(activation, wrong)
    assert caught.value.code == "email_code_locked"
    with pytest.raises(EmailCodeLocked):
        service.verify_email(activation, code)  # the right code no longer works
    assert activation.email_verified_at is None
    # A new code works again.
    service.start_new_account(activation, "burn@example.com")
    service.verify_email(activation, last_code(db, settings, "burn@example.com"))
    assert activation.email_verified_at is not None


def test_the_email_code_expires_after_15_minutes(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-2
    activation = new_activation(db, factories.person(db), clock)
    service.start_new_account(activation, "late@example.com")
    code = last_code(db, settings, "late@example.com")
    clock.advance(timedelta(minutes=16))
    with pytest.raises(EmailCodeExpired) as caught:
        service.verify_email(activation, code)
    assert caught.value.code == "email_code_expired"
    assert activation.email_verified_at is None


def test_a_new_code_replaces_the_old_and_three_is_the_limit(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-2
    activation = new_activation(db, factories.person(db), clock)
    service.start_new_account(activation, "resend@example.com")
    first = last_code(db, settings, "resend@example.com")
    service.start_new_account(activation, "resend@example.com")
    service.start_new_account(activation, "resend@example.com")
    third = last_code(db, settings, "resend@example.com")
    with pytest.raises(EmailCodeResendLimit) as caught:
        service.start_new_account(activation, "resend@example.com")
    assert caught.value.code == "email_code_resend_limit"
    # Another address does not reset the count either.
    with pytest.raises(EmailCodeResendLimit):
        service.start_new_account(activation, "other@example.com")
    assert len(emails(db, settings, "resend@example.com")) == 3
    assert emails(db, settings, "other@example.com") == []
    if first != third:
        with pytest.raises(EmailCodeWrong):
            service.verify_email(activation, first)
    service.verify_email(activation, third)
    assert activation.email_verified_at is not None


def test_an_invalid_email_address_is_refused_and_changes_nothing(
    service: AccountSteps, db: Session, clock: OffsetClock
) -> None:  # OPS-4
    activation = new_activation(db, factories.person(db), clock)
    with pytest.raises(ValidationFailed) as caught:
        service.start_new_account(activation, "not an address")
    assert "email" in caught.value.errors
    assert activation.email_to_verify is None and activation.email_code_hash is None
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_an_email_with_an_account_is_refused(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-2
    make_account(service, db, settings, clock, email="taken@example.com")
    activation = new_activation(db, factories.person(db), clock)
    for address in ("taken@example.com", "TAKEN@Example.com"):
        with pytest.raises(AccountExists) as caught:
            service.start_new_account(activation, address)
        assert caught.value.code == "account_exists"
        assert caught.value.next_step == "Choose “Log in with your account” instead."
    assert activation.email_to_verify is None
    assert len(emails(db, settings, "taken@example.com")) == 1  # only the owner's own code


def test_a_person_with_an_account_cannot_create_another(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-2
    made = make_account(service, db, settings, clock)
    activation = new_activation(db, made.person, clock)
    with pytest.raises(AccountExists):
        service.start_new_account(activation, "second@example.com")


# -- password ------------------------------------------------------------------------------------


def test_set_password_needs_a_confirmed_email(
    service: AccountSteps, db: Session, clock: OffsetClock
) -> None:  # APP-2, OPS-4
    activation = new_activation(db, factories.person(db), clock)
    service.start_new_account(activation, "early@example.com")
    with pytest.raises(WrongStep) as caught:
        service.set_password(activation, PASSWORD)
    assert caught.value.code == "wrong_step"
    assert db.scalar(select(func.count()).select_from(Account)) == 0


def test_set_password_creates_the_account_with_an_argon2id_hash(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-2, OPS-4
    person = factories.person(db)
    activation = new_activation(db, person, clock)
    service.start_new_account(activation, "Pia.P@example.com")
    service.verify_email(activation, last_code(db, settings, "Pia.P@example.com"))
    account = service.set_password(activation, PASSWORD)
    assert account.person_id == person.id
    assert account.email == "pia.p@example.com"
    assert account.email_verified_at == activation.email_verified_at
    assert account.password_hash and account.password_hash.startswith("$argon2id$")
    assert activation.account_id == account.id
    assert not any(PASSWORD in v for v in raw_values(db, "accounts"))
    assert not any(PASSWORD in v for v in raw_values(db, "audit_events"))
    # Going back a step changes the password of the same account.
    first_hash = account.password_hash
    again = service.set_password(activation, PASSWORD + " again")
    assert again.id == account.id and again.password_hash != first_hash
    assert db.scalar(select(func.count()).select_from(Account)) == 1
    assert audit_actions(db)[-2:] == ["account_created", "account_password_changed"]


def test_a_weak_password_is_refused_and_creates_nothing(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-2, OPS-4
    activation = new_activation(db, factories.person(db), clock)
    service.start_new_account(activation, "weak@example.com")
    service.verify_email(activation, last_code(db, settings, "weak@example.com"))
    for password, code in [
        ("tiny pw 1", "password_too_short"),
        ("password123456", "password_common"),
        ("my weak@example.com password", "password_contains_email"),
    ]:
        with pytest.raises(PasswordRejected) as caught:
            service.set_password(activation, password)
        assert caught.value.code == code
        assert password not in caught.value.message
    assert activation.account_id is None
    assert db.scalar(select(func.count()).select_from(Account)) == 0
    assert not any("password123456" in v for v in raw_values(db, "audit_events"))


# -- TOTP ----------------------------------------------------------------------------------------


def test_totp_enrolment_gives_a_provisioning_uri_and_an_inline_svg_qr(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-2
    activation = new_activation(db, factories.person(db), clock)
    with pytest.raises(WrongStep):
        service.start_totp(activation)  # no account yet
    service.start_new_account(activation, "otp@example.com")
    service.verify_email(activation, last_code(db, settings, "otp@example.com"))
    service.set_password(activation, PASSWORD)
    enrolment = service.start_totp(activation)
    assert isinstance(enrolment, TotpEnrolment)
    assert re.fullmatch(r"[A-Z2-7]{32}", enrolment.secret)
    parsed = pyotp.parse_uri(enrolment.otpauth_uri)
    assert parsed.issuer == "Portti" and parsed.name == "otp@example.com"
    assert parsed.secret == enrolment.secret
    assert enrolment.qr_svg.startswith("<svg") and "<?xml" not in enrolment.qr_svg
    # A second start replaces the unconfirmed secret.
    again = service.start_totp(activation)
    assert again.secret != enrolment.secret
    with pytest.raises(TotpWrong):
        service.confirm_totp(activation, totp_at(enrolment.secret, clock.now()))
    service.confirm_totp(activation, totp_at(again.secret, clock.now()))
    account = db.get(Account, activation.account_id)
    assert account is not None and account.totp_confirmed_at is not None
    assert activation.totp_confirmed_at is not None
    assert account.totp_last_step is not None
    with pytest.raises(TotpAlreadyEnrolled):
        service.start_totp(activation)
    assert "totp_enrolled" in audit_actions(db)


def test_the_totp_secret_is_sealed_in_the_database(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # OPS-4
    made = make_account(service, db, settings, clock)
    sealed = db.execute(
        text("SELECT totp_secret_sealed FROM accounts WHERE id = :id"), {"id": made.account.id}
    ).scalar_one()
    assert (
        SecretBox(settings.secret, "totp").open(sealed, context=totp_context(made.account.id))
        == made.secret
    )
    for table in ("accounts", "activations", "audit_events", "outbox_messages"):
        assert not any(made.secret in v for v in raw_values(db, table)), table


def test_a_wrong_totp_code_is_refused_at_enrolment(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-2
    activation = new_activation(db, factories.person(db), clock)
    service.start_new_account(activation, "otpwrong@example.com")
    service.verify_email(activation, last_code(db, settings, "otpwrong@example.com"))
    service.set_password(activation, PASSWORD)
    enrolment = service.start_totp(activation)
    stale = totp_at(enrolment.secret, clock.now() - 4 * STEP)
    if stale != totp_at(enrolment.secret, clock.now()):
        with pytest.raises(TotpWrong) as caught:
            service.confirm_totp(activation, stale)
        assert caught.value.code == "totp_wrong"
    with pytest.raises(TotpWrong):
        service.confirm_totp(activation, "12345")
    assert activation.totp_confirmed_at is None


def test_a_totp_code_is_accepted_once(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-2, OPS-4
    made = make_account(service, db, settings, clock)
    code = next_code(made, clock)
    service.accounts.verify_totp(made.account, code)
    with pytest.raises(TotpReused) as caught:
        service.accounts.verify_totp(made.account, code)
    assert caught.value.code == "totp_reused"
    assert caught.value.message == "This code was used already. Wait for the next code."
    # The enrolment code's step is spent too, and an older step never comes back.
    with pytest.raises(TotpReused):
        service.accounts.verify_totp(made.account, totp_at(made.secret, clock.now() - STEP))
    clock.advance(STEP)
    when = clock.now()
    service.accounts.verify_totp(made.account, totp_at(made.secret, when))
    db.flush()
    stored = db.execute(
        text("SELECT totp_last_step FROM accounts WHERE id = :id"), {"id": made.account.id}
    ).scalar_one()
    assert stored == int(when.timestamp()) // 30  # the step of the code, kept against replay


# -- login ("two-factor already done") -----------------------------------------------------------


def test_login_with_email_password_and_totp(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-2
    made = make_account(service, db, settings, clock, email="Login.Me@example.com")
    account = service.accounts.login(
        " LOGIN.me@example.com", PASSWORD, next_code(made, clock), client="ip1"
    )
    assert account.id == made.account.id
    assert audit_actions(db)[-1] == "account_login_succeeded"


def test_login_failures_are_indistinguishable(
    service: AccountSteps,
    db: Session,
    settings: Settings,
    clock: OffsetClock,
    hasher: CountingHasher,
) -> None:  # APP-2, OPS-4
    made = make_account(service, db, settings, clock)
    wrong_code = f"{(int(next_code(made, clock)) + 1) % 10**6:06d}"
    shapes = []
    for email, password, code in [
        ("nobody@example.com", PASSWORD, next_code(made, clock)),
        ("not an address", PASSWORD, next_code(made, clock)),
        (made.email, PASSWORD + "x", next_code(made, clock)),
        (made.email, PASSWORD, wrong_code),
    ]:
        before = hasher.verifications
        with pytest.raises(AccountLoginFailed) as caught:
            service.accounts.login(email, password, code, client="ip1")
        assert hasher.verifications == before + 1  # the same argon2 work every time
        shapes.append(error_shape(caught.value))
        assert password not in caught.value.message and code not in caught.value.message
    assert len(set(shapes)) == 1
    assert shapes[0][1] == "account_login_failed"
    details = [
        json.dumps(d)
        for d in db.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "account_login_failed")
        )
    ]
    assert len(details) == 4
    assert not any(PASSWORD in d or wrong_code in d for d in details)


def test_ten_failed_logins_lock_the_address_for_that_network_for_15_minutes(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-2 OPS-4 SEC-8
    made = make_account(service, db, settings, clock)
    # Neighbouring addresses are one network (an IPv4 /24): stepping aside does not help.
    for attempt in range(1, 10):
        with pytest.raises(AccountLoginFailed):
            service.accounts.login(
                made.email, f"wrong password {attempt}", "000000", client=f"203.0.113.{attempt}"
            )
    with pytest.raises(AccountLocked) as caught:
        service.accounts.login(made.email, "wrong password 10", "000000", client="203.0.113.10")
    assert caught.value.code == "account_locked"
    assert 14 * 60 < caught.value.retry_after <= 15 * 60
    assert "15 more minutes" in caught.value.message
    # While locked even the right password and code are refused there, and not even checked.
    with pytest.raises(AccountLocked) as caught:
        service.accounts.login(made.email, PASSWORD, next_code(made, clock), client="203.0.113.11")
    assert 0 < caught.value.retry_after <= 15 * 60
    # The owner elsewhere is not locked out by it.
    account = service.accounts.login(
        made.email, PASSWORD, next_code(made, clock), client="198.51.100.7"
    )
    assert account.failed_logins == 0
    assert "account_locked" in audit_actions(db)


def test_a_success_resets_the_failure_count(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-2
    made = make_account(service, db, settings, clock)
    for _ in range(3):
        with pytest.raises(AccountLoginFailed):
            service.accounts.login(made.email, "wrong password!", "000000", client="ip1")
    assert made.account.failed_logins == 3
    service.accounts.login(made.email, PASSWORD, next_code(made, clock), client="ip1")
    assert made.account.failed_logins == 0


def test_logins_are_rate_limited_per_client(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-2
    for i in range(10):
        with pytest.raises(AccountLoginFailed):
            service.accounts.login(f"nobody{i}@example.com", PASSWORD, "000000", client="ip1")
    with pytest.raises(RateLimited):
        service.accounts.login("nobody@example.com", PASSWORD, "000000", client="ip1")


def test_a_replayed_totp_code_is_refused_at_login(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-2, OPS-4
    made = make_account(service, db, settings, clock)
    code = next_code(made, clock)
    service.accounts.login(made.email, PASSWORD, code, client="ip1")
    with pytest.raises(TotpReused) as caught:
        service.accounts.login(made.email, PASSWORD, code, client="ip1")
    assert caught.value.code == "totp_reused"
    assert made.account.failed_logins == 0


def test_an_account_of_another_person_is_refused_without_naming_them(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-2
    made = make_account(service, db, settings, clock)
    other = factories.person(db, "Other")
    with pytest.raises(AccountNotYours) as caught:
        service.accounts.login(
            made.email, PASSWORD, next_code(made, clock), client="ip1", person_id=other.id
        )
    err = caught.value
    assert err.code == "account_not_yours"
    assert err.message == "This account belongs to another person."
    shown = f"{err.message} {err.next_step}"
    assert made.person.given_name not in shown and made.person.family_name not in shown
    assert made.email not in shown
    # The same person may.
    service.accounts.login(
        made.email, PASSWORD, next_code(made, clock), client="ip1", person_id=made.person.id
    )
    # And an activation cannot be linked to someone else's account.
    with pytest.raises(AccountNotYours):
        service.link_existing_account(new_activation(db, other, clock), made.account)


def test_after_log_out_everywhere_the_account_alone_needs_an_invitation(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-2, APP-7, APP-8
    made = make_account(service, db, settings, clock)
    made.account.requires_invitation = True
    with pytest.raises(ReactivationNeedsInvitation) as caught:
        service.accounts.login(made.email, PASSWORD, next_code(made, clock), client="ip1")
    assert caught.value.code == "reactivation_needs_invitation"
    assert caught.value.next_step == "Ask your company's user administrator for a new invitation."
    # An account-only activation does not clear the flag ...
    account_only = new_activation(db, made.person, clock, ActivationKind.ACCOUNT)
    service.link_existing_account(account_only, made.account)
    assert made.account.requires_invitation is True
    # ... an invitation does, and the person logs in within it.
    invited = new_activation(db, made.person, clock)
    account = service.accounts.login(
        made.email, PASSWORD, next_code(made, clock), client="ip1", person_id=made.person.id
    )
    service.link_existing_account(invited, account)
    assert invited.account_id == account.id
    assert invited.email_verified_at is not None and invited.totp_confirmed_at is not None
    # Re-opened only when the invitation's activation binds a device (SEC-2): an invitation
    # cancelled before that leaves the account as it was.
    assert account.requires_invitation is True
    with pytest.raises(ReactivationNeedsInvitation):
        service.accounts.login(made.email, PASSWORD, next_code(made, clock), client="ip1")


def test_an_unfinished_account_says_so_only_to_its_password(
    service: AccountSteps, db: Session, settings: Settings, clock: OffsetClock
) -> None:  # APP-2
    person = factories.person(db)
    activation = new_activation(db, person, clock)
    service.start_new_account(activation, "half@example.com")
    service.verify_email(activation, last_code(db, settings, "half@example.com"))
    service.set_password(activation, PASSWORD)
    with pytest.raises(AccountLoginFailed):
        service.accounts.login("half@example.com", "wrong password!", "000000", client="ip1")
    with pytest.raises(AccountSetupIncomplete):
        service.accounts.login("half@example.com", PASSWORD, "000000", client="ip1")
    # A later activation of the same person finishes it, with the address confirmed again.
    later = new_activation(db, person, clock)
    service.start_new_account(later, "half@example.com")
    service.verify_email(later, last_code(db, settings, "half@example.com"))
    account = service.set_password(later, PASSWORD + " 2")
    assert db.scalar(select(func.count()).select_from(Account)) == 1
    enrolment = service.start_totp(later)
    service.confirm_totp(later, totp_at(enrolment.secret, clock.now()))
    assert account.totp_confirmed_at is not None


# -- terms ---------------------------------------------------------------------------------------


def test_the_current_terms_are_the_newest_version(service: AccountSteps) -> None:  # APP-3
    version, body = service.accounts.current_terms()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", version)
    assert version == "2026-11-01"
    # The version is shown above the text (app and web page), not repeated in it.
    assert "Portti" in body and version not in body


def test_accepting_an_old_version_is_refused(
    service: AccountSteps, db: Session, clock: OffsetClock
) -> None:  # APP-3, OPS-4
    person = factories.person(db)
    activation = new_activation(db, person, clock)
    with pytest.raises(TermsOutdated) as caught:
        service.accept_terms(activation, "2025-01-01", ip="192.0.2.1")
    assert caught.value.code == "terms_outdated"
    assert "2026-11-01" in caught.value.message
    assert activation.terms_version is None
    assert db.scalar(select(func.count()).select_from(TermsAcceptance)) == 0
    assert not service.accounts.has_accepted_current_terms(person.id)


def test_acceptance_is_recorded_with_version_and_time(
    service: AccountSteps, db: Session, clock: OffsetClock
) -> None:  # APP-3
    person = factories.person(db)
    someone_else = factories.person(db)
    activation = new_activation(db, person, clock)
    version, _ = service.accounts.current_terms()
    before = clock.now()
    acceptance = service.accept_terms(activation, version, ip="192.0.2.1")
    db.flush()
    stored = db.get(TermsAcceptance, acceptance.id)
    assert stored is not None
    assert stored.person_id == person.id and stored.version == version
    assert before <= stored.accepted_at <= clock.now()
    assert stored.ip == "192.0.2.1" and stored.activation_id == activation.id
    assert activation.terms_version == version
    assert service.accounts.has_accepted_current_terms(person.id)
    assert not service.accounts.has_accepted_current_terms(someone_else.id)
    # Accepting again in the same activation records nothing new.
    assert service.accept_terms(activation, version, ip=None).id == acceptance.id
    assert audit_actions(db).count("terms_accepted") == 1


@pytest.mark.parametrize(
    ("own", "browser", "subject"),
    [
        ("sv", "fi", "Din bekräftelsekod för e-post i Portti"),
        (None, "fi", None),
        (None, None, "Your Portti e-mail confirmation code"),
    ],
)
def test_the_email_code_is_in_the_persons_language_else_the_browsers(
    service: AccountSteps,
    db: Session,
    settings: Settings,
    clock: OffsetClock,
    own: str | None,
    browser: str | None,
    subject: str | None,
) -> None:  # I18N-1
    from portti.i18n import begin_request, translations

    person = factories.person(db, "Anna")
    person.language = own
    activation = new_activation(db, person, clock)

    def set_up_in_the_browser() -> None:
        begin_request(None, browser)  # the set-up browser's Accept-Language
        service.start_new_account(activation, "anna.k@example.com")

    contextvars.copy_context().run(set_up_in_the_browser)  # the request's language stays there
    [mail] = emails(db, settings, "anna.k@example.com")
    expected = subject or translations("fi").gettext("Your Portti e-mail confirmation code")
    assert mail["subject"] == expected
    assert expected != "Your Portti e-mail confirmation code" or (own, browser) == (None, None)
