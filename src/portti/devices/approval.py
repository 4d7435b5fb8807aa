"""THE check every approval goes through (APP-5, WEB-2, ADM-2): the device key's signature over
a fresh nonce, and then the PIN (``pins``) or the biometric key (``keys``, ``webauthn_keys``)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult
from sqlalchemy.orm.attributes import set_committed_value

from portti.devices import keys, webauthn_keys
from portti.devices.challenges import DeviceChallenges
from portti.devices.errors import BiometricsNotEnrolled, NonceInvalid, PinRequired, SignatureInvalid
from portti.devices.lifecycle import ACTIVE, DeviceLifecycle
from portti.devices.models import Device
from portti.devices.pins import PinTries
from portti.devices.queries import DEVICE_USED


class DeviceApprovals:
    """The one check every approval goes through: a challenge burnt, then a PIN or biometrics."""

    def __init__(
        self,
        lifecycle: DeviceLifecycle,
        challenges: DeviceChallenges,
        pins: PinTries,
        *,
        base_url: str,
    ) -> None:
        self.lifecycle = lifecycle
        self.challenges = challenges
        self.pins = pins
        self.db = lifecycle.db
        self.clock = lifecycle.clock
        self.base_url = base_url.rstrip("/")

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
        ch = self.challenges.burn(nonce, now)
        if known is not None and pin is None and known.public_id == device_public_id:
            read: Device | None = known
        elif pin is not None:
            read = self.lifecycle.device(device_public_id, fresh=True)
        else:
            read = self.lifecycle.device(device_public_id, lock=True)
        device = self.lifecycle.active_for(read, purpose)
        if (
            ch is None
            or ch.device_id != device.id
            or ch.purpose != purpose
            or (ch.context or None) != (context or None)
            or now >= ch.expires_at
        ):
            self.lifecycle.approval_failed(device, purpose, "nonce_invalid")
            raise NonceInvalid()
        message = keys.signed_message(purpose, nonce, context)
        if not keys.verify_signature(device.key_alg, device.public_key, signature, message):
            self.lifecycle.approval_failed(device, purpose, "signature_invalid")
            raise SignatureInvalid()

        if pin is not None:
            self.pins.check_pin(device, pin, purpose, now)
            return device
        if biometric_signature is None:
            self.lifecycle.approval_failed(device, purpose, "pin_required")
            raise PinRequired()
        if not self._biometrics_valid(device, biometric_signature, message, purpose):
            self.lifecycle.approval_failed(device, purpose, "biometric_signature_invalid")
            raise SignatureInvalid()
        # A conditional UPDATE, no unit of work: a device locked or removed since it was read
        # is not used.
        used = self.db.execute(DEVICE_USED, {"b_id": device.id, "now": now, "active": ACTIVE})
        if cast("CursorResult[Any]", used).rowcount != 1:
            self.lifecycle.refuse_ended_meanwhile(device_public_id, purpose)
        set_committed_value(device, "last_used_at", now)
        return device

    def _biometrics_valid(
        self, device: Device, biometric_signature: str, message: bytes, purpose: str
    ) -> bool:
        if device.biometric_public_key is None or device.biometric_key_alg is None:
            self.lifecycle.approval_failed(device, purpose, "biometrics_not_enrolled")
            raise BiometricsNotEnrolled()
        if device.biometric_key_alg == webauthn_keys.WEBAUTHN:
            return webauthn_keys.verify_assertion(
                device.biometric_public_key,
                biometric_signature,
                message,
                base_url=self.base_url,
            )
        return keys.verify_signature(
            device.biometric_key_alg,
            device.biometric_public_key,
            biometric_signature,
            message,
        )
