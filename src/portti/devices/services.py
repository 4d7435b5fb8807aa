"""Devices (APP-4 … APP-8): binding an app installation, the one approval check every use goes
through, the app session, and lock / log out / log out from all devices.

The device lifecycle, one state machine::

    (activation) ──bind──▶ active ──9th wrong PIN──▶ locked
                             │ ──log out (APP-7)──────────▶ logged_out
                             └ ──revoke / not me / log out everywhere (APP-8)──▶ revoked

Every state but ``active`` is final: the app must be activated again (a new device row).

What the server keeps of a device is public: its id and public key(s). The PIN verifier is
``argon2id(HMAC-SHA256(pepper, public_id | PIN))`` at a low cost of its own
(``make_pin_hasher``); the pepper is derived from the server's secret and never stored, so a
copy of the database alone allows no offline guessing, and the device holds nothing that checks
a PIN. Every PIN try therefore reaches ``verify`` and is counted against ``PIN_SCHEDULE`` (see
docs/architecture.md, "The PIN and the device keys").

A PIN try is counted *before* it is checked: ``verify`` reserves it with a compare-and-set on
the device's counter and commits that, checks the PIN with no transaction open (so no other
write waits for argon2id), then resets the count (right) or keeps it (wrong) in the next
transaction. A check that never finishes leaves its try counted as wrong.

Transactions: methods flush, never commit — except ``verify`` with a PIN, which commits the
counted try (and whatever the caller had written before) before checking the PIN.
Several refusals write something that must stay —
a counted wrong PIN, a lock, a burnt nonce, an audit row — *and* raise a ``DomainError``. The
caller (the route) must therefore commit on ``DomainError`` before re-raising::

    try:
        device = devices.verify(...)
    except DomainError:
        db.commit()  # the wrong PIN stays counted, the nonce stays used
        raise
    db.commit()

Rolling back on such an error would hand an attacker unlimited PIN guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import math
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from jinja2 import Environment
from sqlalchemy import CursorResult, Row, bindparam, delete, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from portti.accounts.models import Account
from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.config import Settings
from portti.db.base import table_of
from portti.devices import keys, webauthn_keys
from portti.devices.errors import (
    AppLocked,
    BiometricsNotEnrolled,
    ChallengesThrottled,
    DeviceLocked,
    DeviceUnknown,
    InvitationRequired,
    NonceInvalid,
    PinBlocked,
    PinInvalid,
    PinRequired,
    PinTooSimple,
    PinWrong,
    SignatureInvalid,
    TooManyChallenges,
)
from portti.devices.models import (
    Activation,
    ActivationKind,
    AppSession,
    Device,
    DeviceChallenge,
    DeviceStatus,
)
from portti.errors import NotFound, RateLimited, ValidationFailed
from portti.infra.clock import Clock
from portti.infra.crypto import CodeHasher, derive_key
from portti.infra.outbox import Outbox
from portti.infra.ratelimit import RateLimiter, client_network
from portti.invitations.errors import ActivationUnknown
from portti.oidc_provider.logins import end_client_logins
from portti.people.models import Person
from portti.weblogin.models import LoginTransaction, LoginTransactionStatus
from portti.weblogin.sessions import SessionService


@dataclass(frozen=True)
class PinSchedule:
    """How wrong PINs are paid for: ``pauses`` maps a count of consecutive wrong PINs to the
    pause before every further try; the ``lock_at``-th wrong PIN locks the device for good."""

    pauses: tuple[tuple[int, timedelta], ...]
    lock_at: int

    def pause_after(self, failures: int) -> timedelta | None:
        pause = None
        for threshold, length in self.pauses:
            if failures >= threshold:
                pause = length
        return pause


# After 3 consecutive wrong PINs a pause of 1 minute before each further try, after 6 a pause of
# 1 hour; the 9th wrong PIN locks the device (re-activation needed). An attacker with the phone
# gets 9 guesses in about 3 h 3 min: 9 in 10^6 for a random 6-digit PIN.
PIN_SCHEDULE = PinSchedule(pauses=((3, timedelta(minutes=1)), (6, timedelta(hours=1))), lock_at=9)

CHALLENGE_VALIDITY = timedelta(minutes=2)
# SEC-9: anyone may ask for a device's nonces (the device id is all it takes), so each one is a
# row written for an unauthenticated request: limited per device and per client network, and a
# device holds at most this many unused, unexpired ones (an app needs one or two at a time).
MAX_OPEN_CHALLENGES = 10
CHALLENGE_LIMIT_PER_DEVICE = "20/minute;200/hour"
# Generous: a carrier-grade NAT puts many phones behind one IPv4 address. It bounds what one
# client can make the server read and write; the cap bounds the rows of each device.
CHALLENGE_LIMIT_PER_NETWORK = "300/minute"
APP_SESSION_ABSOLUTE = timedelta(hours=12)
# Sliding the idle expiry on every request would turn each read into a write.
APP_SESSION_TOUCH = timedelta(seconds=60)

# The PIN policy: 6 digits by default; a deployment may allow up to 12 (``pin_lengths``).
PIN_MIN_LENGTH = 6
PIN_MAX_LENGTH = 12
PURPOSE_RE = re.compile(r"[a-z][a-z_]{0,39}")
PLATFORM_RE = re.compile(r"[A-Za-z0-9 ._()+-]{1,40}")
MAX_CONTEXT = 200
MAX_TOKEN = 100

END_LOGOUT = "logout"
END_PIN_LOCKED = "pin_locked"
END_LOGOUT_EVERYWHERE = "logout_everywhere"
END_NOT_ME = "not_me"
REVOKED_BY_OWNER = "revoked_by_owner"
ACTIVE = DeviceStatus.ACTIVE.value

# The statements every approval runs, built once, on the tables (no unit of work: plain
# statements cost a third of an ORM flush).
_challenges = table_of(DeviceChallenge).c
_BURN = (
    update(table_of(DeviceChallenge))
    .where(_challenges.nonce == bindparam("b_nonce"), _challenges.used_at.is_(None))
    .values(used_at=bindparam("now"))
    .returning(
        _challenges.id,
        _challenges.device_id,
        _challenges.purpose,
        _challenges.context,
        _challenges.expires_at,
    )
)
_SESSION_WITH_DEVICE = (
    select(AppSession, Device)
    .join(Device, Device.id == AppSession.device_id)
    .where(AppSession.token_hash == bindparam("token_hash"))
)
_DEVICE = select(Device).where(Device.public_id == bindparam("public_id"))
_DEVICE_FRESH = _DEVICE.execution_options(populate_existing=True)
_DEVICE_LOCKED = _DEVICE_FRESH.with_for_update()
_devices = table_of(Device).c
_USED = (
    update(table_of(Device))
    .where(_devices.id == bindparam("b_id"), _devices.status == bindparam("active"))
    .values(last_used_at=bindparam("now"))
)
# Counting a PIN try before checking it: a compare-and-set on the count the try was decided on
# (and on no pause running), so of two tries that read the same count only one moves it; the
# other reads the device again and is decided afresh.
_RESERVE_PIN_TRY = (
    update(table_of(Device))
    .where(
        _devices.id == bindparam("b_id"),
        _devices.status == bindparam("active"),
        _devices.pin_failures == bindparam("b_seen"),
        or_(_devices.pin_blocked_until.is_(None), _devices.pin_blocked_until <= bindparam("now")),
    )
    .values(pin_failures=bindparam("b_counted"), pin_blocked_until=bindparam("b_blocked"))
)
# The right PIN: the count starts again, the device is used (only while it is still active).
_PIN_RIGHT = (
    update(table_of(Device))
    .where(_devices.id == bindparam("b_id"), _devices.status == bindparam("active"))
    .values(pin_failures=0, pin_blocked_until=None, last_used_at=bindparam("now"))
)
_PIN_RIGHT_REHASHED = _PIN_RIGHT.values(pin_hash=bindparam("b_hash"))
# Compare-and-set rounds before a try is refused unchecked (each lost round means another try
# on the same device was counted meanwhile).
RESERVE_ROUNDS = 10


def make_pin_hasher(settings: Settings) -> PasswordHasher:
    """argon2id at the PIN verifier's own cost (``PORTTI_PIN_ARGON2_*``, default t=1, 4 MiB,
    p=1: why so low is in docs/architecture.md, "The PIN and the device keys"). Verifiers made
    at another cost keep working and are re-hashed at this one on the next right PIN."""
    return PasswordHasher(
        time_cost=settings.pin_argon2_time_cost,
        memory_cost=settings.pin_argon2_memory_kib,
        parallelism=settings.pin_argon2_parallelism,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


def is_pin_too_simple(pin: str) -> bool:
    """All one digit, a straight run up or down (wrapping 9→0 too), or a short repeated
    pattern (121212, 123123): the PINs people pick first and attackers try first."""
    digits = [int(c) for c in pin]
    steps = {(b - a) % 10 for a, b in itertools.pairwise(digits)}
    if len(steps) == 1 and steps <= {0, 1, 9}:
        return True
    return any(
        len(pin) % period == 0 and pin == pin[:period] * (len(pin) // period) for period in (2, 3)
    )


def _clean_name(name: str) -> str:
    """A device name for lists and e-mail: no control or format characters, one line."""
    kept = "".join(
        " " if unicodedata.category(ch) in {"Zl", "Zp"} or ch in "\t\r\n" else ch
        for ch in name
        if unicodedata.category(ch) not in {"Cc", "Cf", "Co", "Cs", "Cn"} or ch in "\t\r\n"
    )
    return " ".join(kept.split())


class DeviceService:
    def __init__(
        self,
        db: Session,
        clock: Clock,
        audit: AuditLog,
        outbox: Outbox,
        *,
        secret: bytes,
        pin_hasher: PasswordHasher,
        jinja: Environment,
        base_url: str,
        session_idle: timedelta = timedelta(minutes=15),
        pin_lengths: tuple[int, int] = (PIN_MIN_LENGTH, PIN_MIN_LENGTH),
        limiter: RateLimiter | None = None,
    ) -> None:
        if pin_hasher.type is not Type.ID:
            raise ValueError("PINs are hashed with argon2id")
        low, high = pin_lengths
        if not PIN_MIN_LENGTH <= low <= high <= PIN_MAX_LENGTH:
            raise ValueError("PIN lengths must lie within 6–12 digits")
        self.db = db
        self.clock = clock
        self.audit = audit
        self.outbox = outbox
        self.pin_hasher = pin_hasher
        self.jinja = jinja
        self.base_url = base_url.rstrip("/")
        self.session_idle = session_idle
        self.pin_lengths = pin_lengths
        self.limiter = limiter
        self._pin_pepper = derive_key(secret, "pin-pepper")
        self.not_me_hasher = CodeHasher(secret, "not-me")
        self.session_hasher = CodeHasher(secret, "app-session")

    # -- binding (end of APP-1 / APP-7 activation) ---------------------------------------------

    def check_pin_policy(self, pin: str) -> None:
        """Raises ``PinInvalid``/``PinTooSimple``; the app may call this before "confirm PIN"."""
        low, high = self.pin_lengths
        if not (isinstance(pin, str) and pin.isascii() and pin.isdigit()):
            raise PinInvalid("The PIN must be digits only.")
        if not low <= len(pin) <= high:
            raise PinInvalid(
                f"The PIN must be {low} digits."
                if low == high
                else f"The PIN must be {low}–{high} digits."
            )
        if is_pin_too_simple(pin):
            raise PinTooSimple()

    def _pin_input(self, public_id: str, pin: str) -> bytes:
        # The pepper keeps a stolen database from being a PIN oracle; argon2id on top keeps a
        # stolen database *and* secret from being a cheap one.
        return hmac.new(self._pin_pepper, f"{public_id}|{pin}".encode(), hashlib.sha256).digest()

    def bind(
        self,
        activation: Activation,
        *,
        name: str,
        platform: str,
        key_alg: str,
        public_key: str,
        pin: str,
        biometric_key_alg: str | None = None,
        biometric_public_key: str | None = None,
    ) -> tuple[Device, str]:
        """Binds the app that finished ``activation``; returns the device and the "this wasn't
        me" token (already in the e-mail; returned for tests and the reference client only).
        The caller marks the invitation activated and sets ``activation.completed_at``."""
        if activation.completed_at is not None or activation.ended_at is not None:
            raise ActivationUnknown()
        if self.db.scalar(select(Device.id).where(Device.activation_id == activation.id)):
            raise ActivationUnknown()
        account = self.db.get(Account, activation.account_id) if activation.account_id else None
        if (
            activation.kind == ActivationKind.ACCOUNT
            and account is not None
            and account.requires_invitation
        ):
            raise InvitationRequired()
        errors: dict[str, str] = {}
        clean_name = _clean_name(name or "")
        if not clean_name or len(clean_name) > 100:
            errors["name"] = "Give the device a name of 1–100 characters."
        if not isinstance(platform, str) or not PLATFORM_RE.fullmatch(platform):
            errors["platform"] = "The platform must be 1–40 letters, digits or . _ - ( ) +."
        if (biometric_key_alg is None) != (biometric_public_key is None):
            errors["biometric_public_key"] = "Give both the biometric key and its algorithm."
        if errors:
            raise ValidationFailed(errors)
        self.check_pin_policy(pin)
        stored_key = keys.encode_public_key(keys.load_public_key(key_alg, public_key))
        stored_bio_key = None
        if biometric_key_alg is not None and biometric_public_key is not None:
            bio_key = (
                webauthn_keys.load_credential_key(biometric_public_key)
                if biometric_key_alg == webauthn_keys.WEBAUTHN
                else keys.load_public_key(biometric_key_alg, biometric_public_key)
            )
            stored_bio_key = keys.encode_public_key(bio_key)
            if stored_bio_key == stored_key:
                raise ValidationFailed(
                    {"biometric_public_key": "The biometric key must be a key of its own."}
                )

        now = self.clock.now()
        public_id = "dev_" + secrets.token_urlsafe(16)
        not_me_token = secrets.token_urlsafe(32)
        device = Device(
            public_id=public_id,
            person_id=activation.person_id,
            account_id=activation.account_id,
            activation_id=activation.id,
            name=clean_name,
            platform=platform,
            key_alg=key_alg,
            public_key=stored_key,
            biometric_key_alg=biometric_key_alg if stored_bio_key else None,
            biometric_public_key=stored_bio_key,
            pin_hash=self.pin_hasher.hash(self._pin_input(public_id, pin)),
            pin_failures=0,
            status=DeviceStatus.ACTIVE.value,
            not_me_token_hash=self.not_me_hasher.hash(not_me_token),
            created_at=now,
        )
        self.db.add(device)
        if activation.kind != ActivationKind.ACCOUNT and account is not None:
            # A new invitation (or, for Finnish users, bank ID) is what "Log out from all
            # devices" asked for (APP-8, APP-9).
            account.requires_invitation = False
        self.db.flush()
        recipients = self._send_new_device_email(device, account, not_me_token)
        self.audit.record(
            AuditAction.DEVICE_BOUND,
            actor_person_id=device.person_id,
            subject_person_id=device.person_id,
            device=public_id,
            name=clean_name,
            platform=platform,
            key_alg=key_alg,
            biometrics=stored_bio_key is not None,
            activation=activation.kind,
            notified=recipients,
        )
        return device, not_me_token

    def _send_new_device_email(
        self, device: Device, account: Account | None, not_me_token: str
    ) -> int:
        person = self.db.get(Person, device.person_id)
        addresses: list[str] = []
        for address in (person.email if person else None, account.email if account else None):
            if address and address.lower() not in {a.lower() for a in addresses}:
                addresses.append(address)
        ctx: dict[str, Any] = {
            "person": person,
            "device": device,
            "bound_utc": device.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            "not_me_url": f"{self.base_url}/devices/not-me/{not_me_token}",
        }
        text = self.jinja.get_template("email/new_device.txt").render(ctx)
        html = self.jinja.get_template("email/new_device.html").render(ctx)
        for address in addresses:
            self.outbox.email(
                to=address,
                subject="A new device can now log in as you with Portti",
                text=text,
                html=html,
                kind="new_device",
                person_id=device.person_id,
            )
        return len(addresses)

    # -- approvals ------------------------------------------------------------------------------

    def _device(self, public_id: str, *, lock: bool = False, fresh: bool = False) -> Device | None:
        """``lock``: read afresh under ``FOR UPDATE`` (PostgreSQL; SQLite's first write of the
        transaction has locked the database already). ``fresh``: read afresh, no lock."""
        if not isinstance(public_id, str) or not 0 < len(public_id) <= 40:
            return None
        q = _DEVICE_LOCKED if lock else _DEVICE_FRESH if fresh else _DEVICE
        return self.db.scalars(q, {"public_id": public_id}).one_or_none()

    @staticmethod
    def _require_active(device: Device | None) -> Device:
        if device is None:
            raise DeviceUnknown()
        if device.status == DeviceStatus.LOCKED:
            raise DeviceLocked()
        if device.status != DeviceStatus.ACTIVE:
            raise DeviceUnknown()
        return device

    def _limit_challenges(self, per: str, key: str) -> None:
        if self.limiter is None:
            return
        limit = CHALLENGE_LIMIT_PER_DEVICE if per == "device" else CHALLENGE_LIMIT_PER_NETWORK
        try:
            self.limiter.hit(limit, "challenge-" + per, key)
        except RateLimited as exc:
            raise ChallengesThrottled(retry_after=exc.retry_after, per=per) from exc

    def challenge(
        self,
        device_public_id: str,
        purpose: str,
        context: str | None = None,
        *,
        client: str | None = None,
    ) -> DeviceChallenge:
        """A fresh nonce for the device to sign: 2 minutes, single use, for one purpose and
        context (e.g. ``approve_login`` for one login transaction). ``client``: the asking
        address, for the open endpoint's limit per network (SEC-9)."""
        if client is not None:  # every ask counts, for a known device or not
            self._limit_challenges("network", client_network(client))
        device = self._require_active(self._device(device_public_id))
        self._limit_challenges("device", device.public_id)
        if not isinstance(purpose, str) or not PURPOSE_RE.fullmatch(purpose):
            raise ValidationFailed({"purpose": "Lower-case letters and underscores, at most 40."})
        if context is not None and len(context) > MAX_CONTEXT:
            raise ValidationFailed({"context": f"At most {MAX_CONTEXT} characters."})
        now = self.clock.now()
        # Spent and stale challenges are worth nothing; keep the table small.
        self.db.execute(
            delete(DeviceChallenge).where(
                DeviceChallenge.device_id == device.id,
                (DeviceChallenge.used_at.is_not(None)) | (DeviceChallenge.expires_at <= now),
            )
        )
        # What is left is open. Counted under the device row's lock (taken after the challenge
        # rows, the order ``verify`` uses), so parallel requests cannot overshoot the cap.
        self._device(device.public_id, lock=True)
        open_expiries = list(
            self.db.scalars(
                select(DeviceChallenge.expires_at)
                .where(DeviceChallenge.device_id == device.id)
                .order_by(DeviceChallenge.expires_at)
            )
        )
        if len(open_expiries) >= MAX_OPEN_CHALLENGES:
            retry_after = max(1, math.ceil((open_expiries[0] - now).total_seconds()))
            raise TooManyChallenges(retry_after=retry_after, open_challenges=len(open_expiries))
        ch = DeviceChallenge(
            nonce=secrets.token_urlsafe(32),
            device_id=device.id,
            purpose=purpose,
            context=context,
            created_at=now,
            expires_at=now + CHALLENGE_VALIDITY,
        )
        self.db.add(ch)
        self.db.flush()
        return ch

    def _burn(self, nonce: str, now: datetime) -> Row[Any] | None:
        """Marks the nonce used; only the one caller that found it unused gets what the
        challenge was issued for (``RETURNING``: no second read of the row)."""
        if not isinstance(nonce, str) or not 0 < len(nonce) <= 64:
            return None
        row = self.db.execute(_BURN, {"b_nonce": nonce, "now": now}).one_or_none()
        if row is not None:
            # A challenge object this session already holds sees the write too.
            held = self.db.identity_map.get(identity_key(DeviceChallenge, row.id))
            if held is not None:
                set_committed_value(held, "used_at", now)
        return row

    def _approval_failed(self, device: Device, purpose: str, reason: str, **extra: Any) -> None:
        self.audit.record(
            AuditAction.DEVICE_APPROVAL_FAILED,
            subject_person_id=device.person_id,
            device=device.public_id,
            purpose=purpose,
            reason=reason,
            **extra,
        )

    def verify(
        self,
        device_public_id: str,
        *,
        purpose: str,
        nonce: str,
        signature: str,
        context: str | None = None,
        pin: str | None = None,
        biometric_signature: str | None = None,
        known: Device | None = None,
    ) -> Device:
        """THE check every approval goes through (unlock, web-login approval, step-up): the
        device key's signature over a fresh nonce, and then the PIN or the biometric key.

        ``known``: the device as the caller read it in this transaction (the app session's).
        An approval by biometrics then needs no second read: its keys do not change, and the
        write at the end only lands while the device is still active. A PIN is always checked
        against the row read afresh, and counted by a compare-and-set on it.

        With a PIN this commits (the spent nonce and the counted try, with whatever the caller
        wrote before) before the PIN is checked, and writes the outcome in a new transaction.

        Raises after writing (commit on ``DomainError``!): the nonce is used on any outcome, a
        wrong PIN is counted, the 9th locks the device."""
        now = self.clock.now()
        # The nonce first: it is spent on any outcome, and this first write also takes SQLite's
        # write lock, so the device row read next is current (PostgreSQL locks the row itself;
        # a PIN try needs no row lock: its count moves by compare-and-set).
        # Lock order everywhere: a challenge row, then the device row.
        ch = self._burn(nonce, now)
        if known is not None and pin is None and known.public_id == device_public_id:
            device: Device | None = known
        elif pin is not None:
            device = self._device(device_public_id, fresh=True)
        else:
            device = self._device(device_public_id, lock=True)
        if device is not None and device.status != DeviceStatus.ACTIVE:
            self._approval_failed(device, purpose, "device_" + device.status)
        device = self._require_active(device)
        if (
            ch is None
            or ch.device_id != device.id
            or ch.purpose != purpose
            or (ch.context or None) != (context or None)
            or now >= ch.expires_at
        ):
            self._approval_failed(device, purpose, "nonce_invalid")
            raise NonceInvalid()
        message = keys.signed_message(purpose, nonce, context)
        if not keys.verify_signature(device.key_alg, device.public_key, signature, message):
            self._approval_failed(device, purpose, "signature_invalid")
            raise SignatureInvalid()

        if pin is not None:
            self._check_pin(device, pin, purpose, now)
            return device
        if biometric_signature is not None:
            if device.biometric_public_key is None or device.biometric_key_alg is None:
                self._approval_failed(device, purpose, "biometrics_not_enrolled")
                raise BiometricsNotEnrolled()
            if device.biometric_key_alg == webauthn_keys.WEBAUTHN:
                valid = webauthn_keys.verify_assertion(
                    device.biometric_public_key,
                    biometric_signature,
                    message,
                    base_url=self.base_url,
                )
            else:
                valid = keys.verify_signature(
                    device.biometric_key_alg,
                    device.biometric_public_key,
                    biometric_signature,
                    message,
                )
            if not valid:
                self._approval_failed(device, purpose, "biometric_signature_invalid")
                raise SignatureInvalid()
        else:
            self._approval_failed(device, purpose, "pin_required")
            raise PinRequired()
        # A conditional UPDATE, no unit of work: a device locked or removed since it was read
        # is not used.
        used = self.db.execute(_USED, {"b_id": device.id, "now": now, "active": ACTIVE})
        if cast("CursorResult[Any]", used).rowcount != 1:
            # Locked, logged out or revoked since it was read: answer as a fresh read would.
            current = self._device(device_public_id, lock=True)
            if current is not None and current.status != DeviceStatus.ACTIVE:
                self._approval_failed(current, purpose, "device_" + current.status)
            self._require_active(current)
            raise DeviceUnknown()
        set_committed_value(device, "last_used_at", now)
        return device

    def _check_pin(self, device: Device, pin: str, purpose: str, now: datetime) -> None:
        """Counts the try (committed), checks the PIN outside any transaction, then resets the
        count or keeps it. Raises ``PinBlocked`` (paused: nothing checked, nothing counted),
        ``PinInvalid`` (cannot be a PIN: not counted), ``PinWrong`` or ``DeviceLocked``."""
        self._refuse_if_paused(device, purpose, now)
        if not (
            isinstance(pin, str)
            and pin.isascii()
            and pin.isdigit()
            and PIN_MIN_LENGTH <= len(pin) <= PIN_MAX_LENGTH
        ):
            # It cannot be the PIN, so refusing it without counting tells nothing.
            raise PinInvalid(f"The PIN is {PIN_MIN_LENGTH}–{PIN_MAX_LENGTH} digits.")
        failures = self._count_pin_try(device, purpose, now)
        # The try is counted for good before the PIN is looked at; argon2id then runs with no
        # transaction open, so it holds no lock any other write waits for.
        self.db.commit()
        verifier = device.pin_hash
        pin_input = self._pin_input(device.public_id, pin)
        try:
            self.pin_hasher.verify(verifier, pin_input)
        except (VerificationError, InvalidHashError):
            self._pin_wrong(device, purpose, now, failures)
        self._pin_right(device, verifier, pin_input, purpose, now)

    def _refuse_if_paused(self, device: Device, purpose: str, now: datetime) -> None:
        if device.pin_blocked_until is not None and now < device.pin_blocked_until:
            # No PIN check at all while paused: a try now tells nothing and costs nothing.
            retry_after = max(1, math.ceil((device.pin_blocked_until - now).total_seconds()))
            self._approval_failed(device, purpose, "pin_blocked", retry_after=retry_after)
            raise PinBlocked(
                retry_after=retry_after, tries_left=PIN_SCHEDULE.lock_at - device.pin_failures
            )

    def _count_pin_try(self, device: Device, purpose: str, now: datetime) -> int:
        """Reserves the try: the count goes up by one, and the pause it reaches starts now (so
        parallel tries past the third are refused unchecked, as one after another would be).
        Returns the count including this try."""
        schedule = PIN_SCHEDULE
        for _ in range(RESERVE_ROUNDS):
            if device.pin_failures >= schedule.lock_at:
                # A try counted by a check that never finished (the process ended): it was the
                # last one.
                self._lock(device, device.pin_failures, purpose, now)
            counted = device.pin_failures + 1
            pause = schedule.pause_after(counted)
            blocked = now + pause if pause else None
            moved = self.db.execute(
                _RESERVE_PIN_TRY,
                {
                    "b_id": device.id,
                    "active": ACTIVE,
                    "b_seen": device.pin_failures,
                    "now": now,
                    "b_counted": counted,
                    "b_blocked": blocked,
                },
            )
            if cast("CursorResult[Any]", moved).rowcount == 1:
                set_committed_value(device, "pin_failures", counted)
                set_committed_value(device, "pin_blocked_until", blocked)
                return counted
            # Another try on this device was counted (or it ended) since it was read.
            current = self._device(device.public_id, fresh=True)
            if current is not None and current.status != DeviceStatus.ACTIVE:
                self._approval_failed(current, purpose, "device_" + current.status)
            device = self._require_active(current)
            self._refuse_if_paused(device, purpose, now)
        # Tries on one device racing beyond reason: refuse this one unchecked and uncounted.
        self._approval_failed(device, purpose, "pin_blocked", retry_after=1)
        raise PinBlocked(retry_after=1, tries_left=schedule.lock_at - device.pin_failures)

    def _pin_right(
        self, device: Device, verifier: str, pin_input: bytes, purpose: str, now: datetime
    ) -> None:
        params: dict[str, Any] = {"b_id": device.id, "active": ACTIVE, "now": now}
        statement = _PIN_RIGHT
        if self.pin_hasher.check_needs_rehash(verifier):
            # A verifier made at another cost: re-hashed at this one (before the write).
            params["b_hash"] = self.pin_hasher.hash(pin_input)
            statement = _PIN_RIGHT_REHASHED
        done = self.db.execute(statement, params)
        if cast("CursorResult[Any]", done).rowcount != 1:
            # Locked, logged out or revoked while the PIN was checked.
            current = self._device(device.public_id, lock=True)
            if current is not None and current.status != DeviceStatus.ACTIVE:
                self._approval_failed(current, purpose, "device_" + current.status)
            self._require_active(current)
            raise DeviceUnknown()
        set_committed_value(device, "pin_failures", 0)
        set_committed_value(device, "pin_blocked_until", None)
        set_committed_value(device, "last_used_at", now)
        if "b_hash" in params:
            set_committed_value(device, "pin_hash", params["b_hash"])

    def _pin_wrong(self, device: Device, purpose: str, now: datetime, failures: int) -> None:
        """The try is already counted (``failures`` includes it) and its pause set."""
        schedule = PIN_SCHEDULE
        self.audit.record(
            AuditAction.PIN_FAILED,
            subject_person_id=device.person_id,
            device=device.public_id,
            purpose=purpose,
            failures=failures,
        )
        if failures >= schedule.lock_at:
            self._lock(device, failures, purpose, now)
        pause = schedule.pause_after(failures)
        raise PinWrong(
            tries_left=schedule.lock_at - failures,
            retry_after=int(pause.total_seconds()) if pause else None,
        )

    def _lock(self, device: Device, failures: int, purpose: str, now: datetime) -> None:
        """The last wrong PIN: the device is locked for good (if nothing ended it meanwhile)."""
        current = self._device(device.public_id, lock=True)
        if current is not None and current.status == DeviceStatus.ACTIVE:
            current.pin_blocked_until = None
            self._end(current, DeviceStatus.LOCKED, END_PIN_LOCKED, now)
            self.audit.record(
                AuditAction.DEVICE_LOCKED,
                subject_person_id=current.person_id,
                device=current.public_id,
                failures=failures,
            )
            self.db.flush()
            raise DeviceLocked()
        if current is not None and current.status != DeviceStatus.ACTIVE:
            self._approval_failed(current, purpose, "device_" + current.status)
        self._require_active(current)
        raise DeviceLocked()  # not reached: the device is not active

    # -- the app session (APP-5, APP-6) ---------------------------------------------------------

    def unlock(
        self,
        device_public_id: str,
        *,
        nonce: str,
        signature: str,
        pin: str | None = None,
        biometric_signature: str | None = None,
    ) -> tuple[AppSession, str]:
        device = self.verify(
            device_public_id,
            purpose="unlock",
            nonce=nonce,
            signature=signature,
            pin=pin,
            biometric_signature=biometric_signature,
        )
        now = self.clock.now()
        # One unlocked session per device: an older token stops working.
        self._end_sessions(device.id, now)
        token = secrets.token_urlsafe(32)
        session = AppSession(
            token_hash=self.session_hasher.hash(token),
            device_id=device.id,
            created_at=now,
            expires_at=min(now + self.session_idle, now + APP_SESSION_ABSOLUTE),
        )
        self.db.add(session)
        self.db.flush()
        self.audit.record(
            AuditAction.APP_UNLOCKED,
            actor_person_id=device.person_id,
            subject_person_id=device.person_id,
            device=device.public_id,
            method="pin" if pin is not None else "biometrics",
        )
        return session, token

    def _session_by_token(self, token: str) -> AppSession | None:
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN:
            return None
        return self.db.scalars(
            select(AppSession).where(AppSession.token_hash == self.session_hasher.hash(token))
        ).one_or_none()

    def app_session(self, token: str) -> tuple[AppSession, Device]:
        """The unlocked app's session; ``app_locked`` once it ended, idled 15 minutes, reached
        12 hours, or the device stopped being active. Each use extends the idle time."""
        found = None
        if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN:
            # The session and its device in one statement (was two).
            found = self.db.execute(
                _SESSION_WITH_DEVICE, {"token_hash": self.session_hasher.hash(token)}
            ).one_or_none()
        now = self.clock.now()
        if found is None:
            raise AppLocked()
        session, device = found
        if session.ended_at is not None or now >= session.expires_at:
            raise AppLocked()
        if device.status != DeviceStatus.ACTIVE:
            raise AppLocked()
        slid = min(now + self.session_idle, session.created_at + APP_SESSION_ABSOLUTE)
        if slid - session.expires_at >= APP_SESSION_TOUCH:
            session.expires_at = slid
        return session, device

    def lock(self, token: str) -> None:
        """APP-6: ends this app session only; the device stays bound. Locking twice is fine."""
        session = self._session_by_token(token)
        if session is None or session.ended_at is not None:
            return
        session.ended_at = self.clock.now()
        device = self.db.get(Device, session.device_id)
        if device is not None:
            self.audit.record(
                AuditAction.APP_LOCKED,
                actor_person_id=device.person_id,
                subject_person_id=device.person_id,
                device=device.public_id,
            )
        self.db.flush()

    # -- ending devices (APP-7, APP-8, WEB-5) ---------------------------------------------------

    def _end_sessions(self, device_id: int, now: datetime) -> None:
        self.db.execute(
            update(AppSession)
            .where(AppSession.device_id == device_id, AppSession.ended_at.is_(None))
            .values(ended_at=now)
        )

    def _end(self, device: Device, status: DeviceStatus, reason: str, now: datetime) -> None:
        """The one way out of ``active``: its sessions end. Its open nonces need no touching
        (``verify`` refuses any device that is not active), and deleting them here would take
        challenge locks after the device lock, against the order ``verify`` uses."""
        device.status = status.value
        device.ended_at = now
        device.end_reason = reason
        self._end_sessions(device.id, now)
        # Logins at business applications made by approving with this device end with it.
        end_client_logins(self.db, now, reason="device_" + status.value, device_id=device.id)

    def logout(self, token: str) -> None:
        """APP-7: this device is logged out and its sessions end; the account remains, so the
        app can be activated again with it."""
        _, device = self.app_session(token)
        self._device(device.public_id, lock=True)
        self._end(device, DeviceStatus.LOGGED_OUT, END_LOGOUT, self.clock.now())
        self.audit.record(
            AuditAction.DEVICE_LOGGED_OUT,
            actor_person_id=device.person_id,
            subject_person_id=device.person_id,
            device=device.public_id,
        )
        self.db.flush()

    def logout_everywhere(self, token: str) -> int:
        """APP-8: every device of the person is revoked, every app and web session ends, and
        the account alone can no longer activate the app: a new invitation is needed."""
        _, current = self.app_session(token)
        person_id = current.person_id
        now = self.clock.now()
        active = self.db.scalars(
            select(Device)
            .where(Device.person_id == person_id, Device.status == DeviceStatus.ACTIVE.value)
            .with_for_update()
        ).all()
        for device in active:
            self._end(device, DeviceStatus.REVOKED, END_LOGOUT_EVERYWHERE, now)
        # SessionService.revoke_all uses neither timeout; it audits the web sessions it ends.
        web_sessions = SessionService(
            self.db, self.clock, idle=timedelta(0), absolute=timedelta(0)
        ).revoke_all(person_id, self.audit, actor_id=person_id)
        account = self.db.scalars(
            select(Account).where(Account.person_id == person_id)
        ).one_or_none()
        if account is not None:
            account.requires_invitation = True
        self.audit.record(
            AuditAction.LOGOUT_EVERYWHERE,
            actor_person_id=person_id,
            subject_person_id=person_id,
            device=current.public_id,
            devices=len(active),
            web_sessions=web_sessions,
            requires_invitation=account is not None,
        )
        self.db.flush()
        return len(active)

    def revoke(
        self, person_id: int, device_public_id: str, *, actor_person_id: int, reason: str
    ) -> Device:
        """Removes one of the person's devices (their web settings, or an admin allowed by the
        caller's policy check). Revoking an ended device changes nothing."""
        device = self._device(device_public_id, lock=True)
        if device is None or device.person_id != person_id:
            raise NotFound("No such device.")
        if device.status == DeviceStatus.ACTIVE:
            self._end(device, DeviceStatus.REVOKED, reason[:40], self.clock.now())
            self.audit.record(
                AuditAction.DEVICE_REVOKED,
                actor_person_id=actor_person_id,
                subject_person_id=person_id,
                device=device.public_id,
                reason=reason[:40],
            )
            self.db.flush()
        return device

    def by_not_me_token(self, token: str, *, lock: bool = False) -> Device:
        """The device a "This wasn't me" link speaks of (for the page before the button)."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN:
            raise NotFound("This link is not valid or has already been used.")
        q = select(Device).where(Device.not_me_token_hash == self.not_me_hasher.hash(token))
        if lock:
            q = q.with_for_update().execution_options(populate_existing=True)
        device = self.db.scalars(q).one_or_none()
        if device is None:
            raise NotFound("This link is not valid or has already been used.")
        return device

    def not_me(self, token: str) -> Device:
        """ "This wasn't me": the device is revoked and the link is spent. Someone activated the
        app as this person, so the account alone is no longer trusted to activate it again
        (as after "Log out from all devices"); the person's user administrator re-invites.
        The web sessions the device approved (QR logins, step-ups) end too (SEC-4); the
        person's other sessions stay."""
        device = self.by_not_me_token(token, lock=True)
        now = self.clock.now()
        was = device.status
        device.not_me_token_hash = None
        if device.status == DeviceStatus.ACTIVE:
            self._end(device, DeviceStatus.REVOKED, END_NOT_ME, now)
        else:
            # Already locked or logged out: the record should still say what it really was.
            device.status = DeviceStatus.REVOKED.value
            device.end_reason = END_NOT_ME
        account = self.db.scalars(
            select(Account).where(Account.person_id == device.person_id)
        ).one_or_none()
        if account is not None:
            account.requires_invitation = True
        # SEC-4: what the device let in goes with it: the web sessions it approved or stepped
        # up, and its approvals not yet picked up by a browser.
        web_sessions = SessionService(
            self.db, self.clock, idle=timedelta(0), absolute=timedelta(0)
        ).revoke_approved_by(
            device.id,
            self.audit,
            person_id=device.person_id,
            reason=AuditAction.DEVICE_REPORTED_NOT_ME,
        )
        self.db.execute(
            update(LoginTransaction)
            .where(
                LoginTransaction.device_id == device.id,
                LoginTransaction.status.in_(
                    [
                        LoginTransactionStatus.PENDING.value,
                        LoginTransactionStatus.SCANNED.value,
                        LoginTransactionStatus.APPROVED.value,
                    ]
                ),
            )
            .values(
                status=LoginTransactionStatus.REJECTED.value, ended_at=now, end_reason=END_NOT_ME
            )
            .execution_options(synchronize_session=False)
        )
        # Someone else acted as this person: every login at a business application ends.
        end_client_logins(self.db, now, reason="not_me", person_id=device.person_id)
        self.audit.record(
            AuditAction.DEVICE_REPORTED_NOT_ME,
            subject_person_id=device.person_id,
            device=device.public_id,
            name=device.name,
            status_before=was,
            web_sessions=web_sessions,
        )
        self.db.flush()
        return device

    def devices_for(self, person_id: int) -> list[Device]:
        """The person's devices, newest first; ended ones too (the list shows their state)."""
        return list(
            self.db.scalars(
                select(Device)
                .where(Device.person_id == person_id)
                .order_by(Device.created_at.desc(), Device.id.desc())
            )
        )
