"""Inviting many users at once (PRV-4): after a file of users was added, "Invite all who need the
app" sends each of them the invitation the user's page sends (INV-1 … INV-3), one by one with
every rule of ``InvitationService.invite``, and follows their delivery."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from portti.companies.actors import Actor
from portti.companies.errors import PersonNeedsSupport
from portti.companies.models import Membership
from portti.errors import DomainError, NotFound, ValidationFailed
from portti.i18n import _l, localize
from portti.infra.outbox import OutboxMessage, OutboxStatus
from portti.invitations.errors import InviteeNotValid, ReinviteNeedsSupport
from portti.invitations.models import Invitation, InvitationStatus
from portti.invitations.services import InvitationService

MAX_FOLLOWED = 5000
# The refusals of one invitation that skip that person and let the others go.
SKIPPING = (ValidationFailed, ReinviteNeedsSupport, PersonNeedsSupport, InviteeNotValid, NotFound)


@dataclass(frozen=True)
class InviteOutcome:
    membership_id: int
    name: str
    invited: bool
    reason: str | None


@dataclass(frozen=True)
class Progress:
    """One invited person's invitation: its state, and whether its e-mail has left."""

    name: str
    status: InvitationStatus | None
    status_label: str
    # The e-mail: "sent" (left for the mail server), "failed" (given up), or "waiting".
    delivery: str


STATUS_LABELS = {
    InvitationStatus.SENT: _l("Invitation sent"),
    InvitationStatus.CODE_ENTERED: _l("Sign-up code entered in the app"),
    InvitationStatus.PHONE_CONFIRMED: _l("Phone confirmed"),
    InvitationStatus.ACTIVATED: _l("App activated"),
    InvitationStatus.CANCELLED: _l("Cancelled"),
    InvitationStatus.SUPERSEDED: _l("Replaced by a newer invitation"),
    InvitationStatus.EXPIRED: _l("Expired"),
}


def invite_all(
    invitations: InvitationService,
    actor: Actor,
    company_id: int,
    membership_ids: Sequence[int],
    *,
    identity_verified: bool,
    language: str | None,
) -> list[InviteOutcome]:
    """Invites each member; a member who cannot be invited now is skipped with the reason."""
    if not identity_verified:
        raise ValidationFailed(
            {
                "identity_verified": _l(
                    "Tick the box to confirm that you have verified these persons' identities."
                )
            }
        )
    outcomes = []
    for mid in dict.fromkeys(membership_ids):
        try:
            inv = invitations.invite(
                actor, company_id, mid, identity_verified=True, language=language
            )
        except SKIPPING as exc:
            m = invitations.db.get(Membership, mid)
            name = m.person.full_name if m is not None and m.company_id == company_id else ""
            outcomes.append(InviteOutcome(mid, name, False, _reason(exc)))
            continue
        outcomes.append(InviteOutcome(mid, inv.person.full_name, True, None))
    return outcomes


def _reason(exc: DomainError) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        return " ".join(str(localize(m)) for m in errors.values())
    return str(localize(exc.message))


def progress(
    invitations: InvitationService, actor: Actor, company_id: int, since: datetime
) -> list[Progress]:
    """The invitations this admin sent in this company since ``since`` (one "Invite all"), each
    with its state and whether its e-mail has left."""
    # A person's page (Users and roles, after "Invite all"): a machine has no such page.
    assert actor.person_id is not None
    invitations.policy.require_admin(actor.person_id, company_id)
    db = invitations.db
    now = invitations.clock.now()
    sent = db.scalars(
        select(Invitation)
        .where(
            Invitation.company_id == company_id,
            Invitation.inviter_person_id == actor.person_id,
            Invitation.sent_at >= since,
        )
        .order_by(Invitation.id)
        .limit(MAX_FOLLOWED)
    ).all()
    delivery = {
        person_id: status
        for person_id, status in db.execute(
            select(OutboxMessage.person_id, OutboxMessage.status)
            .where(
                OutboxMessage.kind == "invitation",
                OutboxMessage.company_id == company_id,
                OutboxMessage.created_at >= since,
            )
            .order_by(OutboxMessage.id)
        )
    }
    rows = []
    for inv in sent:
        status = inv.effective_status(now)
        rows.append(
            Progress(
                inv.person.full_name,
                status,
                str(localize(STATUS_LABELS[status])),
                _delivery(delivery.get(inv.person_id)),
            )
        )
    return sorted(rows, key=lambda p: p.name.casefold())


def _delivery(status: str | None) -> str:
    if status == OutboxStatus.SENT.value:
        return "sent"
    if status == OutboxStatus.FAILED.value:
        return "failed"
    return "waiting"
