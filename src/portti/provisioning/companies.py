"""Business software tells Portti its companies (PRV-2): create, rename and close a company, link
an accounting office to a client company, and name the company's first user administrator.

The acting machine client (PRV-1) needs the ``companies:write`` scope; it creates companies only
when registered for every company, and acts on an existing one only when the company is within
its reach (``machine_grant``). Creation is idempotent by the ``external_id`` the business
software chose: the same id with the same request answers with the company made the first time,
with another request it is a conflict. The rules for a company's fields are the operator's
(``companies/bootstrap.py``); adding the administrator is the add-user wizard's
(``MembershipService``), and the invitation the invitation service's."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portti import hooks
from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.companies.actors import Actor, machine_grant
from portti.companies.bootstrap import (
    BootstrapError,
    check_timezone,
    normalise_business_id,
)
from portti.companies.catalogue import USER_ADMIN
from portti.companies.errors import CompanyClosed
from portti.companies.models import Company, CompanyKind, Membership, MembershipRole
from portti.companies.policy import local_today
from portti.companies.principal import COMPANIES_WRITE, MachinePrincipal
from portti.companies.schemas import AddUserInput, IdentificationMethod
from portti.companies.services import MembershipService
from portti.errors import Conflict, Forbidden, ValidationFailed
from portti.i18n import _l
from portti.infra.clock import Clock
from portti.invitations.services import InvitationService
from portti.people.identity_numbers import IdentifierKind, InvalidIdentifier, normalise_identifier
from portti.people.models import PersonIdentifier
from portti.provisioning.schemas import CompanyChangeInput, CompanyInput


class MayNotCreateCompanies(Forbidden):
    code = "may_not_create_companies"
    title = _l("Not allowed to create companies")
    message = _l("Only a machine client registered for every company may create companies.")


class ExternalIdConflict(Conflict):
    code = "external_id_conflict"
    title = _l("The external id is taken")
    message = _l(
        "A company was created with this external id and other details. Use a new "
        "external id, or change the company with its own requests."
    )


class BusinessIdTaken(Conflict):
    code = "business_id_taken"
    title = _l("The business ID is taken")
    message = _l("Another company in Portti has this business ID.")


class AdminExists(Conflict):
    code = "first_admin_exists"
    title = _l("The company has a user administrator")
    message = _l(
        "The company has a user administrator already: they add the others, or the "
        "business software adds them as users."
    )


@dataclass(frozen=True)
class FirstAdmin:
    membership: Membership
    created: bool  # False: the same person named again, nothing changed
    invitation_expires_at: datetime | None  # an invitation went out (a foreign identifier)


@dataclass(frozen=True)
class Created:
    company: Company
    created: bool  # False: the same request answered again


def request_hash(data: CompanyInput, business_id: str) -> str:
    body = data.model_dump()
    body["business_id"] = business_id
    body["name"] = " ".join(data.name.split())
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class ProvisioningService:
    def __init__(
        self,
        db: Session,
        clock: Clock,
        audit: AuditLog,
        members: MembershipService,
        invitations: InvitationService,
    ) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit
        self.members = members
        self.invitations = invitations

    def _company(self, machine: MachinePrincipal, company_id: int) -> Company:
        machine.require(COMPANIES_WRITE)
        company = self.db.get(Company, company_id)
        if company is not None and company.closed_at is not None and machine.may_act_on(company.id):
            raise CompanyClosed()
        company, _ = machine_grant(self.db, machine, company_id, self.audit)
        return company

    def create(self, machine: MachinePrincipal, data: CompanyInput) -> Created:
        machine.require(COMPANIES_WRITE)
        if not machine.may_create_companies:
            raise MayNotCreateCompanies()
        errors: dict[str, str] = {}
        bid = ""
        try:
            bid = normalise_business_id(data.business_id)
        except BootstrapError:
            errors["business_id"] = _l(
                "Not a valid Finnish business ID (Y-tunnus): seven digits, a hyphen and a check "
                "digit, e.g. 2345678-0."
            )
        try:
            check_timezone(data.timezone)
        except BootstrapError:
            errors["timezone"] = _l("Not a time zone name (IANA, e.g. Europe/Helsinki).")
        if not data.external_id.strip():
            errors["external_id"] = _l("Required.")
        if not data.name.strip():
            errors["name"] = _l("Required.")
        if errors:
            raise ValidationFailed(errors)
        digest = request_hash(data, bid)
        existing = self._created_before(machine, data.external_id, digest)
        if existing is not None:
            return existing
        if self.db.scalar(select(Company.id).where(Company.business_id == bid)) is not None:
            # Perhaps this very request, sent again, committed in between the two reads.
            existing = self._created_before(machine, data.external_id, digest)
            if existing is not None:
                return existing
            raise BusinessIdTaken()
        company = Company(
            name=" ".join(data.name.split()),
            business_id=bid,
            kind=CompanyKind(data.kind),
            default_language=data.default_language,
            timezone=data.timezone,
            created_at=self.clock.now(),
            created_by_client_id=machine.client_id,
            external_id=data.external_id,
            external_request_hash=digest,
        )
        try:
            # Added within the savepoint: a refused insert leaves nothing pending behind it.
            with self.db.begin_nested():
                self.db.add(company)
                self.db.flush()
        except IntegrityError:
            # The same request at the same moment (the first one's company is the answer), or
            # the business ID taken meanwhile.
            existing = self._created_before(machine, data.external_id, digest)
            if existing is not None:
                return existing
            raise BusinessIdTaken() from None
        self.audit.record(
            AuditAction.COMPANY_CREATED,
            company_id=company.id,
            machine=machine,
            business_id=bid,
            kind=data.kind,
            default_language=data.default_language,
            timezone=data.timezone,
            external_id=data.external_id,
        )
        return Created(company, created=True)

    def _created_before(
        self, machine: MachinePrincipal, external_id: str, digest: str
    ) -> Created | None:
        existing = self.db.scalars(
            select(Company).where(
                Company.created_by_client_id == machine.client_id,
                Company.external_id == external_id,
            )
        ).one_or_none()
        if existing is None:
            return None
        if existing.external_request_hash != digest:
            raise ExternalIdConflict()
        return Created(existing, created=False)

    def get(self, machine: MachinePrincipal, company_id: int) -> Company:
        """A company within the client's reach, a closed one too (with its ``closed_at``)."""
        machine.require(COMPANIES_WRITE)
        company = self.db.get(Company, company_id)
        if (
            company is not None
            and company.closed_at is not None
            and company.kind != CompanyKind.OPERATOR
            and machine.may_act_on(company.id)
        ):
            return company
        company, _ = machine_grant(self.db, machine, company_id, self.audit)
        return company

    def change(
        self, machine: MachinePrincipal, company_id: int, data: CompanyChangeInput
    ) -> Company:
        """Rename a company, or set its default language or time zone."""
        company = self._company(machine, company_id)
        errors: dict[str, str] = {}
        name = None if data.name is None else " ".join(data.name.split())
        if name is not None and not name:
            errors["name"] = _l("Required.")
        if data.timezone is not None:
            try:
                check_timezone(data.timezone)
            except BootstrapError:
                errors["timezone"] = _l("Not a time zone name (IANA, e.g. Europe/Helsinki).")
        if errors:
            raise ValidationFailed(errors)
        if name is not None and name != company.name:
            old, company.name = company.name, name
            self.audit.record(
                AuditAction.COMPANY_RENAMED,
                company_id=company.id,
                machine=machine,
                changes={"name": [old, name]},
            )
        settings: dict[str, Any] = {}
        if data.default_language is not None and data.default_language != company.default_language:
            settings["default_language"] = {
                "from": company.default_language,
                "to": data.default_language,
            }
            company.default_language = data.default_language
        if data.timezone is not None and data.timezone != company.timezone:
            settings["timezone"] = {"from": company.timezone, "to": data.timezone}
            company.timezone = data.timezone
        if settings:
            self.audit.record(
                AuditAction.COMPANY_SETTINGS_CHANGED,
                company_id=company.id,
                machine=machine,
                **settings,
            )
        return company

    def link_office(
        self, machine: MachinePrincipal, company_id: int, office_id: int | None
    ) -> Company:
        """TPK: the office's main users administer the client company (ADM-9)."""
        company = self._company(machine, company_id)
        if company.kind != CompanyKind.COMPANY:
            raise ValidationFailed(
                {"office_id": _l("Only a client company is served by an accounting office.")}
            )
        office = self._company(machine, office_id) if office_id is not None else None
        if office is not None and office.kind != CompanyKind.ACCOUNTING_OFFICE:
            raise ValidationFailed({"office_id": _l("That company is not an accounting office.")})
        previous = company.accounting_office_id
        if previous == (office.id if office else None):
            return company
        company.accounting_office_id = office.id if office else None
        for cid in {company.id, *(c for c in (previous, office_id) if c is not None)}:
            self.audit.record(
                AuditAction.ACCOUNTING_OFFICE_LINKED,
                company_id=cid,
                machine=machine,
                client_id=company.id,
                office_id=office.id if office else None,
                previous_office_id=previous,
            )
        return company

    def close(self, machine: MachinePrincipal, company_id: int) -> Company:
        """Every membership ends today, and with them the business applications' logins
        (back-channel logout, as for any membership that ends); live invitations end too. The
        company stays, closed, for its audit trail. Closing again changes nothing."""
        machine.require(COMPANIES_WRITE)
        company = self.db.get(Company, company_id)
        if company is not None and company.closed_at is not None and machine.may_act_on(company.id):
            return company
        company, _ = machine_grant(self.db, machine, company_id, self.audit)
        now = self.clock.now()
        yesterday = local_today(company, now) - timedelta(days=1)
        ended = []
        for m in self.db.scalars(select(Membership).where(Membership.company_id == company.id)):
            if m.valid_until is None or m.valid_until > yesterday:
                m.valid_until = yesterday
                if m.valid_from is not None and m.valid_from > yesterday:
                    m.valid_from = yesterday
                m.updated_at = now
                ended.append(m.person_id)
            hooks.membership_ended.fire(
                hooks.MembershipEnded(
                    self.db,
                    now,
                    reason="membership_ended",
                    person_id=m.person_id,
                    company_id=company.id,
                )
            )
        cancelled = hooks.company_closed.fire(
            hooks.CompanyClosed(self.db, self.audit, now, company.id, {"machine": machine})
        )
        company.closed_at = now
        self.db.flush()
        self.audit.record(
            AuditAction.COMPANY_CLOSED,
            company_id=company.id,
            machine=machine,
            memberships_ended=len(ended),
            invitations_cancelled=cancelled,
        )
        return company

    # -- the first user administrator ----------------------------------------------------------

    def name_and_invite_first_admin(
        self, machine: MachinePrincipal, company_id: int, data: AddUserInput
    ) -> FirstAdmin:
        """The first user administrator (``name_first_admin``); one named by a foreign
        identifier is invited to the Portti app at once, in the company's language (a Finnish
        personal identity code logs in with bank ID)."""
        m, created = self.name_first_admin(machine, company_id, data)
        expires = None
        if data.method is IdentificationMethod.FOREIGN and created:
            inv = self.invitations.invite(
                Actor.of_machine(machine),
                company_id,
                m.id,
                identity_verified=True,
                language=m.company.default_language,
            )
            expires = inv.expires_at
        return FirstAdmin(m, created, expires)

    def name_first_admin(
        self, machine: MachinePrincipal, company_id: int, data: AddUserInput
    ) -> tuple[Membership, bool]:
        """The company's first user administrator, added as the add-user wizard adds anyone
        (identifier rules, never merging people: ADM-4, ADM-5). Returns the membership and
        whether it is new; naming the same person again changes nothing."""
        company = self._company(machine, company_id)
        actor = Actor.of_machine(machine)
        admins = list(
            self.db.scalars(
                select(Membership)
                .join(MembershipRole, MembershipRole.membership_id == Membership.id)
                .where(Membership.company_id == company.id, MembershipRole.role_code == USER_ADMIN)
            )
        )
        if admins:
            same = self._named_person(data)
            for m in admins:
                if same is not None and m.person_id == same:
                    return m, False
            raise AdminExists()
        wanted = data.model_copy(update={"roles": [USER_ADMIN], "profiles": []})
        return self.members.add_user(actor, company.id, wanted), True

    def _named_person(self, data: AddUserInput) -> int | None:
        """The person an identifier names, if one has it (the wizard's own normalisation)."""
        kind = IdentifierKind.FI_HETU
        if data.method.value == "foreign" and data.id_kind is not None:
            kind = IdentifierKind(data.id_kind.value)
            if kind is IdentifierKind.PERSONAL_NUMBER and (data.id_country or "").upper() == "FI":
                kind = IdentifierKind.FI_HETU
        try:
            country, value = normalise_identifier(
                kind, data.id_value, (data.id_country or "").upper() or None
            )
        except InvalidIdentifier:
            return None
        return self.db.scalar(
            select(PersonIdentifier.person_id).where(
                PersonIdentifier.kind == kind,
                PersonIdentifier.country == country,
                PersonIdentifier.value == value,
            )
        )
