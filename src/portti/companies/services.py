"""Users and roles: listing, adding, changing and removing a company's users.

Every method that changes something takes an ``Actor`` and checks, here rather than in the
handlers, that the actor may administer the company (ADM-9), that the grant hierarchy lets them
touch this member or this person (SEC-1, SEC-7: ``AdminPolicy``) and that they stepped up
recently (ADM-2).
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, NoReturn

from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portti import hooks
from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.companies.errors import CompanyClosed, MemberOutranksAdmin, PersonNeedsSupport
from portti.companies.models import (
    Company,
    CompanyKind,
    Membership,
    MembershipProfile,
    MembershipRole,
    Profile,
    Role,
)
from portti.companies.policy import AdminGrant, AdminPolicy, local_today, login_scope
from portti.companies.schemas import (
    AddUserInput,
    ChangeMembershipInput,
    ChangePersonInput,
    IdentificationMethod,
    MembershipPatch,
    MemberStatus,
    Validity,
)
from portti.errors import Forbidden, NotFound, StepUpRequired, ValidationFailed
from portti.i18n import SUPPORTED, _l, gettext, use_locale
from portti.infra.clock import Clock
from portti.infra.outbox import Outbox
from portti.machines.principal import CompanyNotAllowed, MachinePrincipal
from portti.people.identity_numbers import IdentifierKind, InvalidIdentifier, normalise_identifier
from portti.people.models import Person, PersonIdentifier
from portti.people.phones import InvalidEmail, InvalidPhone, normalise_email, normalise_phone
from portti.people.portti_id import InvalidPorttiId, new_portti_id, normalise_portti_id
from portti.strongauth.step_up import is_stepped_up

if TYPE_CHECKING:
    from jinja2 import Environment

    from portti.weblogin.sessions import SessionService

PAGE_SIZE = 50
# The grant of a machine client (PRV-1), as USER_ADMIN, OFFICE_MAIN_USER and SUPPORT are of a
# person: it hands out the company's roles and user administrators, no system role above.
MACHINE = "machine"


@dataclass(frozen=True)
class Actor:
    """The administrator acting, and when they last proved who they are; or business software
    acting through a machine client (PRV-1: ``person_id`` None, no step-up)."""

    person_id: int | None
    strong_auth_at: datetime | None
    machine: MachinePrincipal | None = None

    @classmethod
    def of_machine(cls, principal: MachinePrincipal) -> Actor:
        return cls(person_id=None, strong_auth_at=None, machine=principal)

    @property
    def acting_person_id(self) -> int:
        """The person acting: what only a person may do refuses a machine client."""
        if self.person_id is None:
            raise Forbidden(_l("Only a person may do this."))
        return self.person_id

    @property
    def audit_actor(self) -> dict[str, Any]:
        """The actor as an audit row records it."""
        return {"actor_person_id": self.person_id, "machine": self.machine}


def machine_grant(
    db: Session, machine: MachinePrincipal, company_id: int, audit: AuditLog | None = None
) -> tuple[Company, AdminGrant]:
    """What a machine client may administer (PRV-1): the companies it was registered for, never
    the operator's (Support is not business software's to give), never a closed one. Refused
    alike whether or not the company exists; the refusal is audited (and kept) when ``audit``
    is given."""
    company = db.get(Company, company_id)
    if (
        company is None
        or not machine.may_act_on(company.id)
        or company.kind == CompanyKind.OPERATOR
        or company.closed_at is not None
    ):
        if audit is not None:
            audit.record(
                AuditAction.ACCESS_DENIED,
                company_id=company.id if company is not None else None,
                machine=machine,
                operation="machine_access",
                reason=CompanyNotAllowed.code,
            )
        raise CompanyNotAllowed()
    return company, AdminGrant(company.id, MACHINE, frozenset())


@dataclass(frozen=True)
class PersonChange:
    """What a change of personal details did: the fields, and the invitations it ended."""

    person: Person
    changed: list[str]
    cancelled_invitations: int


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


@dataclass(frozen=True)
class Page:
    items: Sequence[Membership]
    next_cursor: str | None


def sort_name_of(given_name: str, family_name: str) -> str:
    return f"{family_name} {given_name}".casefold()[:201]


def encode_cursor(sort_name: str, membership_id: int) -> str:
    raw = json.dumps([sort_name, membership_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        sort_name, membership_id = json.loads(raw)
        if (
            not isinstance(sort_name, str)
            or not isinstance(membership_id, int)
            or isinstance(membership_id, bool)
        ):
            raise ValueError
    except (ValueError, TypeError) as exc:  # TypeError: JSON that is not a pair at all
        raise ValidationFailed(
            {"cursor": _l("The page link is broken; start from the first page.")}
        ) from exc
    return sort_name, membership_id


def member_status(m: Membership, today: date) -> MemberStatus:
    if m.valid_from is not None and today < m.valid_from:
        return MemberStatus.UPCOMING
    if m.valid_until is not None and today > m.valid_until:
        return MemberStatus.ENDED
    return MemberStatus.ACTIVE


def refuse(
    audit: AuditLog,
    error: MemberOutranksAdmin | PersonNeedsSupport,
    actor: Actor,
    company: Company,
    person_id: int,
    operation: str,
) -> NoReturn:
    """Refusals of the grant hierarchy are audited (the route keeps the row), then raised."""
    audit.record(
        AuditAction.ACCESS_DENIED,
        company_id=company.id,
        **actor.audit_actor,
        subject_person_id=person_id,
        operation=operation,
        reason=error.code,
    )
    raise error


def require_person_rights(
    policy: AdminPolicy,
    audit: AuditLog,
    actor: Actor,
    company: Company,
    person_id: int,
    operation: str,
) -> None:
    if actor.machine is not None:
        allowed = machine_may_manage_person(policy, actor.machine, person_id)
    else:
        allowed = policy.may_manage_person(actor.acting_person_id, person_id)
    if not allowed:
        refuse(audit, PersonNeedsSupport(), actor, company, person_id, operation)


def machine_may_manage_person(
    policy: AdminPolicy, machine: MachinePrincipal, person_id: int
) -> bool:
    """The person-wide rule for business software (SEC-1, SEC-7): every company the person's
    rights reach must be one the machine client may act on; Support's are never."""
    reach = policy.reach_of(person_id)
    if reach.everything or not reach.companies:
        return False
    operator = policy.db.scalars(
        select(Company.id).where(
            Company.id.in_(reach.companies), Company.kind == CompanyKind.OPERATOR
        )
    ).first()
    return operator is None and all(machine.may_act_on(c) for c in reach.companies)


