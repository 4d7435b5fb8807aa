"""AdminPolicy (ADM-9): who may administer which company, and which roles they may hand out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from portti.companies.catalogue import OFFICE_MAIN_USER, ROLES, SUPPORT, USER_ADMIN
from portti.companies.models import Company, CompanyKind, Membership
from portti.companies.policy import AdminGrant, AdminPolicy, company_menu, local_today
from portti.db.session import make_engine, make_session_factory
from portti.errors import Forbidden, NotFound
from portti.people.models import Person
from support import factories as f

# 22:30 UTC on 30 June is already 1 July in Helsinki (UTC+3 in summer).
NOW = datetime(2026, 6, 30, 22, 30, tzinfo=UTC)
HELSINKI_TODAY = date(2026, 7, 1)
BUSINESS_ROLES = {code for code, *_ in ROLES} - {USER_ADMIN, OFFICE_MAIN_USER, SUPPORT}


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


@pytest.fixture
def db(database_url: str) -> Iterator[Session]:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def world(db: Session) -> f.World:
    return f.World(db)


@pytest.fixture
def policy(db: Session) -> AdminPolicy:
    return AdminPolicy(db, FixedClock(NOW))


def via(policy: AdminPolicy, person: Person, company: Company) -> str | None:
    grant = policy.grant(person.id, company)
    return grant.via if grant else None


def test_local_today_is_the_companys_calendar_day(world) -> None:  # ADM-7
    assert local_today(world.client_a, NOW) == HELSINKI_TODAY


def test_kh_administers_their_own_company_only(policy, world) -> None:  # ADM-9
    assert via(policy, world.kh_a, world.client_a) == USER_ADMIN
    for company in (world.client_b, world.other, world.office, world.operator):
        assert via(policy, world.kh_a, company) is None


def test_tpk_administers_the_offices_clients_only(policy, world) -> None:  # ADM-9
    assert via(policy, world.tpk, world.client_a) == OFFICE_MAIN_USER
    assert via(policy, world.tpk, world.client_b) == OFFICE_MAIN_USER
    for company in (world.other, world.office, world.operator):
        assert via(policy, world.tpk, company) is None


def test_support_administers_every_company(policy, world) -> None:  # ADM-9
    for company in (world.client_a, world.client_b, world.other, world.office, world.operator):
        assert via(policy, world.support, company) == SUPPORT
    assert policy.is_support(world.support.id)
    assert not policy.is_support(world.kh_a.id)


def test_employees_administer_nothing(policy, world) -> None:  # ADM-9
    for company in (world.client_a, world.other):
        assert via(policy, world.employee_a, company) is None
    assert policy.administrable_companies(world.employee_a.id) == []


def test_system_roles_in_the_wrong_kind_of_company_grant_nothing(
    policy, db, world
) -> None:  # ADM-9
    fake_support = f.person(db)
    f.member(db, fake_support, world.other, [SUPPORT])
    fake_tpk = f.person(db)
    f.member(db, fake_tpk, world.other, [OFFICE_MAIN_USER])
    client_of_other = f.company(db, office=world.other)
    db.commit()
    assert via(policy, fake_support, world.client_a) is None
    assert via(policy, fake_support, world.other) is None
    assert via(policy, fake_tpk, client_of_other) is None
    assert not policy.is_support(fake_support.id)


def test_admin_roles_outside_their_validity_grant_nothing(policy, db, world) -> None:  # ADM-9 ADM-7
    ended = f.person(db)
    # Still 30 June in UTC, but the company's day (1 July) is past the end date.
    f.member(db, ended, world.client_a, [USER_ADMIN], valid_until=date(2026, 6, 30))
    later = f.person(db)
    f.member(db, later, world.client_a, [USER_ADMIN], valid_from=date(2026, 7, 2))
    ended_tpk = f.person(db)
    f.member(db, ended_tpk, world.office, [OFFICE_MAIN_USER], valid_until=date(2026, 6, 30))
    ended_support = f.person(db)
    f.member(db, ended_support, world.operator, [SUPPORT], valid_until=date(2026, 6, 30))
    today = f.person(db)
    f.member(db, today, world.client_a, [USER_ADMIN], valid_from=HELSINKI_TODAY)
    db.commit()
    assert via(policy, ended, world.client_a) is None
    assert via(policy, later, world.client_a) is None
    assert via(policy, ended_tpk, world.client_a) is None
    assert via(policy, ended_support, world.client_a) is None
    assert via(policy, today, world.client_a) == USER_ADMIN
    assert policy.administrable_companies(ended.id) == []


def test_the_strongest_grant_wins(policy, db, world) -> None:  # ADM-9
    both = f.person(db)
    f.member(db, both, world.client_a, [USER_ADMIN])
    f.member(db, both, world.office, [OFFICE_MAIN_USER])
    db.commit()
    assert via(policy, both, world.client_a) == OFFICE_MAIN_USER


def test_administrable_companies_lists_exactly_what_grant_allows(
    policy, db, world
) -> None:  # ADM-9
    everyone = [world.operator, world.office, world.client_a, world.client_b, world.other]
    for person in (world.support, world.tpk, world.kh_a, world.kh_other, world.employee_a):
        listed = {c.id for c in policy.administrable_companies(person.id)}
        assert listed == {c.id for c in everyone if policy.grant(person.id, c)}, person
    assert {c.id for c in policy.administrable_companies(world.tpk.id)} == {
        world.client_a.id,
        world.client_b.id,
    }
    names = [c.name for c in policy.administrable_companies(world.support.id)]
    assert names == sorted(names)


def test_require_admin_refuses_with_not_found_or_forbidden(policy, world) -> None:  # ADM-9
    company, grant = policy.require_admin(world.kh_a.id, world.client_a.id)
    assert (company.id, grant.company_id, grant.via) == (
        world.client_a.id,
        world.client_a.id,
        USER_ADMIN,
    )
    with pytest.raises(Forbidden):
        policy.require_admin(world.kh_a.id, world.other.id)
    with pytest.raises(NotFound):
        policy.require_admin(world.kh_a.id, 999_999)


def test_kh_of_a_plain_company_grants_business_roles_and_kh(policy, world) -> None:  # ADM-9
    grant = AdminGrant(world.client_a.id, USER_ADMIN)
    assert policy.grantable_roles(grant, world.client_a) == BUSINESS_ROLES | {USER_ADMIN}


def test_office_main_user_is_grantable_only_in_an_accounting_office(policy, world) -> None:  # ADM-9
    assert OFFICE_MAIN_USER in policy.grantable_roles(
        AdminGrant(world.office.id, SUPPORT), world.office
    )
    for grant_via in (USER_ADMIN, OFFICE_MAIN_USER, SUPPORT):
        grant = AdminGrant(world.client_a.id, grant_via)
        assert OFFICE_MAIN_USER not in policy.grantable_roles(grant, world.client_a)


def test_only_support_grants_support_and_only_in_the_operator(policy, world) -> None:  # ADM-9
    assert SUPPORT in policy.grantable_roles(AdminGrant(world.operator.id, SUPPORT), world.operator)
    assert SUPPORT not in policy.grantable_roles(
        AdminGrant(world.operator.id, USER_ADMIN), world.operator
    )
    assert SUPPORT not in policy.grantable_roles(
        AdminGrant(world.client_a.id, SUPPORT), world.client_a
    )


def test_changing_the_clock_changes_the_answer(db, world) -> None:  # ADM-7 ADM-9
    p = f.person(db)
    f.member(db, p, world.client_a, [USER_ADMIN], valid_until=date(2026, 6, 30))
    db.commit()
    clock = FixedClock(NOW - timedelta(hours=1))  # 21:30 UTC = 00:30 on 1 July in Helsinki
    assert AdminPolicy(db, clock).grant(p.id, world.client_a) is None
    clock.current = NOW - timedelta(hours=3)  # 19:30 UTC = 22:30 on 30 June in Helsinki
    assert AdminPolicy(db, clock).grant(p.id, world.client_a) is not None
    assert world.client_a.kind == CompanyKind.COMPANY


def test_office_user_admin_alone_cannot_make_main_users(db, clock):  # ADM-9
    from portti.companies.catalogue import OFFICE_MAIN_USER, USER_ADMIN
    from portti.companies.models import CompanyKind
    from portti.companies.policy import AdminPolicy
    from support import factories as f

    office = f.company(db, "Office", kind=CompanyKind.ACCOUNTING_OFFICE)
    kh = f.person(db, "Kalle", "Kh")
    f.member(db, kh, office, [USER_ADMIN])
    tpk = f.person(db, "Tiina", "Tpk")
    f.member(db, tpk, office, [USER_ADMIN, OFFICE_MAIN_USER])
    db.commit()
    policy = AdminPolicy(db, clock)
    kh_grant = policy.grant(kh.id, office)
    tpk_grant = policy.grant(tpk.id, office)
    assert kh_grant is not None and tpk_grant is not None
    assert OFFICE_MAIN_USER not in policy.grantable_roles(kh_grant, office)
    assert OFFICE_MAIN_USER in policy.grantable_roles(tpk_grant, office)


# -- the person-wide rule and the member hierarchy (SEC-1, SEC-7, SEC-12) ------------------


def test_sec1_reach_counts_memberships_valid_now_or_later_not_ended(
    policy, db, world
) -> None:  # SEC-1
    p = f.person(db, "Reach", "Test")
    f.member(db, p, world.client_a, ["bookkeeper"], valid_until=HELSINKI_TODAY - timedelta(days=1))
    f.member(db, p, world.client_b, ["bookkeeper"], valid_until=HELSINKI_TODAY)  # last day
    f.member(db, p, world.other, ["payroll"], valid_from=HELSINKI_TODAY + timedelta(days=7))
    reach = policy.reach_of(p.id)
    assert not reach.everything
    assert reach.companies == {world.client_b.id, world.other.id}


def test_sec1_a_tpk_reaches_the_offices_clients_and_support_everything(
    policy, world
) -> None:  # SEC-1
    tpk = policy.reach_of(world.tpk.id)
    assert tpk.companies == {world.office.id, world.client_a.id, world.client_b.id}
    assert policy.reach_of(world.support.id).everything


def test_sec1_who_may_manage_a_person(policy, db, world) -> None:  # SEC-1 SEC-7
    kh_office = f.person(db, "Kerttu", "KhOffice")
    f.member(db, kh_office, world.office, [USER_ADMIN])
    ended = f.person(db, "Ended", "Everywhere")
    f.member(db, ended, world.client_a, ["bookkeeper"], valid_until=date(2026, 1, 1))
    both = f.person(db, "Both", "Clients")
    f.member(db, both, world.client_a, ["bookkeeper"])
    f.member(db, both, world.client_b, ["bookkeeper"])
    manages = policy.may_manage_person
    assert manages(world.kh_a.id, world.employee_a.id)  # only in A
    assert not manages(world.kh_a.id, both.id)  # also in B
    assert manages(world.tpk.id, both.id)  # the TPK administers A and B
    assert not manages(world.kh_a.id, ended.id)  # no rights anywhere: Support's
    assert manages(world.support.id, ended.id)
    assert not manages(kh_office.id, world.tpk.id)  # the TPK reaches the clients
    assert not manages(world.kh_other.id, world.support.id)
    assert manages(world.support.id, world.tpk.id)


def test_sec7_outranking_roles(policy, db, world) -> None:  # SEC-7
    kh_office = f.person(db, "Kerttu", "KhOffice")
    f.member(db, kh_office, world.office, [USER_ADMIN])
    tpk_m = next(m for m in db.query(Membership).filter_by(person_id=world.tpk.id))
    _, grant = policy.require_admin(kh_office.id, world.office.id)
    assert policy.outranking_roles(grant, world.office, tpk_m) == [OFFICE_MAIN_USER]
    _, grant = policy.require_admin(world.support.id, world.office.id)
    assert policy.outranking_roles(grant, world.office, tpk_m) == []


def test_sec12_the_company_menu_offers_administration_only_with_a_grant(world) -> None:  # SEC-12
    assert [link.href for link in company_menu(world.client_a, None)] == ["/companies"]
    other = AdminGrant(world.other.id, USER_ADMIN)
    assert [link.href for link in company_menu(world.client_a, other)] == ["/companies"]
    mine = AdminGrant(world.client_a.id, USER_ADMIN)
    assert [link.href for link in company_menu(world.client_a, mine)][:1] == [
        f"/c/{world.client_a.id}/users"
    ]
