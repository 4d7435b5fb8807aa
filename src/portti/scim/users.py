"""SCIM ``Users``: a company's memberships, created, read, replaced, patched, ended and removed
by the company's identity provider (PRV-3).

A SCIM user is the person's membership in this company. Creating one links an existing Portti
person only as the add-user wizard does (ADM-5): by the Portti ID together with an identifier
of the same person; an identifier already in Portti without its Portti ID is refused, and
anything else makes a new person. People are never matched by e-mail address or name.
``active: false`` ends the membership (its last day is yesterday) and keeps the person. How a
user reads, and the search, are in ``user_resources.py``.
"""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portti import hooks
from portti.audit.models import AuditAction, AuditEvent
from portti.companies.listing import sort_name_of
from portti.companies.models import Membership
from portti.i18n import _l
from portti.people.identity_numbers import IdentifierKind, InvalidIdentifier, normalise_identifier
from portti.people.models import Person, PersonIdentifier
from portti.people.portti_id import InvalidPorttiId, new_portti_id, normalise_portti_id
from portti.scim.context import ScimContext, check_if_match, parse_id
from portti.scim.errors import (
    InvalidValue,
    Mutability,
    ResourceNotFound,
    Uniqueness,
)
from portti.scim.models import ScimUser
from portti.scim.parsing import apply_patch, read_user
from portti.scim.persons import PersonDetails, change_person, read_details
from portti.scim.resources import (
    PORTTI_USER_SCHEMA,
    PorttiUser,
    ScimUserModel,
)
from portti.scim.user_resources import Written, load_members, search_users, user_resource


