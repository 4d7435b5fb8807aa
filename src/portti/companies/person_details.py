"""A person's details as a user administrator changes them: the name (in every company's
list), and the e-mail address and phone number, whose change ends the invitations sent to the
old ones (SEC-3) and is told to the old address or number (SEC-1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from portti import hooks
from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.companies.actors import Actor
from portti.companies.listing import sort_name_of
from portti.companies.models import Company, Membership
from portti.companies.notices import Notifier
from portti.companies.schemas import ChangePersonInput
from portti.errors import ValidationFailed
from portti.i18n import _l, gettext
from portti.infra.clock import Clock
from portti.infra.outbox import Outbox
from portti.people.models import Person
from portti.people.phones import InvalidEmail, InvalidPhone, normalise_email, normalise_phone

if TYPE_CHECKING:
    from jinja2 import Environment


@dataclass(frozen=True)
class PersonChange:
    """What a change of personal details did: the fields, and the invitations it ended."""

    person: Person
    changed: list[str]
    cancelled_invitations: int


class PersonDetails:
    def __init__(
        self,
        db: Session,
        clock: Clock,
        audit: AuditLog,
        *,
        outbox: Outbox | None = None,
        jinja: Environment | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit
        self.notifier = (
            Notifier(db, outbox, jinja) if outbox is not None and jinja is not None else None
        )

    def change(
        self, actor: Actor, company: Company, person: Person, data: ChangePersonInput
    ) -> PersonChange:
        """Changes the person's name and contact details; the caller checked the actor's
        rights over the person (SEC-1, SEC-7) and their step-up (ADM-2)."""
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
        now = self.clock.now()
        ended = hooks.contact_changed.fire(
            hooks.ContactChanged(self.db, self.audit, now, person.id, actor.audit_actor)
        )
        if self.notifier is None:
            raise RuntimeError("PersonDetails needs an outbox to change contact details")
        admin: object = (
            self.db.get(Person, actor.person_id)
            if actor.person_id is not None
            # The message names business software by its name, as it names a person.
            else SimpleNamespace(full_name=actor.machine.name if actor.machine else "")
        )
        tell_old_contact(
            self.notifier,
            person,
            company,
            fields,
            old_email=old_email,
            old_phone=old_phone,
            actor=admin,
            by_software=actor.person_id is None,
            changed_at=now,
            cancelled=ended > 0,
        )
        return ended


def tell_old_contact(
    notifier: Notifier,
    person: Person,
    company: Company,
    fields: list[str],
    *,
    old_email: str | None,
    old_phone: str | None,
    actor: object,
    by_software: bool,
    changed_at: datetime,
    cancelled: bool,
) -> bool:
    """SEC-1: the old address (or, without one, the old number) hears that the contact details
    changed, and who changed them (``actor``'s ``full_name``). Returns whether a message was
    queued."""
    labels = {"email": _l("E-mail address"), "phone": _l("Mobile phone number")}
    ctx = {
        "person": person,
        "actor": actor,
        "by_software": by_software,
        "company": company,
        "changed": [labels[f] for f in fields],
        "changed_at": changed_at,
        "cancelled": cancelled,
    }
    # In the person's own language, else their company's default (never the admin's).
    with notifier.in_language_of(person, company=company):
        if old_email:
            notifier.email(
                "contact_changed",
                ctx,
                to=old_email,
                subject=gettext("Your contact details in Portti were changed"),
                kind="contact_changed",
                company_id=company.id,
                person_id=person.id,
            )
        elif old_phone:
            notifier.outbox.sms(
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
        else:
            return False
    return True
