"""Which step an app activation is at. One place decides, so the app and the server agree.

invitation: confirm_phone → account (new: verify_email → password → totp | existing) → terms → device
account:    terms → device        (the account's password and TOTP were checked to start it)
bank_id:    terms → device        (Finnish bank ID instead of an invitation, APP-9)
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.accounts.models import Account, TermsAcceptance
from portti.devices.models import Activation, ActivationKind
from portti.errors import DomainError
from portti.invitations.models import Invitation, InvitationStatus


class WrongStep(DomainError):
    status = 409
    code = "wrong_step"
    title = "Not the next step"


def next_step(db: Session, act: Activation, current_terms: str) -> str:
    if act.completed_at is not None:
        return "done"
    if act.kind == ActivationKind.INVITATION:
        inv = db.get(Invitation, act.invitation_id)
        if inv is None or inv.status == InvitationStatus.CODE_ENTERED:
            return "confirm_phone"
        account = db.get(Account, act.account_id) if act.account_id else None
        if account is None:
            if act.email_to_verify and act.email_verified_at is None:
                return "verify_email"
            if act.email_verified_at is not None:
                return "password"
            return "account"
        if act.totp_confirmed_at is None:
            return "totp"
    if act.terms_version != current_terms and not _accepted(db, act.person_id, current_terms):
        return "terms"
    return "device"


def _accepted(db: Session, person_id: int, version: str) -> bool:
    """Someone who accepted the current terms before (e.g. re-activating) is not asked again."""
    return (
        db.scalar(
            select(TermsAcceptance.id)
            .where(TermsAcceptance.person_id == person_id, TermsAcceptance.version == version)
            .limit(1)
        )
        is not None
    )


def require_step(db: Session, act: Activation, current_terms: str, *allowed: str) -> str:
    step = next_step(db, act, current_terms)
    if step not in allowed:
        raise WrongStep(
            f"The activation is at the step “{step}”.", next_step=f"Continue with {step}."
        )
    return step
