"""Factories for companies, persons and memberships, written straight to the database."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from portti.accounts.models import Account
from portti.companies.catalogue import OFFICE_MAIN_USER, SUPPORT, USER_ADMIN
from portti.companies.listing import sort_name_of
from portti.companies.models import Company, CompanyKind, Membership, MembershipRole
from portti.people.identity_numbers import IdentifierKind, make_hetu
from portti.people.models import Person, PersonIdentifier
from portti.people.portti_id import new_portti_id

_seq = itertools.count(1)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def company(
    db: Session,
    name: str | None = None,
    *,
    kind: CompanyKind = CompanyKind.COMPANY,
    office: Company | None = None,
) -> Company:
    n = next(_seq)
    c = Company(
        name=name or f"Company {n} Oy",
        business_id=f"{1000000 + n}-{n % 10}",
        kind=kind,
        accounting_office=office,
        created_at=NOW,
    )
    db.add(c)
    db.flush()
    return c


def person(
    db: Session,
    given: str = "Test",
    family: str | None = None,
    *,
    hetu: str | None = None,
    email: str | None = None,
    phone: str = "+358401234567",
    identifier: tuple[str, str, str] | None = None,
) -> Person:
    """A person with a made-up Finnish HETU (temporary range) unless an identifier is given."""
    n = next(_seq)
    family = family or f"Person{n}"
    p = Person(
        portti_id=new_portti_id(),
        given_name=given,
        family_name=family,
        email=email or f"{given.lower()}.{family.lower()}{n}@example.com",
        phone=phone,
        created_at=NOW,
    )
    if identifier is None:
        value = hetu or make_hetu(date(1950 + n % 50, 1 + n % 12, 1 + n % 28), 900 + n % 99)
        identifier = (str(IdentifierKind.FI_HETU), "FI", value)
    kind, country, value = identifier
    p.identifiers.append(PersonIdentifier(kind=kind, country=country, value=value, created_at=NOW))
    db.add(p)
    db.flush()
    return p


def member(
    db: Session,
    p: Person,
    c: Company,
    roles: list[str] | None = None,
    *,
    valid_from: date | None = None,
    valid_until: date | None = None,
) -> Membership:
    m = Membership(
        company=c,
        person=p,
        sort_name=sort_name_of(p.given_name, p.family_name),
        valid_from=valid_from,
        valid_until=valid_until,
        created_at=NOW,
        updated_at=NOW,
    )
    m.roles = [MembershipRole(role_code=r) for r in (roles if roles is not None else ["read_only"])]
    db.add(m)
    db.flush()
    return m


def hetu_of(p: Person) -> str:
    return next(i.value for i in p.identifiers if i.kind == "fi_hetu")


class World:
    """The standard cast for authorisation tests: an operator with Support, an accounting office
    with a TPK and two clients, a company outside the office, and a KH in each company."""

    def __init__(self, db: Session) -> None:
        self.operator = company(db, "Operator", kind=CompanyKind.OPERATOR)
        self.office = company(db, "Office Oy", kind=CompanyKind.ACCOUNTING_OFFICE)
        self.client_a = company(db, "Client A Oy", office=self.office)
        self.client_b = company(db, "Client B Oy", office=self.office)
        self.other = company(db, "Other Oy")
        self.support = person(db, "Sanna", "Support")
        member(db, self.support, self.operator, [SUPPORT])
        self.tpk = person(db, "Timo", "Tpk")
        member(db, self.tpk, self.office, [OFFICE_MAIN_USER])
        self.kh_a = person(db, "Kaisa", "KhA")
        member(db, self.kh_a, self.client_a, [USER_ADMIN])
        self.kh_other = person(db, "Olli", "KhOther")
        member(db, self.kh_other, self.other, [USER_ADMIN])
        self.employee_a = person(db, "Eero", "Employee")
        self.employee_a_membership = member(db, self.employee_a, self.client_a, ["bookkeeper"])
        self.employee_other = person(db, "Erja", "Elsewhere")
        self.employee_other_membership = member(db, self.employee_other, self.other, ["payroll"])
        db.commit()


def account(
    db: Session,
    who: Person,
    *,
    hasher: object,
    secret: bytes,
    email: str | None = None,
    password: str = "correct horse battery staple 7",
) -> tuple[Account, str]:
    """A finished account (password and confirmed TOTP), as an activation leaves it; returns
    it with its TOTP seed (base32). ``hasher`` is the app's ``PasswordHasher``."""
    import pyotp

    from portti.accounts.passwords import normalise_password
    from portti.accounts.services import totp_context
    from portti.infra.crypto import SecretBox

    seed = pyotp.random_base32()
    acc = Account(
        person_id=who.id,
        email=(email or f"account.{who.id}@example.org").lower(),
        email_verified_at=NOW,
        password_hash=hasher.hash(normalise_password(password)),  # type: ignore[attr-defined]
        password_changed_at=NOW,
        totp_confirmed_at=NOW,
        failed_logins=0,
        requires_invitation=False,
        created_at=NOW,
    )
    db.add(acc)
    db.flush()
    # Sealed to its account, as AccountService.start_totp seals it (SEC-25).
    acc.totp_secret_sealed = SecretBox(secret, "totp").seal(seed, context=totp_context(acc.id))
    db.flush()
    return acc, seed
