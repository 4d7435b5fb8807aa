"""Demo data for ``make run``: an accounting office with two client companies, a company with its
own user administrator, a TPK, a Support user and employees, foreign ones among them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from portti.companies.catalogue import OFFICE_MAIN_USER, SUPPORT, USER_ADMIN
from portti.companies.listing import sort_name_of
from portti.companies.models import (
    Company,
    CompanyKind,
    Membership,
    MembershipProfile,
    MembershipRole,
    Profile,
)
from portti.infra.clock import Clock
from portti.people.identity_numbers import IdentifierKind, make_hetu, normalise_identifier
from portti.people.models import Person, PersonIdentifier
from portti.people.portti_id import new_portti_id


@dataclass(frozen=True)
class DemoPerson:
    key: str
    given: str
    family: str
    kind: IdentifierKind
    country: str
    value: str
    email: str
    phone: str


PEOPLE = [
    DemoPerson(
        "support",
        "Sanna",
        "Tuki",
        IdentifierKind.FI_HETU,
        "FI",
        make_hetu(date(1980, 1, 1), 901),
        "sanna.tuki@example.com",
        "+358401000001",
    ),
    DemoPerson(
        "tpk",
        "Timo",
        "Tilinen",
        IdentifierKind.FI_HETU,
        "FI",
        make_hetu(date(1975, 5, 12), 902),
        "timo.tilinen@example.com",
        "+358401000002",
    ),
    DemoPerson(
        "kh",
        "Kaisa",
        "Mäkinen",
        IdentifierKind.FI_HETU,
        "FI",
        make_hetu(date(1990, 9, 30), 903),
        "kaisa.makinen@example.com",
        "+358401000003",
    ),
    DemoPerson(
        "matti",
        "Matti",
        "Virtanen",
        IdentifierKind.FI_HETU,
        "FI",
        make_hetu(date(1985, 3, 14), 904),
        "matti.virtanen@example.com",
        "+358401000004",
    ),
    DemoPerson(
        "erik",
        "Erik",
        "Andersson",
        IdentifierKind.PERSONAL_NUMBER,
        "SE",
        "19811218-9876",
        "erik.andersson@example.com",
        "+46701234567",
    ),
    DemoPerson(
        "kadri",
        "Kadri",
        "Tamm",
        IdentifierKind.PERSONAL_NUMBER,
        "EE",
        "49403136526",
        "kadri.tamm@example.com",
        "+37251234567",
    ),
    DemoPerson(
        "ola",
        "Ola",
        "Nordmann",
        IdentifierKind.PERSONAL_NUMBER,
        "NO",
        "15108695088",
        "ola.nordmann@example.com",
        "+4791234567",
    ),
    DemoPerson(
        "olena",
        "Olena",
        "Kovalenko",
        IdentifierKind.OTHER_CODE,
        "UA",
        "1992-04-17",
        "olena.kovalenko@example.com",
        "+380501234567",
    ),
    DemoPerson(
        "aino",
        "Aino",
        "Laine",
        IdentifierKind.FI_HETU,
        "FI",
        make_hetu(date(1968, 11, 2), 905),
        "aino.laine@example.com",
        "+358401000005",
    ),
]


def seed_demo(factory: sessionmaker[Session], clock: Clock) -> bool:
    """Writes the demo data once; returns False when the database has companies already."""
    with factory() as db, db.begin():
        if db.scalar(select(Company.id).limit(1)) is not None:
            return False
        now = clock.now()
        today = now.date()

        def company(
            name: str,
            business_id: str,
            kind: CompanyKind = CompanyKind.COMPANY,
            office: Company | None = None,
        ) -> Company:
            c = Company(
                name=name,
                business_id=business_id,
                kind=kind,
                created_at=now,
                accounting_office=office,
            )
            db.add(c)
            return c

        operator = company("Portti Support", "0000000-0", CompanyKind.OPERATOR)
        office = company("Tilitoimisto Numerot Oy", "1234567-8", CompanyKind.ACCOUNTING_OFFICE)
        cafe = company("Kahvila Aalto Oy", "2345678-9", office=office)
        builder = company("Rakennus Virtanen Oy", "3456789-0", office=office)
        design = company("Mäkinen Design Oy", "4567890-1")

        persons: dict[str, Person] = {}
        for p in PEOPLE:
            country, value = normalise_identifier(p.kind, p.value, p.country)
            person = Person(
                portti_id=new_portti_id(),
                given_name=p.given,
                family_name=p.family,
                email=p.email,
                phone=p.phone,
                created_at=now,
            )
            person.identifiers.append(
                PersonIdentifier(kind=str(p.kind), country=country, value=value, created_at=now)
            )
            db.add(person)
            persons[p.key] = person
        db.flush()
        profiles = {p.name: p for p in db.scalars(select(Profile))}

        def member(
            person: str,
            c: Company,
            roles: list[str],
            profile: str | None = None,
            valid_from: date | None = None,
            valid_until: date | None = None,
        ) -> None:
            pr = persons[person]
            m = Membership(
                company=c,
                person=pr,
                sort_name=sort_name_of(pr.given_name, pr.family_name),
                valid_from=valid_from,
                valid_until=valid_until,
                created_at=now,
                updated_at=now,
            )
            m.roles = [MembershipRole(role_code=r) for r in roles]
            if profile:
                m.profiles = [MembershipProfile(profile_id=profiles[profile].id)]
            db.add(m)

        member("support", operator, [SUPPORT])
        member("tpk", office, [OFFICE_MAIN_USER, USER_ADMIN, "bookkeeper"])
        member("kh", design, [USER_ADMIN, "purchase_invoice_approver"])
        member("matti", builder, [USER_ADMIN, "purchase_invoice_approver"])
        member(
            "matti",
            design,
            ["reporting"],
            valid_until=today - timedelta(days=30),
            valid_from=today - timedelta(days=400),
        )
        member("erik", cafe, [], "Purchase invoice circulation")
        member("kadri", design, ["bookkeeper"])
        member("ola", builder, ["payroll"], valid_from=today + timedelta(days=14))
        member(
            "olena",
            cafe,
            ["read_only"],
            valid_from=today - timedelta(days=10),
            valid_until=today + timedelta(days=80),
        )
        member("aino", cafe, [USER_ADMIN, "bookkeeper"])
    return True


def demo_logins() -> list[tuple[str, str, str]]:
    """(who, how to log in, what they can do) for the README and the CLI."""
    names = {p.key: f"{p.given} {p.family}" for p in PEOPLE}
    return [
        (names["support"], "Finnish bank ID (test provider)", "Support: every company"),
        (
            names["tpk"],
            "Finnish bank ID (test provider)",
            "TPK of Tilitoimisto Numerot Oy: Kahvila Aalto Oy and Rakennus Virtanen Oy",
        ),
        (names["kh"], "Finnish bank ID (test provider)", "KH of Mäkinen Design Oy"),
        (names["aino"], "Finnish bank ID (test provider)", "KH of Kahvila Aalto Oy"),
        (
            names["matti"],
            "Finnish bank ID (test provider)",
            "KH of Rakennus Virtanen Oy; his Mäkinen Design Oy rights have ended",
        ),
        (names["erik"], "Swedish ID card (test provider)", "employee of Kahvila Aalto Oy"),
        (names["kadri"], "Estonian ID card (test provider)", "employee of Mäkinen Design Oy"),
        (
            names["ola"],
            "Norwegian ID card (test provider)",
            "employee of Rakennus Virtanen Oy from two weeks on: no valid company yet",
        ),
    ]
