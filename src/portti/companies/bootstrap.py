"""Day-one set-up by an operator on the server (OPS-10): companies, an accounting office's
clients, and the first Support person, before anyone can log in to do it on a page.

Each operation is idempotent: run again with the same input it changes nothing and says so;
with input that contradicts what is there it refuses and changes nothing. Every change is
audited with the command line as the actor (``actor_person_id`` empty, ``via: cli`` and the
operating-system user in the details), as Keycloak's admin events name a service account.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum import exceptions as stdnum_errors
from stdnum.fi import ytunnus

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.companies.catalogue import SUPPORT
from portti.companies.listing import sort_name_of
from portti.companies.models import Company, CompanyKind, Membership, MembershipRole
from portti.i18n import SUPPORTED
from portti.infra.clock import Clock
from portti.people.identity_numbers import IdentifierKind, InvalidIdentifier, normalise_identifier
from portti.people.models import Person, PersonIdentifier
from portti.people.portti_id import new_portti_id


class BootstrapError(Exception):
    """Input the operator must correct; nothing was changed."""


class Outcome(StrEnum):
    CREATED = "created"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    message: str
    company_id: int | None = None
    person_id: int | None = None


def cli_actor() -> dict[str, Any]:
    """The audit details that name the command line as the actor."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container's numeric user)
        user = "unknown"
    return {"via": "cli", "os_user": user[:64]}


def normalise_business_id(value: str) -> str:
    """A Finnish business ID (Y-tunnus) as ``1234567-8``, or :class:`BootstrapError`."""
    try:
        compact = ytunnus.validate(value.strip())
    except stdnum_errors.InvalidChecksum:
        raise BootstrapError(
            f"{value.strip()!r} is not a valid Finnish business ID: its check digit is wrong"
        ) from None
    except stdnum_errors.ValidationError:
        raise BootstrapError(
            f"{value.strip()!r} is not a Finnish business ID (Y-tunnus): "
            "seven digits, a hyphen and a check digit, e.g. 2345678-0"
        ) from None
    return str(ytunnus.format(compact))


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BootstrapError(
            f"{name!r} is not a time zone name (IANA, e.g. Europe/Helsinki)"
        ) from None
    return name


def check_language(code: str) -> str:
    if code not in SUPPORTED:
        raise BootstrapError(
            f"{code!r} is not a language Portti speaks: choose one of {', '.join(SUPPORTED)}"
        )
    return code