class MembershipService:
    def __init__(
        self,
        db: Session,
        clock: Clock,
        audit: AuditLog,
        *,
        step_up_window: timedelta = timedelta(minutes=15),
        outbox: Outbox | None = None,
        jinja: Environment | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit
        self.step_up_window = step_up_window
        self.outbox = outbox
        self.jinja = jinja
        self.policy = AdminPolicy(db, clock)

    # -- reading -------------------------------------------------------------------------

    def company_for_admin(
        self, actor_person_id: int, company_id: int
    ) -> tuple[Company, AdminGrant]:
        return self.policy.require_admin(actor_person_id, company_id)

    def _admin(self, who: Actor | int, company_id: int) -> tuple[Company, AdminGrant]:
        """Who may administer the company: a person by the policy (ADM-9), a machine client
        by its registration (PRV-1)."""
        if isinstance(who, Actor) and who.machine is not None:
            return machine_grant(self.db, who.machine, company_id, self.audit)
        person_id = who.acting_person_id if isinstance(who, Actor) else who
        return self.policy.require_admin(person_id, company_id)

    def list_members(
        self,
        actor_person_id: Actor | int,
        company_id: int,
        *,
        query: str = "",
        status: MemberStatus = MemberStatus.ALL,
        cursor: str | None = None,
        limit: int = PAGE_SIZE,
    ) -> Page:
        company, _ = self._admin(actor_person_id, company_id)
        today = local_today(company, self.clock.now())
        conditions = [Membership.company_id == company.id]
        if status is MemberStatus.ACTIVE:
            conditions += [
                or_(Membership.valid_from.is_(None), Membership.valid_from <= today),
                or_(Membership.valid_until.is_(None), Membership.valid_until >= today),
            ]
        elif status is MemberStatus.UPCOMING:
            conditions.append(Membership.valid_from > today)
        elif status is MemberStatus.ENDED:
            conditions.append(Membership.valid_until < today)
        if cursor:
            after = decode_cursor(cursor)
            conditions.append(tuple_(Membership.sort_name, Membership.id) > tuple_(*after))
        query = " ".join(query.split())
        q = select(Membership)
        if query:
            prefix = query.casefold()
            # The prefix is written as a range so that the (company, sort_name, id) index
            # serves it, in page order.
            by_name = and_(
                Membership.sort_name >= prefix, Membership.sort_name < prefix + "\U0010ffff"
            )
            person_ids = self._exactly_matching_person_ids(query)
            if not person_ids:
                q = q.where(*conditions, by_name)
            else:
                # "name range OR person" in one query makes the planner walk the whole company
                # in name order (SQLite keeps no statistics unless ANALYZE runs): 80-130 ms at
                # 100,000 members. Two index searches for the ids, then one load, take < 1 ms.
                ids = set(
                    self.db.scalars(
                        select(Membership.id)
                        .where(*conditions, by_name)
                        .order_by(Membership.sort_name, Membership.id)
                        .limit(limit + 1)
                    )
                )
                ids.update(
                    self.db.scalars(
                        select(Membership.id).where(
                            *conditions, Membership.person_id.in_(person_ids)
                        )
                    )
                )
                q = q.where(Membership.id.in_(sorted(ids)))
        else:
            q = q.where(*conditions)
        rows = self.db.scalars(
            q.order_by(Membership.sort_name, Membership.id).limit(limit + 1)
        ).all()
        items = rows[:limit]
        next_cursor = (
            encode_cursor(items[-1].sort_name, items[-1].id) if len(rows) > limit else None
        )
        return Page(items, next_cursor)

    def _exactly_matching_person_ids(self, query: str) -> list[int]:
        """The persons a search names exactly: by Portti ID, or by e-mail address."""
        try:
            pid = normalise_portti_id(query)
        except InvalidPorttiId:
            pid = None
        if pid is not None:
            match = Person.portti_id == pid
        elif "@" in query:
            # Addresses are stored as normalise_email leaves them (domain in lower case, local
            # part as given): match that form and the all-lower-case one, both by the index.
            emails = {query.lower()}
            with contextlib.suppress(InvalidEmail):
                emails.add(normalise_email(query))
            match = Person.email.in_(sorted(emails))
        else:
            return []
        return list(self.db.scalars(select(Person.id).where(match)))

    def get_member(
        self, actor_person_id: Actor | int, company_id: int, membership_id: int
    ) -> Membership:
        self._admin(actor_person_id, company_id)
        m = self.db.scalars(
            select(Membership)
            .where(Membership.id == membership_id, Membership.company_id == company_id)
            .options(selectinload(Membership.person).selectinload(Person.identifiers))
        ).one_or_none()
        if m is None:
            raise NotFound(_l("No such user in this company."))
        return m

    def available_roles(self, grant: AdminGrant, company: Company) -> list[Role]:
        codes = self.policy.grantable_roles(grant, company)
        roles = self.db.scalars(select(Role).order_by(Role.sort_order)).all()
        return [r for r in roles if r.code in codes]

    def available_profiles(self, company: Company) -> list[Profile]:
        return list(
            self.db.scalars(
                select(Profile)
                .where(or_(Profile.company_id.is_(None), Profile.company_id == company.id))
                .order_by(Profile.name)
            )
        )

    def today(self, company: Company) -> date:
        return local_today(company, self.clock.now())

    # -- changing ------------------------------------------------------------------------

    def require_change_rights(self, actor: Actor, company_id: int) -> tuple[Company, AdminGrant]:
        """The admin may administer the company (ADM-9) and, a person, stepped up recently
        (ADM-2)."""
        company, grant = self._admin(actor, company_id)
        if company.closed_at is not None:
            # Its history stays readable (the audit log); nobody adds or changes users in it.
            raise CompanyClosed()
        if actor.machine is not None:
            # Step-up proves a person is at the keyboard; a machine client proved itself at
            # the token endpoint moments ago (PRV-1).
            return company, grant
        now = self.clock.now()
        if not is_stepped_up(actor.strong_auth_at, now, self.step_up_window):
            raise StepUpRequired()
        return company, grant

    def set_default_language(self, actor: Actor, company_id: int, language: str) -> bool:
        """I18N-1: the language of pages and messages for the company's users who chose none
        and whose browser names none. A change like any other (step-up, audited); returns
        whether anything changed."""
        company, _ = self.require_change_rights(actor, company_id)
        if language not in SUPPORTED:
            raise ValidationFailed({"default_language": _l("Choose Finnish, Swedish or English.")})
        old = company.default_language
        if old == language:
            return False
        company.default_language = language
        self.audit.record(
            AuditAction.COMPANY_SETTINGS_CHANGED,
            company_id=company.id,
            **actor.audit_actor,
            default_language={"from": old, "to": language},
        )
        return True

    def require_person_rights(
        self, actor: Actor, company: Company, person_id: int, op: str
    ) -> None:
        """SEC-1, SEC-7: personal details, invitations and sessions are the person's, shared by
        every company their rights reach; only an admin of all of those (or Support) may."""
        require_person_rights(self.policy, self.audit, actor, company, person_id, op)

    def _require_membership_rights(
        self, actor: Actor, grant: AdminGrant, company: Company, m: Membership, op: str
    ) -> None:
        """SEC-7: a member holding a role the admin could not give is out of their hands."""
        above = self.policy.outranking_roles(grant, company, m)
        if above:
            refuse(self.audit, MemberOutranksAdmin(above), actor, company, m.person_id, op)

    def _check_roles(
        self,
        grant: AdminGrant,
        company: Company,
        roles: list[str],
        profiles: list[int],
        errors: dict[str, str],
        *,
        grantable: frozenset[str] | set[str] | None = None,
    ) -> None:
        allowed = self.policy.grantable_roles(grant, company) if grantable is None else grantable
        unknown = sorted(set(roles) - allowed)
        if unknown:
            errors["roles"] = _l(
                "These roles cannot be given here: %(roles)s.", roles=", ".join(unknown)
            )
        if profiles and set(profiles) - {p.id for p in self.available_profiles(company)}:
            errors["profiles"] = _l("Choose profiles from the list.")

    @staticmethod
    def _check_validity(
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

    def add_user(
        self,
        actor: Actor,
        company_id: int,
        data: AddUserInput,
        *,
        audit_details: dict[str, Any] | None = None,
    ) -> Membership:
        company, grant = self.require_change_rights(actor, company_id)
        plan = self.check_new_user(company, grant, data)
        if plan.errors:
            raise ValidationFailed(plan.errors)
        return self.write_new_user(actor, company, grant, data, plan, audit_details or {})

    def check_new_user(
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

        valid_from, valid_until = self._check_validity(
            data.validity, data.valid_from, data.valid_until, errors
        )
        self._check_roles(grant, company, data.roles, data.profiles, errors, grantable=grantable)
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

    def write_new_user(
        self,
        actor: Actor,
        company: Company,
        grant: AdminGrant,
        data: AddUserInput,
        plan: NewUserPlan,
        audit_details: dict[str, Any],
    ) -> Membership:
        membership, created = self.stage_new_user(company, data, plan)
        self.flush_new_users()
        self.audit_new_user(actor, company, grant, data, plan, membership, created, audit_details)
        return membership

    def stage_new_user(
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

    def flush_new_users(self) -> None:
        try:
            self.db.flush()
        except IntegrityError as exc:
            # Two admins adding the same identifier at once: the unique index decides.
            raise ValidationFailed(
                {"id_value": _l("A Portti user with this identifier was added just now.")}
            ) from exc

    def audit_new_user(
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

    def change_membership(
        self,
        actor: Actor,
        company_id: int,
        membership_id: int,
        data: ChangeMembershipInput | MembershipPatch,
    ) -> Membership:
        """Change a membership. The web form gives every field (``ChangeMembershipInput``);
        the JSON API's PATCH gives only the fields to change (``MembershipPatch``): the others
        keep their values."""
        company, grant = self.require_change_rights(actor, company_id)
        m = self.get_member(actor, company_id, membership_id)
        self._require_membership_rights(actor, grant, company, m, "change_membership")
        if isinstance(data, MembershipPatch):
            data = data.over(
                sorted(m.role_codes),
                sorted(m.profile_ids),
                m.valid_from,
                m.valid_until,
                m.receives_email,
            )
        errors: dict[str, str] = {}
        valid_from, valid_until = self._check_validity(
            data.validity, data.valid_from, data.valid_until, errors
        )
        self._check_roles(grant, company, data.roles, data.profiles, errors)
        if not data.roles and not data.profiles:
            errors["roles"] = _l("Choose at least one profile or role, or remove the user instead.")
        if errors:
            raise ValidationFailed(errors)
        before = {
            "roles": sorted(m.role_codes),
            "profiles": sorted(m.profile_ids),
            "valid_from": m.valid_from.isoformat() if m.valid_from else None,
            "valid_until": m.valid_until.isoformat() if m.valid_until else None,
            "receives_email": m.receives_email,
        }
        m.roles = [MembershipRole(role_code=c) for c in sorted(set(data.roles))]
        m.profiles = [MembershipProfile(profile_id=p) for p in sorted(set(data.profiles))]
        m.valid_from, m.valid_until = valid_from, valid_until
        m.receives_email = data.receives_email
        m.updated_at = self.clock.now()
        if not m.is_valid_on(local_today(company, m.updated_at)):
            # The membership has ended (or not begun): logins at business applications that
            # rest on it end now, not when their tokens would run out.
            hooks.membership_ended.fire(
                hooks.MembershipEnded(
                    self.db,
                    m.updated_at,
                    reason="membership_ended",
                    person_id=m.person_id,
                    company_id=company.id,
                )
            )
        after = {
            "roles": sorted(set(data.roles)),
            "profiles": sorted(set(data.profiles)),
            "valid_from": valid_from.isoformat() if valid_from else None,
            "valid_until": valid_until.isoformat() if valid_until else None,
            "receives_email": data.receives_email,
        }
        self.db.flush()
        self.audit.record(
            AuditAction.MEMBERSHIP_CHANGED,
            company_id=company.id,
            **actor.audit_actor,
            subject_person_id=m.person_id,
            changes={k: [before[k], after[k]] for k in after if before[k] != after[k]},
        )
        return m

    def change_person(
        self, actor: Actor, company_id: int, membership_id: int, data: ChangePersonInput
    ) -> PersonChange:
        company, _ = self.require_change_rights(actor, company_id)
        m = self.get_member(actor, company_id, membership_id)
        person = m.person
        self.require_person_rights(actor, company, person.id, "change_person")
        errors: dict[str, str] = {}
        for field in ("given_name", "family_name"):
            if not getattr(data, field).strip():
                errors[field] = _l("Required.")
        email = phone = ""
        try:
            email = normalise_email(data.email)
        except InvalidEmail as exc:
            errors["email"] = exc.message
        region = person.identifiers[0].country if person.identifiers else "FI"
        try:
            phone = normalise_phone(data.phone, default_region=region)
        except InvalidPhone as exc:
            errors["phone"] = exc.message
        if errors:
            raise ValidationFailed(errors)
        changed = []
        given, family = " ".join(data.given_name.split()), " ".join(data.family_name.split())
        if (given, family) != (person.given_name, person.family_name):
            changed.append("name")
            person.given_name, person.family_name = given, family
            new_sort = sort_name_of(given, family)
            for other in self.db.scalars(
                select(Membership).where(Membership.person_id == person.id)
            ):
                other.sort_name = new_sort
        cancelled = 0
        if (email, phone) != (person.email, person.phone):
            contact = [
                f
                for f, a, b in (("email", email, person.email), ("phone", phone, person.phone))
                if a != b
            ]
            changed += contact
            old_email, old_phone = person.email, person.phone
            person.email, person.phone = email, phone
            person.contact_version += 1
            cancelled = self._after_contact_change(
                actor, company, person, contact, old_email, old_phone
            )
        if changed:
            self.db.flush()
            self.audit.record(
                AuditAction.PERSON_UPDATED,
                company_id=company.id,
                **actor.audit_actor,
                subject_person_id=person.id,
                fields=changed,
                invitations_cancelled=cancelled,
            )
        return PersonChange(person, changed, cancelled)

    def _after_contact_change(
        self,
        actor: Actor,
        company: Company,
        person: Person,
        fields: list[str],
        old_email: str | None,
        old_phone: str | None,
    ) -> int:
        """SEC-3: open invitations went to the old address and number, so they end; SEC-1: the
        old address (or, without one, the old number) hears of the change."""
        from portti.notices import recipient_language

        now = self.clock.now()
        ended = hooks.contact_changed.fire(
            hooks.ContactChanged(self.db, self.audit, now, person.id, actor.audit_actor)
        )
        if self.outbox is None or self.jinja is None:
            raise RuntimeError("MembershipService needs an outbox to change contact details")
        admin: object = (
            self.db.get(Person, actor.person_id)
            if actor.person_id is not None
            # The message names business software by its name, as it names a person.
            else SimpleNamespace(full_name=actor.machine.name if actor.machine else "")
        )
        labels = {"email": _l("E-mail address"), "phone": _l("Mobile phone number")}
        ctx = {
            "person": person,
            "actor": admin,
            "by_software": actor.person_id is None,
            "company": company,
            "changed": [labels[f] for f in fields],
            "changed_at": now,
            "cancelled": ended > 0,
        }
        # In the person's own language, else their company's default (never the admin's).
        with use_locale(recipient_language(self.db, person, company=company)):
            if old_email:
                self.outbox.email(
                    to=old_email,
                    subject=gettext("Your contact details in Portti were changed"),
                    text=self.jinja.get_template("email/contact_changed.txt").render(ctx),
                    html=self.jinja.get_template("email/contact_changed.html").render(ctx),
                    kind="contact_changed",
                    company_id=company.id,
                    person_id=person.id,
                )
            elif old_phone:
                self.outbox.sms(
                    to=old_phone,
                    text=gettext(
                        "Your contact details in Portti were changed by %(company)s. If you did "
                        "not expect this, contact its user administrator or Portti customer "
                        "service.",
                        company=company.name,
                    ),
                    kind="contact_changed",
                    company_id=company.id,
                    person_id=person.id,
                )
        return ended

    def remove_membership(self, actor: Actor, company_id: int, membership_id: int) -> None:
        company, grant = self.require_change_rights(actor, company_id)
        m = self.get_member(actor, company_id, membership_id)
        self._require_membership_rights(actor, grant, company, m, "remove_membership")
        person_id = m.person_id
        roles = sorted(m.role_codes)
        self.db.delete(m)
        self.db.flush()
        hooks.membership_ended.fire(
            hooks.MembershipEnded(
                self.db,
                self.clock.now(),
                reason="membership_removed",
                person_id=person_id,
                company_id=company.id,
            )
        )
        self.audit.record(
            AuditAction.MEMBERSHIP_REMOVED,
            company_id=company.id,
            **actor.audit_actor,
            subject_person_id=person_id,
            roles=roles,
        )

    def end_sessions(
        self, actor: Actor, company_id: int, membership_id: int, sessions: SessionService
    ) -> int:
        """Ends every browser session of the member. Sessions are the person's, not the
        company's: the person-wide rule applies (SEC-7), and it is a change (ADM-2)."""
        company, _ = self.require_change_rights(actor, company_id)
        m = self.get_member(actor, company_id, membership_id)
        self.require_person_rights(actor, company, m.person_id, "end_sessions")
        return sessions.revoke_all(
            m.person_id, self.audit, actor_id=actor.acting_person_id, company_id=company.id
        )


class PersonDirectory:
    """A person's own view: their memberships and which are valid now (WEB-3, ADM-6)."""

    def __init__(self, db: Session, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def memberships(self, person_id: int) -> list[Membership]:
        return list(
            self.db.scalars(
                select(Membership)
                .where(Membership.person_id == person_id)
                .join(Company, Company.id == Membership.company_id)
                .order_by(Company.name)
            )
        )

    def valid_memberships(self, person_id: int) -> list[Membership]:
        """Valid now, and within what the request's login may enter (SEC-14)."""
        now = self.clock.now()
        scope = login_scope(self.db, person_id)
        return [
            m
            for m in self.memberships(person_id)
            if m.is_valid_on(local_today(m.company, now))
            and (scope is None or m.company_id in scope)
        ]

    def outside_login(self, person_id: int) -> list[Membership]:
        """Valid memberships the request's login does not carry: an app activated by another
        company's invitation (SEC-14)."""
        scope = login_scope(self.db, person_id)
        if scope is None:
            return []
        now = self.clock.now()
        return [
            m
            for m in self.memberships(person_id)
            if m.is_valid_on(local_today(m.company, now)) and m.company_id not in scope
        ]
