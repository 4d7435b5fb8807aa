"""What SCIM adds to a membership: the identity provider's names for it.

A SCIM ``User`` is a membership (the person in this company), never a person: the same person
in two companies is two SCIM users, each with its own ``userName`` and ``externalId`` given by
that company's identity provider. Members added by hand have no row here until SCIM names them.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portti.db.base import Model


class ScimUser(Model):
    __tablename__ = "scim_users"
    # userName is unique within the company whatever its case (RFC 7643 §4.1.1: caseExact
    # false, uniqueness server): the folded form carries the constraint and serves the filter.
    __table_args__ = (UniqueConstraint("company_id", "user_name_key"),)

    membership_id: Mapped[int] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), primary_key=True
    )
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    user_name: Mapped[str] = mapped_column(String(300))
    user_name_key: Mapped[str] = mapped_column(String(300))
    external_id: Mapped[str | None] = mapped_column(String(300))
    # The identity provider's display name; without one, the person's full name is shown.
    display_name: Mapped[str | None] = mapped_column(String(300))


# `externalId eq` at 100,000 members: one index search (the identity provider asks it before
# every create).
Index("ix_scim_users_company_external", ScimUser.company_id, ScimUser.external_id)
