"""The activation's account steps (APP-2, APP-3): a new account's e-mail, password and TOTP, an
existing account linked after its login, and the terms accepted. The account and its secrets
are ``portti.accounts``'; what the activation has reached is kept on it.

New account, one activation:

    start_new_account ──▶ verify_email ──▶ set_password ──▶ start_totp ──▶ confirm_totp
    (code by e-mail)      (6 digits)       (Account row)    (sealed seed)  (first code)

Existing account: ``AccountService.login`` (e-mail + password + TOTP) then
``link_existing_account``.

E-mail codes are stored as keyed hashes, never put in an exception, a log line or an audit event
(OPS-4). Every success and refusal is audited in the caller's transaction; callers commit after
a ``DomainError`` too, so that failed tries count.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jinja2
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portti.accounts.errors import (
    AccountExists,
    AccountNotYours,
    EmailCodeExpired,
    EmailCodeLocked,
    EmailCodeResendLimit,
    EmailCodeWrong,
    PasswordRejected,
    TermsOutdated,
    TotpReused,
    TotpWrong,
    WrongStep,
)
from portti.accounts.models import Account, TermsAcceptance
from portti.accounts.services import AccountService, clean_code
from portti.accounts.totp import TotpCheck, TotpEnrolment
from portti.activation.models import Activation
from portti.audit.models import AuditAction, AuditEvent
from portti.audit.services import AuditLog
from portti.companies.notices import Notifier
from portti.errors import ValidationFailed
from portti.i18n import _l, gettext
from portti.infra.clock import Clock
from portti.infra.codes import random_digits
from portti.infra.crypto import CodeHasher
from portti.infra.outbox import Outbox
from portti.infra.ratelimit import RateLimiter
from portti.people.models import Person
from portti.people.phones import InvalidEmail, normalise_email

EMAIL_CODE_VALIDITY = timedelta(minutes=15)
MAX_EMAIL_CODES = 3  # per activation: the first code and two new ones
MAX_WRONG_EMAIL_CODES = 5
# Refused addresses ("account_exists") count too: an activation cannot probe many addresses.
START_ACCOUNT_LIMIT = "5/minute;20/day"


def new_email_code() -> str:
    return random_digits(6)


class AccountSteps:
    def __init__(
        self,
        db: Session,
        clock: Clock,
        audit: AuditLog,
        outbox: Outbox,
        accounts: AccountService,
        *,
        secret: bytes,
        limiter: RateLimiter,
        jinja: jinja2.Environment,
    ) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit
        self.outbox = outbox
        self.accounts = accounts
        self.limiter = limiter
        self.jinja = jinja
        self.email_code_hasher = CodeHasher(secret, "email-code")

    def _activation_account(self, activation: Activation) -> Account:
        account = self.db.get(Account, activation.account_id) if activation.account_id else None
        if account is None or account.person_id != activation.person_id:
            raise WrongStep(_l("Create your account's password first."))
        return account

    def _record(
        self,
        action: AuditAction,
        activation: Activation | None = None,
        account: Account | None = None,
        *,
        person_id: int | None = None,
        **details: Any,
    ) -> None:
        """An audit event about a person's account: ids and outcomes, never a secret."""
        if activation is not None:
            details["activation_id"] = activation.id
            person_id = person_id or activation.person_id
        if account is not None:
            details["account_id"] = account.id
            person_id = person_id or account.person_id
        self.audit.record(action, subject_person_id=person_id, **details)

    # -- new account: e-mail ---------------------------------------------------------------------

    def start_new_account(self, activation: Activation, email: str) -> None:
        """Sends a 6-digit code to ``email``; a new call sends a new code that replaces the
        previous one (at most ``MAX_EMAIL_CODES`` per activation)."""
        self.limiter.hit(START_ACCOUNT_LIMIT, "account-start", str(activation.id))
        try:
            address = normalise_email(email)
        except InvalidEmail as exc:
            raise ValidationFailed({"email": exc.message}) from exc
        key = address.lower()
        # An unfinished account of this same person (no authenticator app yet) may be taken
        # over: the person proves the address again and ``set_password`` completes it.
        blocking = [
            a
            for a in (self.accounts.by_email(key), self.accounts.by_person(activation.person_id))
            if a is not None
            and (a.person_id != activation.person_id or a.totp_confirmed_at is not None)
        ]
        if blocking:
            self._record(AuditAction.ACCOUNT_CREATION_REFUSED, activation, reason="account_exists")
            raise AccountExists()
        sent = self._email_codes_sent(activation)
        if sent >= MAX_EMAIL_CODES:
            self._record(
                AuditAction.ACCOUNT_CREATION_REFUSED, activation, reason="email_code_resend_limit"
            )
            raise EmailCodeResendLimit(sent)
        now = self.clock.now()
        code = new_email_code()
        activation.email_to_verify = address
        activation.email_code_hash = self.email_code_hasher.hash(code)
        activation.email_code_expires_at = now + EMAIL_CODE_VALIDITY
        activation.email_code_failures = 0
        activation.email_verified_at = None
        self._send_email_code(activation, address, code)
        self._record(AuditAction.ACCOUNT_EMAIL_CODE_SENT, activation, number=sent + 1)

    def _email_codes_sent(self, activation: Activation) -> int:
        # The audit log is the count: append-only, so the limit cannot be reset by a rollback
        # of some later step, and it needs no column of its own.
        return (
            self.db.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(
                    AuditEvent.subject_person_id == activation.person_id,
                    AuditEvent.action == AuditAction.ACCOUNT_EMAIL_CODE_SENT.value,
                    AuditEvent.details["activation_id"].as_integer() == activation.id,
                )
            )
            or 0
        )

    def _send_email_code(self, activation: Activation, address: str, code: str) -> None:
        person = self.db.get(Person, activation.person_id)
        ctx = {
            "person": person,
            "code": code,
            "valid_minutes": int(EMAIL_CODE_VALIDITY.total_seconds() // 60),
        }
        notifier = Notifier(self.db, self.outbox, self.jinja)
        # The person's own setting, else the language of the browser setting up the account.
        with notifier.in_language_of(person, own_request=True):
            notifier.email(
                "verify_email",
                ctx,
                to=address,
                subject=gettext("Your Portti e-mail confirmation code"),
                kind="email_verification",
                person_id=activation.person_id,
            )

    def verify_email(self, activation: Activation, code: str) -> None:
        if activation.email_to_verify is None:
            raise WrongStep(_l("Enter your e-mail address first."))
        if activation.email_verified_at is not None and activation.email_code_hash is None:
            return  # confirmed already: a repeated request changes nothing
        if activation.email_code_hash is None or activation.email_code_expires_at is None:
            # Only a burnt code leaves an address without a code hash.
            raise EmailCodeLocked()
        now = self.clock.now()
        if now >= activation.email_code_expires_at:
            self._record(AuditAction.ACCOUNT_EMAIL_CODE_FAILED, activation, reason="expired")
            raise EmailCodeExpired()
        digits = clean_code(code)
        if digits is not None and self.email_code_hasher.matches(
            digits, activation.email_code_hash
        ):
            activation.email_verified_at = now
            activation.email_code_hash = None  # single use
            activation.email_code_expires_at = None
            activation.email_code_failures = 0
            self._record(AuditAction.ACCOUNT_EMAIL_VERIFIED, activation)
            return
        activation.email_code_failures += 1
        left = MAX_WRONG_EMAIL_CODES - activation.email_code_failures
        self._record(
            AuditAction.ACCOUNT_EMAIL_CODE_FAILED,
            activation,
            reason="wrong" if left > 0 else "locked",
            failures=activation.email_code_failures,
        )
        if left <= 0:
            activation.email_code_hash = None
            activation.email_code_expires_at = None
            raise EmailCodeLocked()
        raise EmailCodeWrong(left)

    # -- new account: password --------------------------------------------------------------------

    def set_password(self, activation: Activation, password: str) -> Account:
        """Creates the person's account with the verified address, or changes the password of the
        account this activation created (the person went back a step)."""
        if activation.email_verified_at is None or activation.email_to_verify is None:
            raise WrongStep(_l("Confirm your e-mail address first."))
        key = activation.email_to_verify.lower()
        mine = self.accounts.by_person(activation.person_id)
        by_email = self.accounts.by_email(key)
        created_here = mine is not None and activation.account_id == mine.id
        if (by_email is not None and by_email.person_id != activation.person_id) or (
            mine is not None and mine.totp_confirmed_at is not None and not created_here
        ):
            self._record(AuditAction.ACCOUNT_CREATION_REFUSED, activation, reason="account_exists")
            raise AccountExists()
        try:
            self.accounts.check_password(password, email=activation.email_to_verify)
        except PasswordRejected as exc:
            self._record(AuditAction.ACCOUNT_PASSWORD_REJECTED, activation, reason=exc.code)
            raise
        account = self.accounts.set_password(
            mine,
            person_id=activation.person_id,
            email=key,
            email_verified_at=activation.email_verified_at,
            password=password,
        )
        action = (
            AuditAction.ACCOUNT_CREATED if mine is None else AuditAction.ACCOUNT_PASSWORD_CHANGED
        )
        activation.account_id = account.id
        self._record(action, activation, account)
        return account

    # -- TOTP ------------------------------------------------------------------------------------

    def start_totp(self, activation: Activation) -> TotpEnrolment:
        account = self._activation_account(activation)
        enrolment = self.accounts.start_totp(account)
        self._record(AuditAction.TOTP_ENROLMENT_STARTED, activation, account)
        return enrolment

    def confirm_totp(self, activation: Activation, code: str) -> None:
        account = self._activation_account(activation)
        outcome = self.accounts.confirm_totp(account, code)
        if outcome is not TotpCheck.OK:
            self._record(
                AuditAction.TOTP_FAILED,
                activation,
                account,
                reason=outcome.value,
                during="enrolment",
            )
            raise TotpReused() if outcome is TotpCheck.REUSED else TotpWrong()
        activation.totp_confirmed_at = account.totp_confirmed_at
        self._record(AuditAction.TOTP_ENROLLED, activation, account)

    # -- existing account: "two-factor already done" ----------------------------------------------

    def link_existing_account(self, activation: Activation, account: Account) -> None:
        """After ``login``: the activation continues with this account, two factors done.
        An account that needs an invitation (after "Log out from all devices") is re-opened for
        the account-only path when this invitation's activation binds a device, not here: an
        invitation cancelled, replaced or expired before that re-opens nothing (SEC-2)."""
        if account.person_id != activation.person_id:
            self._record(
                AuditAction.ACCOUNT_LOGIN_FAILED,
                activation,
                account,
                person_id=account.person_id,
                reason="not_yours",
            )
            raise AccountNotYours()
        now = self.clock.now()
        activation.account_id = account.id
        activation.email_verified_at = now
        activation.totp_confirmed_at = now
        self._record(
            AuditAction.ACCOUNT_LINKED,
            activation,
            account,
            requires_invitation=account.requires_invitation,
        )

    # -- terms (APP-3) ---------------------------------------------------------------------------

    def accept_terms(
        self, activation: Activation, version: str, *, ip: str | None
    ) -> TermsAcceptance:
        current, _ = self.accounts.current_terms()
        if version != current:
            self._record(
                AuditAction.TERMS_REFUSED,
                activation,
                reason="terms_outdated",
                version=version[:20],
                current=current,
            )
            raise TermsOutdated(current)
        if activation.terms_version == current:
            existing = self.db.scalars(
                select(TermsAcceptance).where(
                    TermsAcceptance.person_id == activation.person_id,
                    TermsAcceptance.activation_id == activation.id,
                    TermsAcceptance.version == current,
                )
            ).first()
            if existing is not None:
                return existing  # accepted already in this activation
        acceptance = TermsAcceptance(
            person_id=activation.person_id,
            version=current,
            accepted_at=self.clock.now(),
            ip=ip[:45] if ip else None,
            activation_id=activation.id,
        )
        self.db.add(acceptance)
        activation.terms_version = current
        self.db.flush()
        self._record(AuditAction.TERMS_ACCEPTED, activation, version=current)
        return acceptance
