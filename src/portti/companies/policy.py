"""Who may administer whom (ADM-9): KH their own company, TPK their office's client companies,
Support every company, nobody else. Every admin service asks this module first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.companies.catalogue import OFFICE_MAIN_USER, SUPPORT, USER_ADMIN
from portti.companies.models import Company, CompanyKind, Membership, MembershipRole
from portti.errors import Forbidden, NotFound
from portti.infra.clock import Clock


def local_today(company: Company, now: datetime) -> date:
    return now.astimezone(ZoneInfo(company.timezone)).date()


@dataclass(frozen=True)
class AdminGrant:
    """Why a person may administer a company: the role that grants it."""

    company_id: int
    via: str  # USER_ADMIN, OFFICE_MAIN_USER or SUPPORT
    # The admin's own valid roles in this very company (for who may hand out system roles).
    held: frozenset[str] = frozenset()


class AdminPolicy:
    def __init__(self, db: Session, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._checked: dict[tuple[int, int], tuple[Company, AdminGrant]] = {}

    def _valid_admin_memberships(self, person_id: int) -> list[tuple[Membership, set[str]]]:
        rows = self.db.scalars(
            select(Membership)
            .join(MembershipRole, MembershipRole.membership_id == Membership.id)
            .where(
                Membership.person_id == person_id,
                MembershipRole.role_code.in_([USER_ADMIN, OFFICE_MAIN_USER, SUPPORT]),
            )
            .distinct()
        ).all()
        now = self.clock.now()
        return [(m, m.role_codes) for m in rows if m.is_valid_on(local_today(m.company, now))]

    def is_support(self, person_id: int) -> bool:
        return any(
            SUPPORT in roles and m.company.kind == CompanyKind.OPERATOR
            for m, roles in self._valid_admin_memberships(person_id)
        )

    def grant(self, person_id: int, company: Company) -> AdminGrant | None:
        """The strongest reason ``person_id`` may administer ``company``, or None."""
        found: AdminGrant | None = None
        memberships = self._valid_admin_memberships(person_id)
        held = frozenset(
            next((roles for m, roles in memberships if m.company_id == company.id), set())
        )
        for m, roles in memberships:
            if SUPPORT in roles and m.company.kind == CompanyKind.OPERATOR:
                return AdminGrant(company.id, SUPPORT, held)
            if (
                OFFICE_MAIN_USER in roles
                and m.company.kind == CompanyKind.ACCOUNTING_OFFICE
                and company.accounting_office_id == m.company_id
            ):
                found = AdminGrant(company.id, OFFICE_MAIN_USER, held)
            if USER_ADMIN in roles and m.company_id == company.id and found is None:
                found = AdminGrant(company.id, USER_ADMIN, held)
        return found

    def require_admin(self, person_id: int, company_id: int) -> tuple[Company, AdminGrant]:
        # A policy lives for one request: a page that checks in the view and again in the
        # service asks the database once.
        key = (person_id, company_id)
        if key in self._checked:
            return self._checked[key]
        company = self.db.get(Company, company_id)
        if company is None:
            raise NotFound("No such company.")
        grant = self.grant(person_id, company)
        if grant is None:
            raise Forbidden("You are not a user administrator of this company.")
        self._checked[key] = (company, grant)
        return company, grant

    def administrable_companies(self, person_id: int) -> list[Company]:
        """Every company the person may administer, by name."""
        memberships = self._valid_admin_memberships(person_id)
        if any(
            SUPPORT in roles and m.company.kind == CompanyKind.OPERATOR for m, roles in memberships
        ):
            return list(self.db.scalars(select(Company).order_by(Company.name)).all())
        ids = {m.company_id for m, roles in memberships if USER_ADMIN in roles}
        offices = [
            m.company_id
            for m, roles in memberships
            if OFFICE_MAIN_USER in roles and m.company.kind == CompanyKind.ACCOUNTING_OFFICE
        ]
        if offices:
            ids |= set(
                self.db.scalars(
                    select(Company.id).where(Company.accounting_office_id.in_(offices))
                ).all()
            )
        if not ids:
            return []
        return list(
            self.db.scalars(select(Company).where(Company.id.in_(ids)).order_by(Company.name))
        )

    def grantable_roles(self, grant: AdminGrant, company: Company) -> set[str]:
        """System roles are handed out only where they mean something, by those who hold them."""
        from portti.companies.catalogue import ROLES

        codes = {code for code, *_ in ROLES if code not in {USER_ADMIN, OFFICE_MAIN_USER, SUPPORT}}
        codes.add(USER_ADMIN)
        # A main user over all of an office's clients is made only by Support or by an
        # existing main user of that office, never by its user administrator alone.
        if company.kind == CompanyKind.ACCOUNTING_OFFICE and (
            grant.via == SUPPORT or OFFICE_MAIN_USER in grant.held
        ):
            codes.add(OFFICE_MAIN_USER)
        if company.kind == CompanyKind.OPERATOR and grant.via == SUPPORT:
            codes.add(SUPPORT)
        return codes
