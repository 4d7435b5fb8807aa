"""Reads about companies that other floors ask for."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.companies.models import Company, Membership


def company_language(db: Session, company_id: int) -> str | None:
    """The company's default language, if it has set one."""
    return db.scalar(select(Company.default_language).where(Company.id == company_id))


def first_company_language(db: Session, person_id: int) -> str | None:
    """The default language of the company the person joined first, if any."""
    return db.scalar(
        select(Company.default_language)
        .join(Membership, Membership.company_id == Company.id)
        .where(Membership.person_id == person_id)
        .order_by(Membership.id)
        .limit(1)
    )
