"""Admin JSON routes for invitations, under a member of a company."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from portti.companies.api import ReadingActor, WritingActor
from portti.companies.deps import CurrentActor
from portti.errors import NotFound
from portti.i18n import _l, localize
from portti.invitations.deps import Invitations
from portti.invitations.models import Invitation, InvitationStatus
from portti.invitations.schemas import AdminCodeOut, InvitationOut, InviteIn, StepOut
from portti.invitations.services import InvitationService
from portti.web.csrf import verify_csrf
from portti.web.deps import Id, Uow

router = APIRouter(
    prefix="/api/v1/companies/{company_id}/members/{membership_id}/invitation",
    dependencies=[Depends(verify_csrf)],
    tags=["invitations"],
)


def invitation_out(svc: InvitationService, inv: Invitation) -> InvitationOut:
    st = inv.effective_status(svc.clock.now())
    return InvitationOut(
        id=inv.id,
        status=st.value,
        sent_at=inv.sent_at,
        expires_at=inv.expires_at,
        inviter_name=inv.inviter_name,
        email=inv.email,
        phone=inv.phone,
        steps=[
            StepOut(name=s.name, label=localize(s.label), at=s.at, done=s.done)
            for s in svc.progress(inv)
        ],
        can_issue_confirmation_code=st is InvitationStatus.CODE_ENTERED,
    )


@router.get("", operation_id="get_invitation", response_model=InvitationOut)
def get_invitation(
    company_id: Id, membership_id: Id, actor: ReadingActor, invitations: Invitations
) -> InvitationOut:
    """The member's latest invitation: for an admin, or business software with
    ``members:read``."""
    _, inv = invitations.for_admin(actor, company_id, membership_id)
    if inv is None:
        raise NotFound(_l("This user has not been invited."))
    return invitation_out(invitations, inv)


@router.post(
    "",
    operation_id="send_invitation",
    response_model=InvitationOut,
    status_code=status.HTTP_201_CREATED,
)
def send_invitation(
    company_id: Id,
    membership_id: Id,
    body: InviteIn,
    request: Request,
    actor: WritingActor,
    invitations: Invitations,
    uow: Uow,
) -> InvitationOut:
    """Sends (or replaces) the invitation. The sign-up code goes only to the invitee's e-mail.

    Only an admin of every company the person's rights reach (or Support) may invite, only a
    membership valid today is invited, and after a change of e-mail or phone since the
    person's last invitation in any company only Support may invite again. Business software
    with ``members:write`` invites too (no step-up), when every company the person's rights
    reach is one it was registered for; the invitation then speaks of the company inviting."""
    # A refusal of the hierarchy is audited, and kept.
    inv = invitations.invite(
        actor,
        company_id,
        membership_id,
        identity_verified=body.identity_verified,
        language=body.language,
    )
    return invitation_out(invitations, inv)


@router.delete("", operation_id="cancel_invitation", status_code=status.HTTP_204_NO_CONTENT)
def cancel_invitation(
    company_id: Id,
    membership_id: Id,
    actor: CurrentActor,
    invitations: Invitations,
) -> Response:
    invitations.cancel(actor, company_id, membership_id)
    return Response(status_code=204)


@router.post(
    "/confirmation-code",
    operation_id="issue_confirmation_code",
    response_model=AdminCodeOut,
    status_code=status.HTTP_201_CREATED,
)
def issue_confirmation_code(
    company_id: Id,
    membership_id: Id,
    actor: CurrentActor,
    invitations: Invitations,
    response: Response,
) -> AdminCodeOut:
    """“Didn't the invitee get the confirmation code?” The code is in this answer only."""
    # A refusal of the hierarchy is audited, and kept.
    inv, code, cc = invitations.issue_admin_code(actor, company_id, membership_id)
    response.headers["Cache-Control"] = "no-store"
    return AdminCodeOut(code=code, expires_at=cc.expires_at, invitation_expires_at=inv.expires_at)
