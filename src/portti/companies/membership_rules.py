"""What a membership may hold, checked alike when a user is added and when one is changed: the
roles the admin may give (``AdminPolicy.grantable_roles``), the profiles the company offers,
and a validity period whose end is not before its start."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portti.companies.models import Company, Profile
from portti.companies.policy import AdminGrant, AdminPolicy
from portti.companies.schemas import Validity
from portti.i18n import _l


def company_profiles(db: Session, company: Company) -> list[Profile]:
    """The profiles the company's users may be given: the shared ones and its own."""
    return list(
        db.scalars(
            select(Profile)
            .where(or_(Profile.company_id.is_(None), Profile.company_id == company.id))
            .order_by(Profile.name)
        )
    )


def check_roles(
    policy: AdminPolicy,
    grant: AdminGrant,
    company: Company,
    roles: list[str],
    profiles: list[int],
    errors: dict[str, str],
    *,
    grantable: frozenset[str] | set[str] | None = None,
) -> None:
    allowed = policy.grantable_roles(grant, company) if grantable is None else grantable
    unknown = sorted(set(roles) - allowed)
    if unknown:
        errors["roles"] = _l(
            "These roles cannot be given here: %(roles)s.", roles=", ".join(unknown)
        )
    if profiles and set(profiles) - {p.id for p in company_profiles(policy.db, company)}:
        errors["profiles"] = _l("Choose profiles from the list.")


def check_validity(
    validity: Validity,
    valid_from: date | None,
    valid_until: date | None,
    errors: dict[str, str],
) -> tuple[date | None, date | None]:
    if validity is Validity.UNTIL_FURTHER_NOTICE:
        return None, None
    if valid_from is None and valid_until is None:
        errors["valid_until"] = _l(
            "Give the validity period, or choose “Valid until further notice”."
        )
    elif valid_from and valid_until and valid_until < valid_from:
        errors["valid_until"] = _l("The end date is before the start date.")
    return valid_from, valid_until
