"""Invitations ended from outside their own lifecycle: a company closed (PRV-2), or the person's
contact details changed (SEC-3). ``invitations/subscribers.py`` runs these on the hooks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog, MachineActor
from portti.invitations.models import LIVE_STATUSES, Invitation, InvitationStatus


def cancel_company_invitations(
    db: Session, audit: AuditLog, now: datetime, company_id: int, machine: MachineActor | None
) -> int:
    """A closed company's live invitations end (PRV-2): their codes stop working."""
    count = 0
    for inv in db.scalars(
        select(Invitation).where(
            Invitation.company_id == company_id,
            Invitation.status.in_([s.value for s in LIVE_STATUSES]),
        )
    ):
        inv.status = InvitationStatus.CANCELLED
        inv.ended_at = now
        inv.code_hash = None
        for c in inv.codes:
            c.revoked_at = c.revoked_at or now
        audit.record(
            AuditAction.INVITATION_CANCELLED,
            company_id=company_id,
            machine=machine,
            subject_person_id=inv.person_id,
            invitation_id=inv.id,
            reason="company_closed",
        )
        count += 1
    return count


def cancel_after_contact_change(
    db: Session,
    audit: AuditLog,
    now: datetime,
    person_id: int,
    *,
    actor_person_id: int | None,
    machine: MachineActor | None = None,
) -> list[Invitation]:
    """SEC-3: an invitation belongs to the e-mail address and phone number it was sent to.
    When either changes, every open invitation of the person, in every company, ends: the
    sign-up code, the SMS codes and any admin-issued code stop working, and an activation
    under way stops at its next step."""
    ended = []
    for inv in db.scalars(
        select(Invitation)
        .where(
            Invitation.person_id == person_id,
            Invitation.status.in_([s.value for s in LIVE_STATUSES]),
        )
        .order_by(Invitation.id)
    ):
        if inv.effective_status(now) not in LIVE_STATUSES:
            continue  # expired already: nothing left to end
        inv.status = InvitationStatus.CANCELLED
        inv.ended_at = now
        inv.ended_by_person_id = actor_person_id
        inv.code_hash = None
        for c in inv.codes:
            c.revoked_at = c.revoked_at or now
        audit.record(
            AuditAction.INVITATION_CANCELLED,
            company_id=inv.company_id,
            actor_person_id=actor_person_id,
            machine=machine,
            subject_person_id=person_id,
            invitation_id=inv.id,
            reason="contact_changed",
        )
        ended.append(inv)
    return ended
