"""A person's details as SCIM sends them: read from a User, and changed only where the rules
for personal details allow (SEC-1, SEC-3, SEC-7)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from portti.audit.models import AuditAction
from portti.companies.listing import sort_name_of
from portti.companies.models import Membership
from portti.companies.notices import Notifier
from portti.companies.person_details import tell_old_contact
from portti.i18n import _l
from portti.invitations.endings import cancel_after_contact_change
from portti.people.models import Person
from portti.people.phones import InvalidEmail, InvalidPhone, normalise_email, normalise_phone
from portti.scim.context import ScimContext, Sender
from portti.scim.errors import AuditedRefusal, InvalidValue
from portti.scim.resources import ScimUserModel


@dataclass(frozen=True)
class PersonDetails:
    given_name: str
    family_name: str
    email: str | None
    phone: str | None


def read_details(user: ScimUserModel, region: str) -> PersonDetails:
    given = " ".join(((user.name.given_name if user.name else None) or "").split())
    family = " ".join(((user.name.family_name if user.name else None) or "").split())
    if not given or not family:
        raise InvalidValue(_l("name.givenName and name.familyName are required."))
    if len(given) > 100 or len(family) > 100:
        raise InvalidValue(_l("A name is too long (at most 100 characters)."))
    email = phone = None
    emails = [e for e in (user.emails or []) if e.value]
    if emails:
        chosen = next((e for e in emails if e.primary), emails[0])
        try:
            email = normalise_email(str(chosen.value))
        except InvalidEmail as exc:
            raise InvalidValue(exc.message) from exc
    phones = [n for n in (user.phone_numbers or []) if n.value]
    if phones:
        chosen_phone = next((n for n in phones if n.primary), phones[0])
        try:
            phone = normalise_phone(str(chosen_phone.value), default_region=region)
        except InvalidPhone as exc:
            raise InvalidValue(exc.message) from exc
    return PersonDetails(given, family, email, phone)


# -- writing -------------------------------------------------------------------------


def change_person(ctx: ScimContext, person: Person, details: PersonDetails) -> list[str]:
    """Personal details are shared by every company the person's rights reach (SEC-1, SEC-7):
    changed here only when this company is the only one; a new address or number cancels
    the open invitations (SEC-3) and is told to the old one."""
    changed = []
    if (details.given_name, details.family_name) != (person.given_name, person.family_name):
        changed.append("name")
    contact = [
        f
        for f, new, old in (
            ("email", details.email, person.email),
            ("phone", details.phone, person.phone),
        )
        if new != old
    ]
    changed += contact
    if not changed:
        return []
    if not ctx.may_change_person(person.id):
        ctx.record(
            AuditAction.ACCESS_DENIED,
            subject_person_id=person.id,
            operation="scim_change_person",
            reason="person_needs_support",
        )
        raise AuditedRefusal(
            _l(
                "This person's name and contact details are shared with other companies: "
                "only customer service can change them. Send them as they are in Portti."
            )
        )
    if "name" in changed:
        person.given_name, person.family_name = details.given_name, details.family_name
        new_sort = sort_name_of(person.given_name, person.family_name)
        for other in ctx.db.scalars(select(Membership).where(Membership.person_id == person.id)):
            other.sort_name = new_sort
    cancelled = 0
    if contact:
        old_email, old_phone = person.email, person.phone
        person.email, person.phone = details.email, details.phone
        person.contact_version += 1
        # SEC-3: open invitations went to the old address and number.
        cancelled = len(
            cancel_after_contact_change(
                ctx.db,
                ctx.audit,
                ctx.clock.now(),
                person.id,
                actor_person_id=None,
                machine=ctx.actor,
            )
        )
        _tell_old_contact(ctx, person, contact, old_email, old_phone, cancelled)
    ctx.record(
        AuditAction.PERSON_UPDATED,
        subject_person_id=person.id,
        fields=changed,
        invitations_cancelled=cancelled,
    )
    return changed


def _tell_old_contact(
    ctx: ScimContext,
    person: Person,
    fields: list[str],
    old_email: str | None,
    old_phone: str | None,
    cancelled: int,
) -> None:
    """SEC-1: the old address (or, without one, the old number) hears of the change, as
    when a user administrator makes it (``companies/person_details.py``)."""
    if ctx.outbox is None or ctx.jinja is None:
        raise RuntimeError("SCIM needs an outbox to change contact details")
    tell_old_contact(
        Notifier(ctx.db, ctx.outbox, ctx.jinja),
        person,
        ctx.company,
        fields,
        old_email=old_email,
        old_phone=old_phone,
        # The notice names the identity provider's app by its name, as it names a person.
        actor=Sender(ctx.actor.name),
        by_software=False,
        changed_at=ctx.clock.now(),
        cancelled=bool(cancelled),
    )
