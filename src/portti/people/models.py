"""Persons (global across companies), their identifiers and contact details."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portti.db.base import Model, UtcDateTime


class Person(Model):
    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    portti_id: Mapped[str] = mapped_column(String(12), unique=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    # Bumped whenever e-mail or phone changes: the re-invite rule compares against it.
    contact_version: Mapped[int] = mapped_column(default=1)
    # The language the person chose for pages, e-mail and SMS (fi, sv, en); None: the browser's.
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    identifiers: Mapped[list[PersonIdentifier]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="PersonIdentifier.id"
    )

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


class PersonIdentifier(Model):
    """A national identity number or another identifying code, with the issuing country."""

    __tablename__ = "person_identifiers"
    __table_args__ = (UniqueConstraint("kind", "country", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    value: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    person: Mapped[Person] = relationship(back_populates="identifiers")


Index("ix_persons_email", Person.email)
# SCIM's `emails.value eq` ignores case (RFC 7643 §4.1.2: caseExact false): one index search.
# SQLite cannot reflect an expression index: a later migration that rebuilds `persons` in batch
# mode on SQLite must create it again (and `alembic check` there skips it with a warning).
Index("ix_persons_email_lower", func.lower(Person.email))
