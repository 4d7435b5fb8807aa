"""App activations in progress: one app installation on its way to a bound device. How it
started is an ``ActivationKind`` (``devices.models``): the device keeps it as ``activated_by``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portti.db.base import Model, UtcDateTime


class Activation(Model):
    """One app installation on its way to a bound device. The app holds a bearer token."""

    __tablename__ = "activations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    email_to_verify: Mapped[str | None] = mapped_column(String(254))
    email_code_hash: Mapped[str | None] = mapped_column(String(64))
    email_code_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    email_code_failures: Mapped[int] = mapped_column(default=0)
    email_verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    terms_version: Mapped[str | None] = mapped_column(String(20))
    # Bank-ID activations (APP-9) finish in a browser; the app picks the result up with a
    # one-time handoff code and the verifier of this S256 challenge (as in PKCE).
    handoff_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    handoff_challenge: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
