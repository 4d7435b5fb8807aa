"""Devices bound to a person, the companies they carry, their challenges and app sessions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portti.db.base import Model, UtcDateTime


class ActivationKind(StrEnum):
    INVITATION = "invitation"  # sign-up code + SMS code
    ACCOUNT = "account"  # "two-factor already done": e-mail, password, TOTP
    BANK_ID = "bank_id"  # Finnish users (APP-9)


class DeviceStatus(StrEnum):
    ACTIVE = "active"
    LOGGED_OUT = "logged_out"  # APP-7: this device only
    REVOKED = "revoked"  # by the person (web settings, "this wasn't me") or an admin
    LOCKED = "locked"  # too many wrong PINs: re-activation needed


class Device(Model):
    """One app installation bound to a person. The server keeps public keys only."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)  # what the app sends
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    activation_id: Mapped[int | None] = mapped_column(
        ForeignKey("activations.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(100))
    # How the device was activated (an ``ActivationKind``): one activated by bank ID (APP-9)
    # lets its person into every company their rights reach; any other only into the companies
    # of ``DeviceCompany`` (SEC-14).
    activated_by: Mapped[str] = mapped_column(
        String(20), default=ActivationKind.INVITATION.value, server_default="invitation"
    )
    platform: Mapped[str] = mapped_column(String(40), default="unknown")
    key_alg: Mapped[str] = mapped_column(String(10))  # "Ed25519" or "ES256"
    public_key: Mapped[str] = mapped_column(String(300))  # base64url SubjectPublicKeyInfo DER
    # A second key the platform releases only after a biometric check (APP-5).
    biometric_key_alg: Mapped[str | None] = mapped_column(String(10))
    biometric_public_key: Mapped[str | None] = mapped_column(String(300))
    # argon2id over HMAC(pepper, device public id | PIN): the pepper never leaves the server.
    pin_hash: Mapped[str] = mapped_column(String(200))
    pin_failures: Mapped[int] = mapped_column(default=0)
    pin_blocked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(20), default=DeviceStatus.ACTIVE)
    # A token for the "this wasn't me" link in the new-device e-mail (keyed hash).
    not_me_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(40))


class DeviceCompany(Model):
    """A company a device lets its person into (SEC-14): the company whose invitation activated
    it, and those the same account's earlier devices carried. A company that links the person
    later is not here until its own invitation activates a device."""

    __tablename__ = "device_companies"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # The invitation that brought the company to the device or to the earlier device of the
    # same account it was carried from (None: that earlier one had no invitation on record).
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="SET NULL")
    )
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DeviceChallenge(Model):
    """A fresh server nonce the device signs: single use, short-lived, bound to one purpose."""

    __tablename__ = "device_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(40))  # "unlock", "approve_login", "step_up"
    context: Mapped[str | None] = mapped_column(String(200))  # e.g. the login transaction id
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AppSession(Model):
    """An unlocked app: created by PIN or biometrics, ended by Lock (APP-6)."""

    __tablename__ = "app_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
