"""Accounts (APP-2): e-mail, password and TOTP. An account is made during an app activation
(``portti.activation.accounts``) and logs in on the "two-factor already done" path (APP-7).

Secrets never leave in clear (OPS-4): passwords are argon2id hashes, TOTP seeds sealed with
AES-GCM to their account; none of them is put in an exception, a log line or an audit event.
Every success and refusal is audited in the caller's transaction; callers commit after a
``DomainError`` too, so that failed tries and lockouts count.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any, NoReturn

import argon2
import pyotp
import segno
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from portti.accounts.errors import (
    AccountLocked,
    AccountLoginFailed,
    AccountNotYours,
    AccountSetupIncomplete,
    ReactivationNeedsInvitation,
    TotpAlreadyEnrolled,
    TotpReused,
    TotpWrong,
    WrongStep,
)
from portti.accounts.models import Account, TermsAcceptance
from portti.accounts.passwords import PasswordPolicy, normalise_password
from portti.accounts.terms_text import current_terms_text as current_terms_text
from portti.accounts.totp import (
    TOTP_INTERVAL,
    TOTP_ISSUER,
    TOTP_VALID_WINDOW,
    TotpCheck,
    TotpEnrolment,
    standalone_svg,
    totp_context,
)
from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.errors import RateLimited
from portti.i18n import _l
from portti.infra.clock import Clock
from portti.infra.codes import clean_digits
from portti.infra.crypto import SecretBox
from portti.infra.ratelimit import RateLimiter, client_network
from portti.people.phones import InvalidEmail, normalise_email

__all__ = [
    "AccountService",
    "TotpEnrolment",
    "current_terms_text",
    "standalone_svg",
    "totp_context",
]

LOGIN_LIMIT_PER_CLIENT = "10/minute;100/day"
# SEC-8: failures are counted per (address, client network), for known and unknown addresses
# alike, so the lockout tells nothing about whether an account exists, and nobody elsewhere can
# lock a person out of their own account by guessing from their own network.
MAX_FAILED_LOGINS = 10
LOCKOUT = timedelta(minutes=15)
LOGIN_FAILURES = f"{MAX_FAILED_LOGINS}/{int(LOCKOUT.total_seconds() // 60)} minutes"
IPV4_NETWORK_BITS = 24


def account_email(text: str) -> str:
    """The address as accounts store and look it up: normalised, then wholly lower case, so
    that "Anna@Example.com" and "anna@example.com" are one account (and one index lookup)."""
    return normalise_email(text).lower()


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


class AccountService:
    def __init__(
        self,
        db: Session,
        clock: Clock,
        audit: AuditLog,
        *,
        secret: bytes,
        hasher: argon2.PasswordHasher,
        policy: PasswordPolicy,
        limiter: RateLimiter,
    ) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit
        self.hasher = hasher
        self.policy = policy
        self.limiter = limiter
        self.totp_box = SecretBox(secret, "totp")

    # -- lookups --------------------------------------------------------------------------------

    def by_email(self, email: str, *, for_update: bool = False) -> Account | None:
        query = select(Account).where(Account.email == email)
        if for_update:
            query = query.with_for_update()
        return self.db.scalars(query).one_or_none()

    def by_person(self, person_id: int) -> Account | None:
        return self.db.scalars(select(Account).where(Account.person_id == person_id)).one_or_none()

    def _record(
        self,
        action: AuditAction,
        account: Account | None = None,
        *,
        person_id: int | None = None,
        **details: Any,
    ) -> None:
        """An audit event about a person's account: ids and outcomes, never a secret."""
        if account is not None:
            details["account_id"] = account.id
            person_id = person_id or account.person_id
        self.audit.record(action, subject_person_id=person_id, **details)

    # -- password --------------------------------------------------------------------------------

    def check_password(self, password: str, *, email: str) -> None:
        """Raises ``PasswordRejected`` for a password the policy refuses."""
        self.policy.check(password, email=email)

    def set_password(
        self,
        account: Account | None,
        *,
        person_id: int,
        email: str,
        email_verified_at: datetime,
        password: str,
    ) -> Account:
        """Creates the person's account (``account`` None) or sets a new password on it. SEC-2:
        the account is not on its own until an invitation's activation binds a device (the
        binding clears ``requires_invitation``); an invitation that ends first leaves it
        unusable alone."""
        now = self.clock.now()
        password_hash = self.hasher.hash(normalise_password(password))
        if account is None:
            account = Account(
                person_id=person_id,
                email=email,
                email_verified_at=email_verified_at,
                password_hash=password_hash,
                password_changed_at=now,
                failed_logins=0,
                requires_invitation=True,
                created_at=now,
            )
            self.db.add(account)
            self.db.flush()
            return account
        account.email = email
        account.email_verified_at = email_verified_at
        account.password_hash = password_hash
        account.password_changed_at = now
        account.failed_logins = 0
        account.requires_invitation = True
        return account

    # -- TOTP ------------------------------------------------------------------------------------

    def start_totp(self, account: Account) -> TotpEnrolment:
        """A new seed for the authenticator app, sealed to the account; shown once."""
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
        return TotpEnrolment(secret=secret, otpauth_uri=uri, qr_svg=qr_svg)

    def confirm_totp(self, account: Account, code: str) -> TotpCheck:
        """The first code from the authenticator app: enrolment is done when it is right."""
        if account.totp_confirmed_at is not None:
            raise TotpAlreadyEnrolled()
        if account.totp_secret_sealed is None:
            raise WrongStep(_l("Set up the authenticator app first."))
        outcome = self._check_totp(account, code)
        if outcome is TotpCheck.OK:
            account.totp_confirmed_at = self.clock.now()
        return outcome

    def verify_totp(self, account: Account, code: str) -> None:
        """A code for ``account``'s authenticator at the service clock's time; each time step
        is accepted once (the step is stored), so a seen code cannot be replayed."""
        if account.totp_secret_sealed is None or account.totp_confirmed_at is None:
            self._record(AuditAction.TOTP_FAILED, account=account, reason="not_enrolled")
            raise TotpWrong()
        outcome = self._check_totp(account, code)
        if outcome is not TotpCheck.OK:
            self._record(AuditAction.TOTP_FAILED, account=account, reason=outcome.value)
            raise TotpReused() if outcome is TotpCheck.REUSED else TotpWrong()

    def _check_totp(self, account: Account, code: str) -> TotpCheck:
        """Matches ``code`` within ±``TOTP_VALID_WINDOW`` steps and, if it is new, consumes
        its step. pyotp's own ``verify`` says only yes or no; the step is needed for replay."""
        assert account.totp_secret_sealed is not None
        digits = clean_code(code)
        if digits is None:
            return TotpCheck.WRONG
        try:
            seed = self.totp_box.open(account.totp_secret_sealed, context=totp_context(account.id))
        except InvalidTag:
            # A seed not sealed to this account (copied from another row, SEC-25) is no seed:
            # every code is wrong, and the refusal is counted like any other.
            return TotpCheck.WRONG
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
            return TotpCheck.REUSED if matched else TotpCheck.WRONG
        return TotpCheck.OK if self._consume_totp_step(account, fresh[0]) else TotpCheck.REUSED

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
        if outcome is TotpCheck.WRONG:
            self._login_failed(account, lock_keys, now, "wrong_totp")
        if outcome is TotpCheck.REUSED:
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

    # -- terms (APP-3) ---------------------------------------------------------------------------

    def current_terms(self, language: str | None = None) -> tuple[str, str]:
        """The current version and its text, in ``language`` where a translation is shipped
        (``<version>.<language>.md``), else in English: the version accepted is the same."""
        return current_terms_text(language)

    def has_accepted_current_terms(self, person_id: int) -> bool:
        current, _ = self.current_terms()
        found = self.db.scalar(
            select(TermsAcceptance.id)
            .where(TermsAcceptance.person_id == person_id, TermsAcceptance.version == current)
            .limit(1)
        )
        return found is not None
