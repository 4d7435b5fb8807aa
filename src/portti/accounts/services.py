"""Accounts (APP-2): e-mail, password and TOTP, created during an app activation or used to log
in on the "two-factor already done" path (APP-7); versioned terms and their acceptance (APP-3).

New account, one activation:

    start_new_account ──▶ verify_email ──▶ set_password ──▶ start_totp ──▶ confirm_totp
    (code by e-mail)      (6 digits)       (Account row)    (sealed seed)  (first code)

Existing account: ``login`` (e-mail + password + TOTP) then ``link_existing_account``.

Secrets never leave in clear (OPS-4): e-mail codes are stored as keyed hashes, passwords as
argon2id hashes, TOTP seeds sealed with AES-GCM; none of them is put in an exception, a log line
or an audit event. Every success and refusal is audited in the caller's transaction; callers
commit after a ``DomainError`` too, so that failed tries and lockouts count.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import io
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from importlib import resources
from typing import Any, NoReturn

import argon2
import jinja2
import pyotp
import segno
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

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
from portti.accounts.passwords import PasswordPolicy, normalise_password
from portti.audit.models import AuditAction, AuditEvent
from portti.audit.services import AuditLog
from portti.devices.models import Activation
from portti.errors import RateLimited, ValidationFailed
from portti.i18n import _l, gettext, use_locale
from portti.infra.clock import Clock
from portti.infra.codes import clean_digits, random_digits
from portti.infra.crypto import CodeHasher, SecretBox
from portti.infra.outbox import Outbox
from portti.infra.ratelimit import RateLimiter, client_network
from portti.people.models import Person
from portti.people.phones import InvalidEmail, normalise_email

EMAIL_CODE_VALIDITY = timedelta(minutes=15)
MAX_EMAIL_CODES = 3  # per activation: the first code and two new ones
MAX_WRONG_EMAIL_CODES = 5
# Refused addresses ("account_exists") count too: an activation cannot probe many addresses.
START_ACCOUNT_LIMIT = "5/minute;20/day"

TOTP_ISSUER = "Portti"
TOTP_INTERVAL = 30
TOTP_VALID_WINDOW = 1  # one step either side: a phone clock 30 s off still works

LOGIN_LIMIT_PER_CLIENT = "10/minute;100/day"
# SEC-8: failures are counted per (address, client network), for known and unknown addresses
# alike, so the lockout tells nothing about whether an account exists, and nobody elsewhere can
# lock a person out of their own account by guessing from their own network.
MAX_FAILED_LOGINS = 10
LOCKOUT = timedelta(minutes=15)
LOGIN_FAILURES = f"{MAX_FAILED_LOGINS}/{int(LOCKOUT.total_seconds() // 60)} minutes"
IPV4_NETWORK_BITS = 24

TERMS_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.md$")


def account_email(text: str) -> str:
    """The address as accounts store and look it up: normalised, then wholly lower case, so
    that "Anna@Example.com" and "anna@example.com" are one account (and one index lookup)."""
    return normalise_email(text).lower()


def new_email_code() -> str:
    return random_digits(6)


def standalone_svg(qr: segno.QRCode) -> str:
    """The QR code as a complete SVG document (with the SVG namespace): it is shown as an image
    (``<img src="data:image/svg+xml,…">``), where an SVG without ``xmlns`` does not render (UX-1),
    as well as inline. Dark on white, with the quiet zone."""
    out = io.BytesIO()
    qr.save(
        out,
        kind="svg",
        xmldecl=False,
        svgns=True,
        nl=False,
        scale=4,
        light="#fff",
        title="QR code for your authenticator app",
    )
    return out.getvalue().decode("utf-8")


def clean_code(text: str, length: int = 6) -> str | None:
    return clean_digits(text, length)


@functools.lru_cache(maxsize=8)
def _dummy_hash(
    time_cost: int, memory_cost: int, parallelism: int, hash_len: int, salt_len: int
) -> str:
    hasher = argon2.PasswordHasher(
        time_cost=time_cost,
        memory_cost=memory_cost,
        parallelism=parallelism,
        hash_len=hash_len,
        salt_len=salt_len,
        type=argon2.Type.ID,
    )
    return hasher.hash(secrets.token_urlsafe(24))


def dummy_hash(hasher: argon2.PasswordHasher) -> str:
    """A hash with the same cost as real ones: an unknown e-mail costs a login as much time."""
    return _dummy_hash(
        hasher.time_cost, hasher.memory_cost, hasher.parallelism, hasher.hash_len, hasher.salt_len
    )


@functools.cache
def _terms() -> tuple[tuple[str, str], ...]:
    """(version, text) of every shipped terms file, oldest first; the file name is the version."""
    folder = resources.files("portti.accounts").joinpath("terms")
    files = sorted(f.name for f in folder.iterdir() if TERMS_FILE.match(f.name))
    if not files:
        raise RuntimeError("portti.accounts: no terms files are installed")
    return tuple(
        (name.removesuffix(".md"), folder.joinpath(name).read_text(encoding="utf-8"))
        for name in files
    )


@functools.cache
def _terms_translation(version: str, language: str | None) -> str | None:
    """The terms of ``version`` in ``language`` (UX-3), or None when none is shipped."""
    if not language or not language.isalpha() or len(language) > 3:
        return None
    path = resources.files("portti.accounts").joinpath("terms", f"{version}.{language}.md")
    return path.read_text(encoding="utf-8") if path.is_file() else None


def current_terms_text(language: str | None = None) -> tuple[str, str]:
    """The current terms' version and text, in ``language`` where a translation is shipped
    (``<version>.<language>.md``), else in English: the version accepted is the same."""
    version, text = _terms()[-1]
    return version, _terms_translation(version, language) or text


def terms_text(version: str, language: str) -> str:
    """The terms of ``version`` in ``language`` where a translation is shipped, else in
    English (the version of record)."""
    return _terms_translation(version, language) or dict(_terms())[version]


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str
    otpauth_uri: str
    qr_svg: str


class _Totp(Enum):
    OK = "ok"
    WRONG = "wrong"
    REUSED = "reused"


def totp_context(account_id: int) -> str:
    """What a TOTP seed is sealed to: its account (``SecretBox`` associated data, SEC-25)."""
    return f"account:{account_id}"


class AccountService:
    def __init__(
        self,
        db: Session,
        clock: Clock,
        audit: AuditLog,
        outbox: Outbox,
        *,
        secret: bytes,
        hasher: argon2.PasswordHasher,
        policy: PasswordPolicy,
        limiter: RateLimiter,
        jinja: jinja2.Environment,
    ) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit
        self.outbox = outbox
        self.hasher = hasher
        self.policy = policy
        self.limiter = limiter
        self.jinja = jinja
        self.email_code_hasher = CodeHasher(secret, "email-code")
        self.totp_box = SecretBox(secret, "totp")

    # -- lookups --------------------------------------------------------------------------------

    def by_email(self, email: str, *, for_update: bool = False) -> Account | None:
        query = select(Account).where(Account.email == email)
        if for_update:
            query = query.with_for_update()
        return self.db.scalars(query).one_or_none()

    def by_person(self, person_id: int) -> Account | None:
        return self.db.scalars(select(Account).where(Account.person_id == person_id)).one_or_none()

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
            for a in (self.by_email(key), self.by_person(activation.person_id))
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
        from portti.companies.notices import recipient_language

        person = self.db.get(Person, activation.person_id)
        ctx = {
            "person": person,
            "code": code,
            "valid_minutes": int(EMAIL_CODE_VALIDITY.total_seconds() // 60),
        }
        # The person's own setting, else the language of the browser setting up the account.
        with use_locale(recipient_language(self.db, person, own_request=True)):
            self.outbox.email(
                to=address,
                subject=gettext("Your Portti e-mail confirmation code"),
                text=self.jinja.get_template("email/verify_email.txt").render(ctx),
                html=self.jinja.get_template("email/verify_email.html").render(ctx),
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
        mine = self.by_person(activation.person_id)
        by_email = self.by_email(key)
        created_here = mine is not None and activation.account_id == mine.id
        if (by_email is not None and by_email.person_id != activation.person_id) or (
            mine is not None and mine.totp_confirmed_at is not None and not created_here
        ):
            self._record(AuditAction.ACCOUNT_CREATION_REFUSED, activation, reason="account_exists")
            raise AccountExists()
        try:
            self.policy.check(password, email=activation.email_to_verify)
        except PasswordRejected as exc:
            self._record(AuditAction.ACCOUNT_PASSWORD_REJECTED, activation, reason=exc.code)
            raise
        now = self.clock.now()
        password_hash = self.hasher.hash(normalise_password(password))
        if mine is None:
            account = Account(
                person_id=activation.person_id,
                email=key,
                email_verified_at=activation.email_verified_at,
                password_hash=password_hash,
                password_changed_at=now,
                failed_logins=0,
                # SEC-2: not on its own until its invitation's activation binds a device (the
                # binding clears this); an invitation that ends first leaves it unusable alone.
                requires_invitation=True,
                created_at=now,
            )
            self.db.add(account)
            self.db.flush()
            action = AuditAction.ACCOUNT_CREATED
        else:
            account = mine
            account.email = key
            account.email_verified_at = activation.email_verified_at
            account.password_hash = password_hash
            account.password_changed_at = now
            account.failed_logins = 0
            account.requires_invitation = True
            action = AuditAction.ACCOUNT_PASSWORD_CHANGED
        activation.account_id = account.id
        self._record(action, activation, account)
        return account

    # -- TOTP ------------------------------------------------------------------------------------

    def start_totp(self, activation: Activation) -> TotpEnrolment:
        account = self._activation_account(activation)
        if account.totp_confirmed_at is not None:
            raise TotpAlreadyEnrolled()
        secret = pyotp.random_base32()
        if account.id is None:
            self.db.flush()
        account.totp_secret_sealed = self.totp_box.seal(secret, context=totp_context(account.id))
        account.totp_last_step = None
        uri = pyotp.TOTP(secret, interval=TOTP_INTERVAL).provisioning_uri(
            name=account.email, issuer_name=TOTP_ISSUER
        )
        qr_svg = standalone_svg(segno.make(uri, error="m"))
        self._record(AuditAction.TOTP_ENROLMENT_STARTED, activation, account)
        return TotpEnrolment(secret=secret, otpauth_uri=uri, qr_svg=qr_svg)

    def confirm_totp(self, activation: Activation, code: str) -> None:
        account = self._activation_account(activation)
        if account.totp_confirmed_at is not None:
            raise TotpAlreadyEnrolled()
        if account.totp_secret_sealed is None:
            raise WrongStep(_l("Set up the authenticator app first."))
        outcome = self._check_totp(account, code)
        if outcome is not _Totp.OK:
            self._record(
                AuditAction.TOTP_FAILED,
                activation,
                account,
                reason=outcome.value,
                during="enrolment",
            )
            raise TotpReused() if outcome is _Totp.REUSED else TotpWrong()
        now = self.clock.now()
        account.totp_confirmed_at = now
        activation.totp_confirmed_at = now
        self._record(AuditAction.TOTP_ENROLLED, activation, account)

    def verify_totp(self, account: Account, code: str) -> None:
        """A code for ``account``'s authenticator at the service clock's time; each time step
        is accepted once (the step is stored), so a seen code cannot be replayed."""
        if account.totp_secret_sealed is None or account.totp_confirmed_at is None:
            self._record(AuditAction.TOTP_FAILED, account=account, reason="not_enrolled")
            raise TotpWrong()
        outcome = self._check_totp(account, code)
        if outcome is not _Totp.OK:
            self._record(AuditAction.TOTP_FAILED, account=account, reason=outcome.value)
            raise TotpReused() if outcome is _Totp.REUSED else TotpWrong()

    def _check_totp(self, account: Account, code: str) -> _Totp:
        """Matches ``code`` within ±``TOTP_VALID_WINDOW`` steps and, if it is new, consumes
        its step. pyotp's own ``verify`` says only yes or no; the step is needed for replay."""
        assert account.totp_secret_sealed is not None
        digits = clean_code(code)
        if digits is None:
            return _Totp.WRONG
        try:
            seed = self.totp_box.open(account.totp_secret_sealed, context=totp_context(account.id))
        except InvalidTag:
            # A seed not sealed to this account (copied from another row, SEC-25) is no seed:
            # every code is wrong, and the refusal is counted like any other.
            return _Totp.WRONG
        totp = pyotp.TOTP(seed, interval=TOTP_INTERVAL)
        now_step = int(self.clock.now().timestamp()) // TOTP_INTERVAL
        matched = [
            step
            for step in range(now_step - TOTP_VALID_WINDOW, now_step + TOTP_VALID_WINDOW + 1)
            if hmac.compare_digest(totp.generate_otp(step), digits)
        ]
        last = account.totp_last_step
        fresh = [step for step in matched if last is None or step > last]
        if not fresh:
            return _Totp.REUSED if matched else _Totp.WRONG
        return _Totp.OK if self._consume_totp_step(account, fresh[0]) else _Totp.REUSED

    def _consume_totp_step(self, account: Account, step: int) -> bool:
        """Compare-and-set on the row: of two requests racing with one code, one wins."""
        result = self.db.execute(
            update(Account)
            .where(
                Account.id == account.id,
                or_(Account.totp_last_step.is_(None), Account.totp_last_step < step),
            )
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return False
        set_committed_value(account, "totp_last_step", step)
        return True

    # -- existing account: "two-factor already done" ----------------------------------------------

    def login(
        self,
        email: str,
        password: str,
        totp_code: str,
        *,
        client: str,
        person_id: int | None = None,
    ) -> Account:
        """E-mail, password and authenticator code. Unknown address, wrong password and wrong
        code give one answer and cost the same argon2 time. ``MAX_FAILED_LOGINS`` failures for
        one address from one client network lock that address for that network for ``LOCKOUT``
        (SEC-8): an unknown address locks exactly like a known one, and the owner logging in
        from their own network is not locked out by guesses made elsewhere. ``person_id`` is
        the person an activation already identified (invitation, bank ID): the account must be
        theirs."""
        try:
            key: str | None = account_email(email)
        except InvalidEmail:
            key = None
        lock_keys = self._lockout_keys(key or email.strip().lower()[:254], client)
        account = self.by_email(key, for_update=True) if key is not None else None
        locked_for = self.limiter.retry_after(LOGIN_FAILURES, *lock_keys)
        if locked_for is not None:
            # Guesses made during a lockout are not even checked, so they cannot succeed; the
            # answer is the same whether or not the address has an account.
            self._record(
                AuditAction.ACCOUNT_LOGIN_FAILED,
                account=account,
                person_id=None if account else person_id,
                reason="locked",
            )
            raise AccountLocked(locked_for)
        try:
            self.limiter.hit(LOGIN_LIMIT_PER_CLIENT, "account-login", client)
        except RateLimited:
            self._record(
                AuditAction.ACCOUNT_LOGIN_FAILED,
                account=account,
                person_id=None if account else person_id,
                reason="rate_limited",
            )
            raise
        now = self.clock.now()
        plain = normalise_password(password)
        if account is None:
            self._verify_password(dummy_hash(self.hasher), plain)
            self._record(
                AuditAction.ACCOUNT_LOGIN_FAILED, person_id=person_id, reason="unknown_email"
            )
            self._login_failed(None, lock_keys, now)
        if not self._verify_password(account.password_hash or dummy_hash(self.hasher), plain):
            self._login_failed(account, lock_keys, now, "wrong_password")
        assert account.password_hash is not None
        if account.totp_confirmed_at is None or account.totp_secret_sealed is None:
            self._record(
                AuditAction.ACCOUNT_LOGIN_FAILED, account=account, reason="setup_incomplete"
            )
            raise AccountSetupIncomplete()
        outcome = self._check_totp(account, totp_code)
        if outcome is _Totp.WRONG:
            self._login_failed(account, lock_keys, now, "wrong_totp")
        if outcome is _Totp.REUSED:
            # Not counted as a failure: the password and code were right, only late.
            self._record(AuditAction.ACCOUNT_LOGIN_FAILED, account=account, reason="totp_reused")
            raise TotpReused()
        # Authenticated: from here on the person knows the account's secrets.
        self.limiter.clear(LOGIN_FAILURES, *lock_keys)
        account.failed_logins = 0
        if self.hasher.check_needs_rehash(account.password_hash):
            account.password_hash = self.hasher.hash(plain)
        if person_id is not None and account.person_id != person_id:
            # The owner sees this in their own audit trail; the other person is not named.
            self._record(
                AuditAction.ACCOUNT_LOGIN_FAILED,
                account=account,
                reason="not_yours",
                claimed_by_person_id=person_id,
            )
            raise AccountNotYours()
        if person_id is None and account.requires_invitation:
            self._record(
                AuditAction.ACCOUNT_LOGIN_FAILED,
                account=account,
                reason="reactivation_needs_invitation",
            )
            raise ReactivationNeedsInvitation()
        self._record(AuditAction.ACCOUNT_LOGIN_SUCCEEDED, account=account)
        return account

    @staticmethod
    def _lockout_keys(address: str, client: str) -> tuple[str, str, str]:
        # The address is hashed: limiter keys may sit in Redis, where an e-mail address should
        # not be readable.
        digest = hashlib.sha256(address.encode()).hexdigest()[:32]
        return (
            "account-login-failures",
            digest,
            client_network(client, ipv4_prefix=IPV4_NETWORK_BITS),
        )

    def _verify_password(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _login_failed(
        self,
        account: Account | None,
        lock_keys: tuple[str, ...],
        now: datetime,
        reason: str | None = None,
    ) -> NoReturn:
        """Counts one failure for the address and network; the one that reaches
        ``MAX_FAILED_LOGINS`` locks them, known address or not."""
        try:
            self.limiter.hit(LOGIN_FAILURES, *lock_keys)
        except RateLimited:  # pragma: no cover - the lockout check ran first
            raise AccountLocked(int(LOCKOUT.total_seconds())) from None
        if account is not None:
            account.failed_logins = (account.failed_logins or 0) + 1
            assert reason is not None
            self._record(
                AuditAction.ACCOUNT_LOGIN_FAILED,
                account=account,
                reason=reason,
                failures=account.failed_logins,
            )
        locked_for = self.limiter.retry_after(LOGIN_FAILURES, *lock_keys)
        if locked_for is not None:
            if account is not None:
                account.failed_logins = 0
                self._record(
                    AuditAction.ACCOUNT_LOCKED,
                    account=account,
                    until=(now + timedelta(seconds=locked_for)).isoformat(),
                    network=lock_keys[-1],
                )
            raise AccountLocked(locked_for)
        raise AccountLoginFailed()

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

    def current_terms(self, language: str | None = None) -> tuple[str, str]:
        """The current version and its text, in ``language`` where a translation is shipped
        (``<version>.<language>.md``), else in English: the version accepted is the same."""
        return current_terms_text(language)

    def accept_terms(
        self, activation: Activation, version: str, *, ip: str | None
    ) -> TermsAcceptance:
        current, _ = self.current_terms()
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

    def has_accepted_current_terms(self, person_id: int) -> bool:
        current, _ = self.current_terms()
        found = self.db.scalar(
            select(TermsAcceptance.id)
            .where(TermsAcceptance.person_id == person_id, TermsAcceptance.version == current)
            .limit(1)
        )
        return found is not None
