"""Adding users (ADM-4, ADM-5): the add-user wizard's checks of one new user, then the person
(unless an existing one is named by Portti ID and identifier together) and the membership,
written and audited. A file of many users checks each row, stages them all and flushes once
(``bulk.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.companies.actors import Actor
from portti.companies.listing import sort_name_of
from portti.companies.membership_rules import check_roles, check_validity
from portti.companies.models import Company, Membership, MembershipProfile, MembershipRole
from portti.companies.policy import AdminGrant, AdminPolicy
from portti.companies.schemas import AddUserInput, IdentificationMethod
from portti.errors import ValidationFailed
from portti.i18n import _l
from portti.infra.clock import Clock
from portti.people.identity_numbers import IdentifierKind, InvalidIdentifier, normalise_identifier
from portti.people.models import Person, PersonIdentifier
from portti.people.phones import InvalidEmail, InvalidPhone, normalise_email, normalise_phone
from portti.people.portti_id import InvalidPorttiId, new_portti_id, normalise_portti_id


@dataclass(frozen=True)
class NewUserPlan:
    """What the add-user checks found: the errors by field, or what adding would write."""

    errors: dict[str, str]
    kind: IdentifierKind
    country: str
    value: str
    # The existing person the Portti ID and the identifier name together (ADM-5), else None.
    person: Person | None
    email: str | None
    phone: str | None
    valid_from: date | None
    valid_until: date | None
    # The identifier is a Portti user's already, and no Portti ID was given.
    needs_portti_id: bool
    # The person the identifier (or Portti ID) names is a user of this company already.
    already_member: bool


class NewUsers:
    def __init__(self, db: Session, clock: Clock, audit: AuditLog, policy: AdminPolicy) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit
        self.policy = policy

    def check(
        self,
        company: Company,
        grant: AdminGrant,
        data: AddUserInput,
        *,
        grantable: frozenset[str] | set[str] | None = None,
    ) -> NewUserPlan:
        """The wizard's checks of one new user, without writing anything: the errors by field,
        and what adding would do (a new person, or the existing one named by the Portti ID
        together with the identifier, ADM-5). ``grantable``: the roles the admin may give, when
        the caller has them already (a file of many users asks once)."""
        errors: dict[str, str] = {}

        kind = IdentifierKind.FI_HETU
        if data.method is IdentificationMethod.FOREIGN:
            if data.id_kind is None:
                errors["id_kind"] = _l("Choose the kind of identifier.")
            kind = IdentifierKind(data.id_kind.value if data.id_kind else "personal_number")
            # A Finnish personal number is a HETU however it was entered: one kind, so that the
            # unique index, "already a user?" and the login by Finnish bank ID find one person.
            if kind is IdentifierKind.PERSONAL_NUMBER and (
                (data.id_country or "").strip().upper() == "FI"
            ):
                kind = IdentifierKind.FI_HETU
        country = value = ""
        try:
            country, value = normalise_identifier(
                kind, data.id_value, (data.id_country or "").upper() or None
            )
        except InvalidIdentifier as exc:
            errors["id_country" if exc.field == "country" else "id_value"] = exc.message

        valid_from, valid_until = check_validity(
            data.validity, data.valid_from, data.valid_until, errors
        )
        check_roles(
            self.policy, grant, company, data.roles, data.profiles, errors, grantable=grantable
        )
        if not data.roles and not data.profiles:
            errors.setdefault("roles", _l("Choose at least one profile or role."))

        person: Person | None = None
        existing_identifier = None
        if "id_value" not in errors and "id_country" not in errors:
            existing_identifier = self.db.scalars(
                select(PersonIdentifier).where(
                    PersonIdentifier.kind == kind,
                    PersonIdentifier.country == country,
                    PersonIdentifier.value == value,
                )
            ).one_or_none()

        email = phone = None
        needs_portti_id = False
        if data.already_user:
            try:
                pid = normalise_portti_id(data.portti_id or "")
            except InvalidPorttiId as exc:
                errors["portti_id"] = exc.message
            else:
                person = self.db.scalars(
                    select(Person).where(Person.portti_id == pid)
                ).one_or_none()
                # The Portti ID and the identifier must name the same person: knowing one
                # of them is not enough to attach someone to another company.
                if person is None or (
                    (existing_identifier is None or existing_identifier.person_id != person.id)
                    and "id_value" not in errors
                ):
                    errors["portti_id"] = _l(
                        "No Portti user has this Portti ID together with the identifier given "
                        "above. Check both."
                    )
                    person = None
        else:
            if existing_identifier is not None:
                needs_portti_id = True
                errors["id_value"] = _l(
                    "A Portti user with this identifier exists already. Choose “Already a "
                    "Portti user?” and give their Portti ID."
                )
            for field in ("given_name", "family_name"):
                if not (getattr(data, field) or "").strip():
                    errors[field] = _l("Required.")
            try:
                email = normalise_email(data.email or "")
            except InvalidEmail as exc:
                errors["email"] = exc.message
            try:
                phone = normalise_phone(data.phone or "", default_region=country or "FI")
            except InvalidPhone as exc:
                errors["phone"] = exc.message

        already_member = False
        holder = person.id if person is not None else None
        if holder is None and existing_identifier is not None and not data.already_user:
            holder = existing_identifier.person_id
        if holder is not None:
            already_member = (
                self.db.scalar(
                    select(Membership.id).where(
                        Membership.company_id == company.id, Membership.person_id == holder
                    )
                )
                is not None
            )
        if person is not None and already_member:
            errors["portti_id"] = _l("This person is already a user of this company.")

        return NewUserPlan(
            errors=errors,
            kind=kind,
            country=country,
            value=value,
            person=person,
            email=email,
            phone=phone,
            valid_from=valid_from,
            valid_until=valid_until,
            needs_portti_id=needs_portti_id,
            already_member=already_member,
        )

    def write(
        self,
        actor: Actor,
        company: Company,
        grant: AdminGrant,
        data: AddUserInput,
        plan: NewUserPlan,
        audit_details: dict[str, Any],
    ) -> Membership:
        membership, created = self.stage(company, data, plan)
        self.flush()
        self.record(actor, company, grant, data, plan, membership, created, audit_details)
        return membership

    def stage(
        self, company: Company, data: AddUserInput, plan: NewUserPlan
    ) -> tuple[Membership, bool]:
        """The person (unless the plan names an existing one) and the membership, added to the
        session but not yet flushed: many users are flushed together. Returns the membership
        and whether the person is new."""
        now = self.clock.now()
        person = plan.person
        created = person is None
        if person is None:
            person = Person(
                portti_id=new_portti_id(),
                given_name=" ".join((data.given_name or "").split()),
                family_name=" ".join((data.family_name or "").split()),
                email=plan.email,
                phone=plan.phone,
                created_at=now,
            )
            person.identifiers.append(
                PersonIdentifier(
                    kind=str(plan.kind), country=plan.country, value=plan.value, created_at=now
                )
            )
            self.db.add(person)
        membership = Membership(
            company_id=company.id,
            person=person,
            valid_from=plan.valid_from,
            valid_until=plan.valid_until,
            receives_email=data.receives_email,
            sort_name=sort_name_of(person.given_name, person.family_name),
            created_at=now,
            updated_at=now,
        )
        membership.roles = [MembershipRole(role_code=c) for c in sorted(set(data.roles))]
        membership.profiles = [MembershipProfile(profile_id=p) for p in sorted(set(data.profiles))]
        self.db.add(membership)
        return membership, created

    def flush(self) -> None:
        try:
            self.db.flush()
        except IntegrityError as exc:
            # Two admins adding the same identifier at once: the unique index decides.
            raise ValidationFailed(
                {"id_value": _l("A Portti user with this identifier was added just now.")}
            ) from exc

    def record(
        self,
        actor: Actor,
        company: Company,
        grant: AdminGrant,
        data: AddUserInput,
        plan: NewUserPlan,
        membership: Membership,
        created: bool,
        audit_details: dict[str, Any],
    ) -> None:
        person_id = membership.person.id
        valid_from, valid_until = plan.valid_from, plan.valid_until
        if created:
            self.audit.record(
                AuditAction.PERSON_CREATED,
                company_id=company.id,
                **actor.audit_actor,
                subject_person_id=person_id,
                identifier_kind=str(plan.kind),
                identifier_country=plan.country,
                **audit_details,
            )
        self.audit.record(
            AuditAction.MEMBERSHIP_ADDED,
            company_id=company.id,
            **actor.audit_actor,
            subject_person_id=person_id,
            linked_existing_person=not created,
            roles=sorted(set(data.roles)),
            profiles=sorted(set(data.profiles)),
            valid_from=valid_from.isoformat() if valid_from else None,
            valid_until=valid_until.isoformat() if valid_until else None,
            via=grant.via,
            **audit_details,
        )
