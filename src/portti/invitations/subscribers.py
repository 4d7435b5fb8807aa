"""What ends among invitations when a company closes or a person's contact details change."""

from __future__ import annotations

from typing import cast

from portti import hooks
from portti.audit.services import AuditLog
from portti.invitations.endings import cancel_after_contact_change, cancel_company_invitations


def on_company_closed(event: hooks.CompanyClosed) -> int:
    """A closed company's live invitations end (PRV-2): their codes stop working."""
    return cancel_company_invitations(
        event.db,
        cast(AuditLog, event.audit),
        event.at,
        event.company_id,
        event.audit_actor.get("machine"),
    )


def on_contact_changed(event: hooks.ContactChanged) -> int:
    """SEC-3: open invitations went to the old address and number, so they end."""
    ended = cancel_after_contact_change(
        event.db,
        cast(AuditLog, event.audit),
        event.at,
        event.person_id,
        actor_person_id=event.audit_actor.get("actor_person_id"),
        machine=event.audit_actor.get("machine"),
    )
    return len(ended)


def connect() -> None:
    hooks.company_closed.connect(on_company_closed)
    hooks.contact_changed.connect(on_contact_changed)
