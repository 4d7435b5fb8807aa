"""The PIN (APP-4, APP-5, SEC-2): its policy, its verifier, and how tries are counted.

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
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CursorResult
from sqlalchemy.orm.attributes import set_committed_value

from portti.audit.models import AuditAction
from portti.config import Settings
from portti.devices.errors import DeviceLocked, PinBlocked, PinInvalid, PinTooSimple, PinWrong
from portti.devices.lifecycle import (
    ACTIVE,
    END_PIN_LOCKED,
    PIN_MAX_LENGTH,
    PIN_MIN_LENGTH,
    DeviceLifecycle,
)
from portti.devices.models import Device, DeviceStatus
from portti.devices.queries import PIN_RIGHT, PIN_RIGHT_REHASHED, RESERVE_PIN_TRY
from portti.i18n import _l
from portti.infra.crypto import derive_key


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


class PinTries:
    """The PIN policy, the verifier, and counting tries before they are checked."""

    def __init__(
        self,
        lifecycle: DeviceLifecycle,
        *,
        secret: bytes,
        pin_hasher: PasswordHasher,
        pin_lengths: tuple[int, int] = (PIN_MIN_LENGTH, PIN_MIN_LENGTH),
    ) -> None:
        if pin_hasher.type is not Type.ID:
            raise ValueError("PINs are hashed with argon2id")
        low, high = pin_lengths
        if not PIN_MIN_LENGTH <= low <= high <= PIN_MAX_LENGTH:
            raise ValueError("PIN lengths must lie within 6–12 digits")
        self.lifecycle = lifecycle
        self.db = lifecycle.db
        self.audit = lifecycle.audit
        self.pin_hasher = pin_hasher
        self.pin_lengths = pin_lengths
        self._pin_pepper = derive_key(secret, "pin-pepper")

    def check_pin_policy(self, pin: str) -> None:
        """Raises ``PinInvalid``/``PinTooSimple``; the app may call this before "confirm PIN"."""
        low, high = self.pin_lengths
        if not (isinstance(pin, str) and pin.isascii() and pin.isdigit()):
            raise PinInvalid(_l("The PIN must be digits only."))
        if not low <= len(pin) <= high:
            raise PinInvalid(
                _l("The PIN must be %(low)s digits.", low=low)
                if low == high
                else _l("The PIN must be %(low)s–%(high)s digits.", low=low, high=high)
            )
        if is_pin_too_simple(pin):
            raise PinTooSimple()

    def pin_input(self, public_id: str, pin: str) -> bytes:
        # The pepper keeps a stolen database from being a PIN oracle; argon2id on top keeps a
        # stolen database *and* secret from being a cheap one.
        return hmac.new(self._pin_pepper, f"{public_id}|{pin}".encode(), hashlib.sha256).digest()

    def check_pin(self, device: Device, pin: str, purpose: str, now: datetime) -> None:
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
            raise PinInvalid(
                _l("The PIN is %(low)s–%(high)s digits.", low=PIN_MIN_LENGTH, high=PIN_MAX_LENGTH)
            )
        failures = self._count_pin_try(device, purpose, now)
        # The try is counted for good before the PIN is looked at; argon2id then runs with no
        # transaction open, so it holds no lock any other write waits for.
        self.db.commit()
        verifier = device.pin_hash
        pin_input = self.pin_input(device.public_id, pin)
        try:
            self.pin_hasher.verify(verifier, pin_input)
        except (VerificationError, InvalidHashError):
            self._pin_wrong(device, purpose, now, failures)
        self._pin_right(device, verifier, pin_input, purpose, now)

    def _refuse_if_paused(self, device: Device, purpose: str, now: datetime) -> None:
        if device.pin_blocked_until is not None and now < device.pin_blocked_until:
            # No PIN check at all while paused: a try now tells nothing and costs nothing.
            retry_after = max(1, math.ceil((device.pin_blocked_until - now).total_seconds()))
            self.lifecycle.approval_failed(device, purpose, "pin_blocked", retry_after=retry_after)
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
                RESERVE_PIN_TRY,
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
            device = self.lifecycle.active_for(
                self.lifecycle.device(device.public_id, fresh=True), purpose
            )
            self._refuse_if_paused(device, purpose, now)
        # Tries on one device racing beyond reason: refuse this one unchecked and uncounted.
        self.lifecycle.approval_failed(device, purpose, "pin_blocked", retry_after=1)
        raise PinBlocked(retry_after=1, tries_left=schedule.lock_at - device.pin_failures)

    def _pin_right(
        self, device: Device, verifier: str, pin_input: bytes, purpose: str, now: datetime
    ) -> None:
        params: dict[str, Any] = {"b_id": device.id, "active": ACTIVE, "now": now}
        statement = PIN_RIGHT
        if self.pin_hasher.check_needs_rehash(verifier):
            # A verifier made at another cost: re-hashed at this one (before the write).
            params["b_hash"] = self.pin_hasher.hash(pin_input)
            statement = PIN_RIGHT_REHASHED
        done = self.db.execute(statement, params)
        if cast("CursorResult[Any]", done).rowcount != 1:
            # Locked, logged out or revoked while the PIN was checked.
            self.lifecycle.refuse_ended_meanwhile(device.public_id, purpose)
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
        current = self.lifecycle.device(device.public_id, lock=True)
        if current is not None and current.status == DeviceStatus.ACTIVE:
            current.pin_blocked_until = None
            self.lifecycle.end(current, DeviceStatus.LOCKED, END_PIN_LOCKED, now)
            self.audit.record(
                AuditAction.DEVICE_LOCKED,
                subject_person_id=current.person_id,
                device=current.public_id,
                failures=failures,
            )
            self.db.flush()
            raise DeviceLocked()
        self.lifecycle.active_for(current, purpose)
        raise DeviceLocked()  # not reached: the device is not active