class ScimUsers:
    def __init__(self, ctx: ScimContext) -> None:
        self.ctx = ctx
        self.db = ctx.db

    def resource(self, m: Membership, row: ScimUser | None) -> dict[str, Any]:
        return user_resource(self.ctx, m, row)

    def _load(self, membership_id: int) -> tuple[Membership, ScimUser | None]:
        found = load_members(
            self.db, Membership.id == membership_id, Membership.company_id == self.ctx.company.id
        )
        if not found:
            raise ResourceNotFound(_l("No such user in this company."))
        return found[0]

    # -- reading -------------------------------------------------------------------------

    def get(self, resource_id: str) -> Written:
        m, row = self._load(parse_id(resource_id))
        body = self.resource(m, row)
        return Written(body, body["meta"]["version"])

    def search(self, filter_text: str | None, start_index: int, count: int) -> dict[str, Any]:
        return search_users(self.ctx, filter_text, start_index, count)

    # -- checks shared by create and replace --------------------------------------------

    def _user_name(self, user: ScimUserModel, membership_id: int | None) -> str:
        name = " ".join((user.user_name or "").split())
        if not name:
            raise InvalidValue(_l("userName is required."))
        if len(name) > 300:
            raise InvalidValue(_l("userName is too long (at most 300 characters)."))
        taken = self.db.scalar(
            select(ScimUser.membership_id).where(
                ScimUser.company_id == self.ctx.company.id,
                ScimUser.user_name_key == name.casefold(),
            )
        )
        if taken is not None and taken != membership_id:
            raise Uniqueness(
                _l("Another user of this company has the userName “%(name)s”.", name=name)
            )
        return name

    def _window(
        self, ext: PorttiUser | None, active: bool | None
    ) -> tuple[date | None, date | None]:
        valid_from = ext.validFrom if ext else None
        valid_until = ext.validUntil if ext else None
        if valid_from and valid_until and valid_until < valid_from:
            raise InvalidValue(_l("validUntil is before validFrom."))
        if active is False:
            # Ended: the last day was yesterday (the window may not end before it starts).
            yesterday = self.ctx.yesterday()
            if valid_until is None or valid_until > yesterday:
                valid_until = yesterday
            if valid_from is not None and valid_from > valid_until:
                valid_from = None
        elif active is True and valid_until is not None and valid_until < self.ctx.today():
            # Active again: the rights hold until further notice.
            valid_until = None
        return valid_from, valid_until

    def create(self, payload: Any) -> Written:
        user = read_user(payload, creating=True)
        ctx = self.ctx
        user_name = self._user_name(user, None)
        ext = user[PorttiUser]
        if ext is None or not (ext.identifier or "").strip():
            raise InvalidValue(
                _l(
                    "Give the person's identifier and its issuing country in %(schema)s "
                    "(identifier, issuingCountry).",
                    schema=PORTTI_USER_SCHEMA,
                )
            )
        kind_text = (ext.identifierKind or "").strip().lower()
        country_in = (ext.issuingCountry or "").strip().upper()
        if not kind_text:
            kind_text = "fi_hetu" if country_in in {"", "FI"} else "personal_number"
        try:
            kind = IdentifierKind(kind_text)
        except ValueError as exc:
            raise InvalidValue(
                _l("identifierKind is fi_hetu, personal_number or other_code.")
            ) from exc
        if kind is IdentifierKind.PERSONAL_NUMBER and country_in == "FI":
            kind = IdentifierKind.FI_HETU  # one kind for a Finnish code, as in the wizard
        try:
            country, value = normalise_identifier(kind, ext.identifier or "", country_in or None)
        except InvalidIdentifier as exc:
            raise InvalidValue(exc.message) from exc
        existing = self.db.scalars(
            select(PersonIdentifier).where(
                PersonIdentifier.kind == kind,
                PersonIdentifier.country == country,
                PersonIdentifier.value == value,
            )
        ).one_or_none()
        person: Person | None = None
        if ext.porttiId:
            try:
                pid = normalise_portti_id(ext.porttiId)
            except InvalidPorttiId as exc:
                raise InvalidValue(exc.message) from exc
            person = self.db.scalars(select(Person).where(Person.portti_id == pid)).one_or_none()
            # Knowing the Portti ID or the identifier alone does not attach a person to
            # another company: both must name the same person (ADM-5, as the wizard).
            if person is None or existing is None or existing.person_id != person.id:
                raise InvalidValue(
                    _l(
                        "No Portti user has this Portti ID together with the identifier given. "
                        "Check both."
                    )
                )
        elif existing is not None:
            raise self._already_a_portti_user(existing.person_id)
        now = ctx.clock.now()
        created = person is None
        if person is None:
            details = read_details(user, country)
            person = Person(
                portti_id=new_portti_id(),
                given_name=details.given_name,
                family_name=details.family_name,
                email=details.email,
                phone=details.phone,
                created_at=now,
            )
            person.identifiers.append(
                PersonIdentifier(kind=str(kind), country=country, value=value, created_at=now)
            )
            self.db.add(person)
            try:
                self.db.flush()
            except IntegrityError as exc:
                # Two requests adding the same identifier at once: the unique index decides.
                raise Uniqueness(
                    _l("A Portti user with this identifier was added just now.")
                ) from exc
        elif self.db.scalar(
            select(Membership.id).where(
                Membership.company_id == ctx.company.id, Membership.person_id == person.id
            )
        ):
            raise Uniqueness(_l("This person is already a user of this company."))
        valid_from, valid_until = self._window(ext, user.active)
        m = Membership(
            company_id=ctx.company.id,
            person=person,
            valid_from=valid_from,
            valid_until=valid_until,
            receives_email=True,
            sort_name=sort_name_of(person.given_name, person.family_name),
            created_at=now,
            updated_at=now,
        )
        self.db.add(m)
        try:
            self.db.flush()
        except IntegrityError as exc:
            raise Uniqueness(_l("This user was added just now by another request.")) from exc
        row = ScimUser(
            membership_id=m.id,
            company_id=ctx.company.id,
            user_name=user_name,
            user_name_key=user_name.casefold(),
            external_id=user.external_id,
            display_name=user.display_name,
        )
        self.db.add(row)
        try:
            self.db.flush()
        except IntegrityError as exc:
            raise Uniqueness(
                _l("Another user of this company has the userName “%(name)s”.", name=user_name)
            ) from exc
        if created:
            ctx.record(
                AuditAction.PERSON_CREATED,
                subject_person_id=person.id,
                identifier_kind=str(kind),
                identifier_country=country,
            )
        ctx.record(
            AuditAction.MEMBERSHIP_ADDED,
            subject_person_id=person.id,
            linked_existing_person=not created,
            roles=[],
            profiles=[],
            valid_from=valid_from.isoformat() if valid_from else None,
            valid_until=valid_until.isoformat() if valid_until else None,
        )
        self.db.refresh(m)
        body = self.resource(m, row)
        return Written(body, body["meta"]["version"])

    def _already_a_portti_user(self, person_id: int) -> Uniqueness:
        """409 for an identifier Portti knows, created without its Portti ID: what the directory
        administrator does next. A person removed from this company earlier is named as such:
        removing a user keeps the person, so the identity provider's new POST lands here."""
        removed_here = self.db.scalar(
            select(AuditEvent.id)
            .where(
                AuditEvent.subject_person_id == person_id,
                AuditEvent.company_id == self.ctx.company.id,
                AuditEvent.action == AuditAction.MEMBERSHIP_REMOVED,
            )
            .limit(1)
        )
        if removed_here is not None:
            return Uniqueness(
                _l(
                    "This person was removed from this company earlier and is still a Portti "
                    "user: removing a user keeps the person. To add them again, send their "
                    "Portti ID in porttiId together with the identifier (the person sees it in "
                    "Portti's Basic settings); people are never merged."
                )
            )
        return Uniqueness(
            _l(
                "This person is a Portti user already (through another company, or removed "
                "from this one). To add them to this company, send their Portti ID in porttiId "
                "together with the identifier (the person sees it in Portti's Basic settings); "
                "people are never merged."
            )
        )

    def replace(self, resource_id: str, payload: Any, if_match: str | None) -> Written:
        m, row = self._load(parse_id(resource_id))
        check_if_match(if_match, self.resource(m, row)["meta"]["version"])
        return self._write(m, row, read_user(payload, creating=False))

    def patch(self, resource_id: str, payload: Any, if_match: str | None) -> Written:
        m, row = self._load(parse_id(resource_id))
        current = self.resource(m, row)
        check_if_match(if_match, current["meta"]["version"])
        model = ScimUserModel.model_validate(
            {k: v for k, v in current.items() if k not in {"meta", "groups"}}
        )
        return self._write(m, row, apply_patch(payload, model, ScimUserModel))

    def _write(self, m: Membership, row: ScimUser | None, user: ScimUserModel) -> Written:
        ctx = self.ctx
        ctx.require_membership_rights(m)
        person = m.person
        user_name = self._user_name(user, m.id)
        ext = user[PorttiUser]
        ident = person.identifiers[0] if person.identifiers else None
        if ext is not None:
            self._check_unchanged(ext, person, ident)
        # A displayName Portti made from the name (the identity provider gave none) comes back
        # in a PATCH's or PUT's copy: it is still the default, and follows the name.
        display_name = " ".join((user.display_name or "").split()) or None
        if (row is None or row.display_name is None) and display_name == person.full_name:
            display_name = None
        region = ident.country if ident else "FI"
        details = read_details(user, region)
        # Contact details SCIM leaves out stay as they are: they are the person's.
        details = PersonDetails(
            details.given_name,
            details.family_name,
            details.email or person.email,
            details.phone or person.phone,
        )
        changed = change_person(ctx, person, details)
        now = ctx.clock.now()
        if row is None:
            row = ScimUser(membership_id=m.id, company_id=ctx.company.id)
            self.db.add(row)
        row.user_name, row.user_name_key = user_name, user_name.casefold()
        row.external_id = user.external_id
        row.display_name = display_name
        valid_from, valid_until = self._window(ext, user.active)
        before = (m.valid_from, m.valid_until)
        if before != (valid_from, valid_until):
            m.valid_from, m.valid_until = valid_from, valid_until
            m.updated_at = now
            if not m.is_valid_on(ctx.today()):
                # Ended (or not begun): the business applications' logins on it end now.
                hooks.membership_ended.fire(
                    hooks.MembershipEnded(
                        self.db, now, reason="membership_ended", person_id=m.person_id,
                        company_id=ctx.company.id,
                    )
                )  # fmt: skip
            ctx.record(
                AuditAction.MEMBERSHIP_CHANGED,
                subject_person_id=m.person_id,
                changes={
                    "valid_from": [_iso(before[0]), _iso(valid_from)],
                    "valid_until": [_iso(before[1]), _iso(valid_until)],
                },
            )
        elif changed:
            m.updated_at = now
        try:
            self.db.flush()
        except IntegrityError as exc:
            raise Uniqueness(
                _l("Another user of this company has the userName “%(name)s”.", name=user_name)
            ) from exc
        body = self.resource(m, row)
        return Written(body, body["meta"]["version"])

    @staticmethod
    def _check_unchanged(ext: PorttiUser, person: Person, ident: PersonIdentifier | None) -> None:
        """The attributes that name the person may be sent again (RFC 7644 §3.5.1: the value
        must match), in any written form of the same value; a different value is refused."""
        if ident is None:
            return
        kind = IdentifierKind(ident.kind)
        country = (ext.issuingCountry or "").strip().upper()
        if country and country != ident.country:
            raise _immutable("issuingCountry")
        kind_text = (ext.identifierKind or "").strip().lower()
        if kind_text:
            same_kind = {kind.value}
            if kind is IdentifierKind.FI_HETU:
                same_kind.add(IdentifierKind.PERSONAL_NUMBER.value)  # the wizard's one kind
            if kind_text not in same_kind:
                raise _immutable("identifierKind")
        given = (ext.identifier or "").strip()
        if given and given != ident.value:
            with contextlib.suppress(InvalidIdentifier):
                _, given = normalise_identifier(kind, given, ident.country)
            if given != ident.value:
                raise _immutable("identifier")
        pid = (ext.porttiId or "").strip()
        if pid and pid != person.portti_id:
            with contextlib.suppress(InvalidPorttiId):
                pid = normalise_portti_id(pid)
            if pid != person.portti_id:
                raise _immutable("porttiId")

    def delete(self, resource_id: str, if_match: str | None) -> None:
        ctx = self.ctx
        m, row = self._load(parse_id(resource_id))
        check_if_match(if_match, self.resource(m, row)["meta"]["version"])
        ctx.require_membership_rights(m)
        person_id, roles = m.person_id, sorted(m.role_codes)
        self.db.delete(m)
        self.db.flush()
        hooks.membership_ended.fire(
            hooks.MembershipEnded(
                self.db,
                ctx.clock.now(),
                reason="membership_removed",
                person_id=person_id,
                company_id=ctx.company.id,
            )
        )
        ctx.record(AuditAction.MEMBERSHIP_REMOVED, subject_person_id=person_id, roles=roles)


def _immutable(attribute: str) -> Mutability:
    return Mutability(
        _l("%(attribute)s cannot be changed: it names the person.", attribute=attribute)
    )


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