class Bootstrap:
    """The operator's set-up commands, on one database session (the caller commits)."""

    def __init__(self, db: Session, clock: Clock, audit: AuditLog) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit

    def _company(self, business_id: str) -> Company:
        bid = normalise_business_id(business_id)
        company = self.db.scalar(select(Company).where(Company.business_id == bid))
        if company is None:
            raise BootstrapError(f"No company has the business ID {bid}")
        return company

    def create_company(
        self,
        *,
        name: str,
        business_id: str,
        kind: CompanyKind = CompanyKind.COMPANY,
        language: str = "fi",
        timezone: str = "Europe/Helsinki",
    ) -> Result:
        name = " ".join(name.split())
        if not name or len(name) > 200:
            raise BootstrapError("The company's name must be 1–200 characters")
        bid = normalise_business_id(business_id)
        check_language(language)
        check_timezone(timezone)
        kind = CompanyKind(kind)
        existing = self.db.scalar(select(Company).where(Company.business_id == bid))
        if existing is not None:
            wanted = {
                "name": name,
                "kind": str(getattr(kind, "value", kind)),
                "language": language,
                "time zone": timezone,
            }
            there = {
                "name": existing.name,
                "kind": str(getattr(existing.kind, "value", existing.kind)),
                "language": existing.default_language,
                "time zone": existing.timezone,
            }
            differ = [k for k in wanted if wanted[k] != there[k]]
            if differ:
                shown = "; ".join(f"{k} is {there[k]!r}, not {wanted[k]!r}" for k in differ)
                raise BootstrapError(
                    f"A company with business ID {bid} exists already (id {existing.id}): {shown}"
                )
            return Result(
                Outcome.UNCHANGED,
                f"{existing.name} ({bid}) exists already with these details: nothing changed",
                company_id=existing.id,
            )
        if kind is CompanyKind.OPERATOR:
            other = self.db.scalar(select(Company).where(Company.kind == CompanyKind.OPERATOR))
            if other is not None:
                raise BootstrapError(
                    f"The operator company exists already: {other.name} ({other.business_id}); "
                    "there is only one"
                )
        company = Company(
            name=name,
            business_id=bid,
            kind=kind,
            default_language=language,
            timezone=timezone,
            created_at=self.clock.now(),
        )
        self.db.add(company)
        self.db.flush()
        self.audit.record(
            AuditAction.COMPANY_CREATED,
            company_id=company.id,
            business_id=bid,
            kind=str(kind),
            default_language=language,
            timezone=timezone,
            **cli_actor(),
        )
        return Result(
            Outcome.CREATED, f"Created {name} ({bid}), id {company.id}", company_id=company.id
        )

    def link_office(self, *, office: str, client: str, replace: bool = False) -> Result:
        office_company = self._company(office)
        client_company = self._company(client)
        if office_company.kind != CompanyKind.ACCOUNTING_OFFICE:
            raise BootstrapError(
                f"{office_company.name} ({office_company.business_id}) is not an accounting "
                "office (create it with --kind accounting_office)"
            )
        if client_company.kind != CompanyKind.COMPANY:
            raise BootstrapError(
                f"{client_company.name} ({client_company.business_id}) is not a client company "
                f"(its kind is {getattr(client_company.kind, 'value', client_company.kind)})"
            )
        current = client_company.accounting_office
        if current is not None and current.id == office_company.id:
            return Result(
                Outcome.UNCHANGED,
                f"{office_company.name} serves {client_company.name} already: nothing changed",
                company_id=client_company.id,
            )
        if current is not None and not replace:
            raise BootstrapError(
                f"{client_company.name} is served by {current.name} ({current.business_id}); "
                "add --replace to move it to another office"
            )
        client_company.accounting_office_id = office_company.id
        details = {
            "office_id": office_company.id,
            "previous_office_id": current.id if current else None,
            **cli_actor(),
        }
        # Written for both: each company's event history shows the link.
        for company_id in (client_company.id, office_company.id):
            self.audit.record(
                AuditAction.ACCOUNTING_OFFICE_LINKED,
                company_id=company_id,
                client_id=client_company.id,
                **details,
            )
        return Result(
            Outcome.CREATED,
            f"{office_company.name} now serves {client_company.name}",
            company_id=client_company.id,
        )

    def _operator(self, business_id: str | None) -> Company:
        if business_id is not None:
            company = self._company(business_id)
            if company.kind != CompanyKind.OPERATOR:
                raise BootstrapError(
                    f"{company.name} ({company.business_id}) is not the operator company"
                )
            return company
        operator = self.db.scalar(select(Company).where(Company.kind == CompanyKind.OPERATOR))
        if operator is None:
            raise BootstrapError(
                "There is no operator company yet: create it first with "
                "`portti companies create --kind operator --name … --business-id …`"
            )
        return operator

    def add_support(
        self,
        *,
        hetu: str,
        given_name: str,
        family_name: str,
        email: str | None = None,
        operator: str | None = None,
    ) -> Result:
        try:
            country, value = normalise_identifier(IdentifierKind.FI_HETU, hetu, "FI")
        except InvalidIdentifier:
            # The message of the validator, never the value typed (it is a personal number).
            raise BootstrapError(
                "That is not a valid Finnish personal identity code (check its form and its "
                "check character)"
            ) from None
        given_name, family_name = " ".join(given_name.split()), " ".join(family_name.split())
        if not given_name or not family_name or max(len(given_name), len(family_name)) > 100:
            raise BootstrapError("Given and family name must each be 1–100 characters")
        email = email.strip() if email else None
        if email is not None and ("@" not in email or len(email) > 254):
            raise BootstrapError("The e-mail address is not valid")
        company = self._operator(operator)
        now = self.clock.now()
        person = self.db.scalar(
            select(Person)
            .join(PersonIdentifier)
            .where(
                PersonIdentifier.kind == str(IdentifierKind.FI_HETU),
                PersonIdentifier.country == country,
                PersonIdentifier.value == value,
            )
        )
        created_person = person is None
        if person is None:
            person = Person(
                portti_id=new_portti_id(),
                given_name=given_name,
                family_name=family_name,
                email=email,
                created_at=now,
            )
            person.identifiers.append(
                PersonIdentifier(
                    kind=str(IdentifierKind.FI_HETU), country=country, value=value, created_at=now
                )
            )
            self.db.add(person)
            self.db.flush()
            self.audit.record(
                AuditAction.PERSON_CREATED,
                company_id=company.id,
                subject_person_id=person.id,
                **cli_actor(),
            )
        membership = self.db.scalar(
            select(Membership).where(
                Membership.company_id == company.id, Membership.person_id == person.id
            )
        )
        if membership is not None and SUPPORT in {r.role_code for r in membership.roles}:
            return Result(
                Outcome.UNCHANGED,
                f"{person.full_name} (Portti ID {person.portti_id}) is Support already: "
                "nothing changed",
                company_id=company.id,
                person_id=person.id,
            )
        if membership is None:
            membership = Membership(
                company_id=company.id,
                person_id=person.id,
                sort_name=sort_name_of(person.given_name, person.family_name),
                created_at=now,
                updated_at=now,
            )
            membership.roles = [MembershipRole(role_code=SUPPORT)]
            self.db.add(membership)
            self.db.flush()
            self.audit.record(
                AuditAction.MEMBERSHIP_ADDED,
                company_id=company.id,
                subject_person_id=person.id,
                membership_id=membership.id,
                roles=[SUPPORT],
                **cli_actor(),
            )
        else:
            # A member of the operator company without the role, possibly with an end date:
            # Support is given until further notice.
            before = sorted(r.role_code for r in membership.roles)
            membership.roles.append(MembershipRole(role_code=SUPPORT))
            membership.valid_until = None
            membership.updated_at = now
            self.audit.record(
                AuditAction.MEMBERSHIP_CHANGED,
                company_id=company.id,
                subject_person_id=person.id,
                membership_id=membership.id,
                roles={"from": before, "to": sorted([*before, SUPPORT])},
                **cli_actor(),
            )
        known = "" if created_person else " (an existing person; name and e-mail kept)"
        return Result(
            Outcome.CREATED,
            f"{person.full_name} (Portti ID {person.portti_id}) is now Support in "
            f"{company.name}{known}; they log in with Finnish bank ID",
            company_id=company.id,
            person_id=person.id,
        )
