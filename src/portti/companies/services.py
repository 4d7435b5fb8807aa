"""Users and roles: listing, adding, changing and removing a company's users.

Every method that changes something takes an ``Actor`` and checks, here rather than in the
handlers, that the actor may administer the company (ADM-9), that the grant hierarchy lets them
touch this member or this person (SEC-1, SEC-7: ``AdminPolicy``) and that they stepped up
recently (ADM-2). The work itself is done by parts: the list (``listing.py``), new users
(``new_users.py``) and a person's details (``person_details.py``).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portti import hooks
from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.companies.actors import Actor, machine_grant, refuse, require_person_rights
from portti.companies.errors import CompanyClosed, MemberOutranksAdmin
from portti.companies.listing import PAGE_SIZE, Page, members_page
from portti.companies.membership_rules import check_roles, check_validity, company_profiles
from portti.companies.models import (
    Company,
    Membership,
    MembershipProfile,
    MembershipRole,
    Profile,
    Role,
)
from portti.companies.new_users import NewUsers
from portti.companies.person_details import PersonChange, PersonDetails
from portti.companies.policy import (
    AdminGrant,
    AdminPolicy,
    is_stepped_up,
    local_today,
    login_scope,
)
from portti.companies.schemas import (
    AddUserInput,
    ChangeMembershipInput,
    ChangePersonInput,
    MembershipPatch,
    MemberStatus,
)
from portti.errors import NotFound, StepUpRequired, ValidationFailed
from portti.i18n import SUPPORTED, _l
from portti.infra.clock import Clock
from portti.infra.outbox import Outbox
from portti.people.models import Person

if TYPE_CHECKING:
    from jinja2 import Environment


class PersonSessions(Protocol):
    """Ends every browser session of a person (the web login's session service)."""

    def revoke_all(
        self,
        person_id: int,
        audit: AuditLog,
        *,
        actor_id: int,
        company_id: int | None = None,
        except_id: str | None = None,
    ) -> int: ...


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
        self.policy = AdminPolicy(db, clock)
        self.new_users = NewUsers(db, clock, audit, self.policy)
        self.person_details = PersonDetails(db, clock, audit, outbox=outbox, jinja=jinja)

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
        return members_page(
            self.db,
            company.id,
            local_today(company, self.clock.now()),
            query=query,
            status=status,
            cursor=cursor,
            limit=limit,
        )

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
        return company_profiles(self.db, company)

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

    def add_user(
        self,
        actor: Actor,
        company_id: int,
        data: AddUserInput,
        *,
        audit_details: dict[str, Any] | None = None,
    ) -> Membership:
        company, grant = self.require_change_rights(actor, company_id)
        plan = self.new_users.check(company, grant, data)
        if plan.errors:
            raise ValidationFailed(plan.errors)
        return self.new_users.write(actor, company, grant, data, plan, audit_details or {})

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
        valid_from, valid_until = check_validity(
            data.validity, data.valid_from, data.valid_until, errors
        )
        check_roles(self.policy, grant, company, data.roles, data.profiles, errors)
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
        self.require_person_rights(actor, company, m.person_id, "change_person")
        return self.person_details.change(actor, company, m.person, data)

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
        self, actor: Actor, company_id: int, membership_id: int, sessions: PersonSessions
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
