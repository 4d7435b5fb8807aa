"""Who may do what: the single place for it.

Who may administer which company (ADM-9): KH their own company, TPK their office's client
companies, Support every company, nobody else. Every admin service asks this module first.

Within a company the grant hierarchy decides (SEC-1, SEC-7):

* a membership is the company's: its admins may change or remove it, unless the member holds a
  role the admin could not give (a TPK, Support) — then only someone who could give it may;
* a person is everyone's: their personal details, their invitations (and so their app login)
  and their sessions reach every company they belong to or administer. An admin may change
  them only when that whole reach lies within what the admin administers; otherwise only
  Support may. A person whose rights have ended everywhere has no reach, so only Support may.

Changing users and applications needs a strong authentication made within the step-up window
(ADM-2, SEC-6: ``Settings.step_up_window``): ``is_stepped_up`` is the one rule; services check
it, pages show how long it lasts (``step_up_expires_at``).

A login reaches no further than what it was made with (SEC-14): a login approved in the app
carries only the companies the device was activated for (``limit_to_login``); every rule here
that asks what the *logged-in* person may administer sees only those memberships.

The company menu is built here too, so that it offers only what the person may open (SEC-12).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.companies.catalogue import OFFICE_MAIN_USER, ROLES, SUPPORT, USER_ADMIN
from portti.companies.models import Company, CompanyKind, Membership, MembershipRole
from portti.errors import Forbidden, NotFound
from portti.i18n import _l
from portti.infra.clock import Clock


def local_today(company: Company, now: datetime) -> date:
    return now.astimezone(ZoneInfo(company.timezone)).date()


def step_up_expires_at(strong_auth_at: datetime | None, window: timedelta) -> datetime | None:
    return strong_auth_at + window if strong_auth_at is not None else None


def is_stepped_up(strong_auth_at: datetime | None, now: datetime, window: timedelta) -> bool:
    """Fresh up to and including the window's last instant."""
    return strong_auth_at is not None and now - strong_auth_at <= window


# Where the request's session keeps the scope of the login it acts for (SEC-14).
LOGIN_SCOPE_KEY = "portti.login_scope"


@dataclass(frozen=True)
class LoginScope:
    """The companies the request's login may enter: a login approved in the app carries only
    the companies its device was activated for."""

    person_id: int
    companies: frozenset[int]


def limit_to_login(db: Session, person_id: int, companies: Iterable[int] | None) -> None:
    """The request acts for ``person_id``'s login, which may enter only ``companies`` (None:
    every company their rights reach). Kept on the request's database session, so that every
    service and policy built on it sees the same limit (SEC-14)."""
    if companies is None:
        db.info.pop(LOGIN_SCOPE_KEY, None)
    else:
        db.info[LOGIN_SCOPE_KEY] = LoginScope(person_id, frozenset(companies))


def login_scope(db: Session, person_id: int) -> frozenset[int] | None:
    """The companies ``person_id``'s login in this request may enter, or None (no limit)."""
    scope = db.info.get(LOGIN_SCOPE_KEY)
    if isinstance(scope, LoginScope) and scope.person_id == person_id:
        return scope.companies
    return None


@dataclass(frozen=True)
class MenuLink:
    href: str
    label: str


def company_menu(company: Company, grant: AdminGrant | None) -> list[MenuLink]:
    """The company menu: administration links only for those the policy let in (SEC-12).

    ``grant`` is what ``AdminPolicy.grant`` or ``require_admin`` found for the viewer; a page
    that did not ask passes None and the menu offers what every member may open."""
    links = []
    if grant is not None and grant.company_id == company.id:
        links += [
            MenuLink(f"/c/{company.id}/users", _l("Users and roles")),
            MenuLink(f"/c/{company.id}/audit", _l("Audit log")),
            MenuLink(f"/c/{company.id}/messages", _l("Undeliverable messages")),
        ]
    links.append(MenuLink("/companies", _l("Change company")))
    return links


@dataclass(frozen=True)
class PersonReach:
    """Every company a person's rights reach now or later: where they are a member (valid now
    or starting later) and what those memberships let them administer."""

    everything: bool  # Support, now or later
    companies: frozenset[int]


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
        # An app login administers only through the companies its device carries (SEC-14).
        scope = login_scope(self.db, person_id)
        return [
            (m, m.role_codes)
            for m in rows
            if m.is_valid_on(local_today(m.company, now))
            and (scope is None or m.company_id in scope)
        ]

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
            raise NotFound(_l("No such company."))
        grant = self.grant(person_id, company)
        if grant is None:
            raise Forbidden(_l("You are not a user administrator of this company."))
        self._checked[key] = (company, grant)
        return company, grant

    def _reach(self, memberships: list[tuple[Membership, set[str]]]) -> PersonReach:
        """The companies these memberships let their holder administer."""
        if any(
            SUPPORT in roles and m.company.kind == CompanyKind.OPERATOR for m, roles in memberships
        ):
            return PersonReach(True, frozenset())
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
        return PersonReach(False, frozenset(ids))

    def administrable_companies(self, person_id: int) -> list[Company]:
        """Every company the person may administer, by name."""
        reach = self._reach(self._valid_admin_memberships(person_id))
        if reach.everything:
            return list(self.db.scalars(select(Company).order_by(Company.name)).all())
        if not reach.companies:
            return []
        return list(
            self.db.scalars(
                select(Company).where(Company.id.in_(reach.companies)).order_by(Company.name)
            )
        )

    # -- the person-wide rule (SEC-1, SEC-7) ---------------------------------------------

    def reach_of(self, person_id: int) -> PersonReach:
        """Where ``person_id``'s rights reach now or later. A membership starting later counts
        (it will let them in); one that has ended does not."""
        rows = self.db.scalars(select(Membership).where(Membership.person_id == person_id)).all()
        now = self.clock.now()
        live = []
        for m in rows:
            today = local_today(m.company, now)
            if m.valid_until is None or today <= m.valid_until:
                live.append((m, m.role_codes))
        reach = self._reach(live)
        if reach.everything:
            return reach
        return PersonReach(False, reach.companies | {m.company_id for m, _ in live})

    def may_manage_person(self, actor_person_id: int, person_id: int) -> bool:
        """May the actor change the person's details, invite them or end their sessions?

        Support always. Anyone else only when every company the person's rights reach is one
        they administer, and the person has rights somewhere (an ended person is Support's)."""
        if self.is_support(actor_person_id):
            return True
        reach = self.reach_of(person_id)
        if reach.everything or not reach.companies:
            return False
        mine = self._reach(self._valid_admin_memberships(actor_person_id))
        return mine.everything or reach.companies <= mine.companies

    def outranking_roles(
        self, grant: AdminGrant, company: Company, membership: Membership
    ) -> list[str]:
        """The member's roles the admin could not give: if any, the admin may neither change
        nor remove the membership (a KH over a TPK or Support, SEC-7)."""
        return sorted(membership.role_codes - self.grantable_roles(grant, company))

    def grantable_roles(self, grant: AdminGrant, company: Company) -> set[str]:
        """System roles are handed out only where they mean something, by those who hold them."""
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
