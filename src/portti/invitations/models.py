"""Invitations and their confirmation codes. Codes are stored only as keyed hashes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portti.companies.models import Company
from portti.db.base import Model, UtcDateTime
from portti.people.models import Person


class InvitationStatus(StrEnum):
    SENT = "sent"
    CODE_ENTERED = "code_entered"
    PHONE_CONFIRMED = "phone_confirmed"
    ACTIVATED = "activated"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"  # never stored: derived from expires_at


LIVE_STATUSES = frozenset(
    {InvitationStatus.SENT, InvitationStatus.CODE_ENTERED, InvitationStatus.PHONE_CONFIRMED}
)


class Invitation(Model):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    # The administrator who invited, or (PRV-2) the business software that named the company's
    # first user administrator: then inviter_person_id is None and the client is named.
    inviter_person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    inviter_client_id: Mapped[str | None] = mapped_column(String(64))
    inviter_client_name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=InvitationStatus.SENT)
    # HMAC of the 16-digit sign-up code: looked up by equality, never stored in clear.
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(20))
    # The language of the invitation e-mail and its SMS codes, chosen by the admin (English
    # unless they choose otherwise, as invitations have always gone out).
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    contact_version: Mapped[int]
    identity_verified_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    code_entered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    phone_confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # cancelled or superseded
    ended_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    sms_resends: Mapped[int] = mapped_column(default=0)

    person: Mapped[Person] = relationship(foreign_keys=[person_id])
    inviter: Mapped[Person | None] = relationship(foreign_keys=[inviter_person_id], lazy="joined")
    company: Mapped[Company] = relationship(lazy="joined")
    codes: Mapped[list[ConfirmationCode]] = relationship(
        back_populates="invitation", order_by="ConfirmationCode.id", cascade="all, delete-orphan"
    )

    @property
    def by_software(self) -> bool:
        """Sent on behalf of business software (a machine client), not by a person: the
        invitation then speaks of the company inviting."""
        return self.inviter_person_id is None and self.inviter_client_id is not None

    @property
    def inviter_name(self) -> str:
        if self.inviter is not None:
            return self.inviter.full_name
        return self.inviter_client_name or ""

    def effective_status(self, now: datetime) -> InvitationStatus:
        status = InvitationStatus(self.status)
        if status in LIVE_STATUSES and now >= self.expires_at:
            return InvitationStatus.EXPIRED
        return status


class CodeSource(StrEnum):
    SMS = "sms"
    ADMIN = "admin"


class ConfirmationCode(Model):
    """A 6-digit code that confirms the invitee's phone: sent by SMS or issued by an admin."""

    __tablename__ = "confirmation_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(10))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    failed_attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    issued_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))

    invitation: Mapped[Invitation] = relationship(back_populates="codes")

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and self.revoked_at is None and now < self.expires_at


Index("ix_invitations_person_company", Invitation.person_id, Invitation.company_id, Invitation.id)
