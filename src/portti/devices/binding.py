"""Binding an app installation (end of APP-1 / APP-4 / APP-7 activation): its keys, its name,
its PIN verifier, and the e-mail that tells the person a new device can log in as them."""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime
from typing import Protocol

from sqlalchemy import select

from portti.accounts.models import Account
from portti.audit.models import AuditAction
from portti.devices import keys, webauthn_keys
from portti.devices.errors import InvitationRequired
from portti.devices.lifecycle import END_REPLACED, DeviceLifecycle
from portti.devices.models import ActivationKind, Device, DeviceCompany, DeviceStatus
from portti.devices.notices import DeviceNotices
from portti.devices.pins import PinTries
from portti.errors import ValidationFailed
from portti.i18n import _l
from portti.infra.crypto import CodeHasher
from portti.invitations.errors import ActivationUnknown
from portti.invitations.models import Invitation
from portti.people.models import Person

PLATFORM_RE = re.compile(r"[A-Za-z0-9 ._()+-]{1,40}")


class Activated(Protocol):
    """The activation a device is bound at the end of (``portti.activation``), as binding reads
    it."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def person_id(self) -> int: ...
    @property
    def account_id(self) -> int | None: ...
    @property
    def invitation_id(self) -> int | None: ...
    @property
    def completed_at(self) -> datetime | None: ...
    @property
    def ended_at(self) -> datetime | None: ...


def _clean_name(name: str) -> str:
    """A device name for lists and e-mail: no control or format characters, one line."""
    kept = "".join(
        " " if unicodedata.category(ch) in {"Zl", "Zp"} or ch in "\t\r\n" else ch
        for ch in name
        if unicodedata.category(ch) not in {"Cc", "Cf", "Co", "Cs", "Cn"} or ch in "\t\r\n"
    )
    return " ".join(kept.split())


class DeviceBinding:
    """A finished activation's app bound as a device, and the new-device e-mail."""

    def __init__(
        self, lifecycle: DeviceLifecycle, pins: PinTries, notices: DeviceNotices, *, secret: bytes
    ) -> None:
        self.lifecycle = lifecycle
        self.pins = pins
        self.notices = notices
        self.db = lifecycle.db
        self.clock = lifecycle.clock
        self.audit = lifecycle.audit
        self.not_me_hasher = CodeHasher(secret, "not-me")

    def bind(
        self,
        activation: Activated,
        *,
        name: str,
        platform: str,
        key_alg: str,
        public_key: str,
        pin: str,
        biometric_key_alg: str | None = None,
        biometric_public_key: str | None = None,
        replaces_device: str | None = None,
    ) -> tuple[Device, str]:
        """Binds the app that finished ``activation``; returns the device and the "this wasn't
        me" token (already in the e-mail; returned for tests and the reference client only).
        Completing the activation is the caller's (``portti.activation.steps``)."""
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
            errors["name"] = _l("Give the device a name of 1–100 characters.")
        if not isinstance(platform, str) or not PLATFORM_RE.fullmatch(platform):
            errors["platform"] = _l("The platform must be 1–40 letters, digits or . _ - ( ) +.")
        if (biometric_key_alg is None) != (biometric_public_key is None):
            errors["biometric_public_key"] = _l("Give both the biometric key and its algorithm.")
        if errors:
            raise ValidationFailed(errors)
        self.pins.check_pin_policy(pin)
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
                    {"biometric_public_key": _l("The biometric key must be a key of its own.")}
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
            activated_by=activation.kind,
            key_alg=key_alg,
            public_key=stored_key,
            biometric_key_alg=biometric_key_alg if stored_bio_key else None,
            biometric_public_key=stored_bio_key,
            pin_hash=self.pins.pin_hasher.hash(self.pins.pin_input(public_id, pin)),
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
        carried = self._carry_companies(device, activation)
        replaced = self._replace(replaces_device, device) if replaces_device else None
        person = self.db.get(Person, device.person_id)
        recipients = self.notices.device_bound(
            device, person, account, not_me_token, replaced=replaced
        )
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
            companies=carried,
            notified=recipients,
        )
        return device, not_me_token

    def _replace(self, old_public_id: str, device: Device) -> Device | None:
        """The app was activated again on the same phone (its PIN forgotten, or locked after
        wrong PINs): the device it had before ends, so that only the new one approves. Only
        the same person's device is ended; any other id is left alone and tells nothing."""
        old = self.lifecycle.device(old_public_id, lock=True)
        if old is None or old.person_id != device.person_id or old.id == device.id:
            return None
        if old.status == DeviceStatus.REVOKED:
            return None
        was = old.status
        if old.status == DeviceStatus.ACTIVE:
            self.lifecycle.end(old, DeviceStatus.REVOKED, END_REPLACED, device.created_at)
        else:
            # Already locked or logged out: the record says it was replaced.
            old.status = DeviceStatus.REVOKED.value
            old.end_reason = END_REPLACED
        old.not_me_token_hash = None
        self.audit.record(
            AuditAction.DEVICE_REPLACED,
            actor_person_id=device.person_id,
            subject_person_id=device.person_id,
            device=old.public_id,
            name=old.name,
            status_before=was,
            replaced_by=device.name,
            reason=END_REPLACED,
        )
        return old

    def _carry_companies(self, device: Device, activation: Activated) -> list[int] | None:
        """The companies the new device lets its person into (SEC-14): the company whose
        invitation activated it, and what the same account's earlier devices (not revoked)
        carried — an account is vouched for by the invitations it was activated with. A bank-ID
        activation proved the person's identity: every company (None)."""
        if activation.kind == ActivationKind.BANK_ID:
            return None
        companies: dict[int, int | None] = {}
        if device.account_id is not None:
            # The invitation comes along with the company: a device that replaces one (a
            # forgotten PIN) still says who invited the person, as the first one did.
            for company_id, invitation_id in self.db.execute(
                select(DeviceCompany.company_id, DeviceCompany.invitation_id)
                .join(Device, Device.id == DeviceCompany.device_id)
                .where(
                    Device.account_id == device.account_id,
                    Device.id != device.id,
                    Device.status != DeviceStatus.REVOKED.value,
                )
                .distinct()
            ):
                if companies.get(company_id) is None:
                    companies[company_id] = invitation_id
        if activation.invitation_id is not None:
            invitation = self.db.get(Invitation, activation.invitation_id)
            if invitation is not None:
                companies[invitation.company_id] = invitation.id
        for company_id, invitation_id in sorted(companies.items()):
            self.db.add(
                DeviceCompany(
                    device_id=device.id,
                    company_id=company_id,
                    invitation_id=invitation_id,
                    added_at=device.created_at,
                )
            )
        self.db.flush()
        return sorted(companies)
