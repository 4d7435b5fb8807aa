"""The app's activation API, first steps: sign-up code, then the confirmation code (APP-1)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from portti.activation.deps import Steps
from portti.invitations.errors import ActivationUnknown
from portti.invitations.models import InvitationStatus
from portti.invitations.schemas import (
    ActivationStarted,
    ActivationState,
    ConfirmationCodeIn,
    ResendOut,
    SignupCodeIn,
)
from portti.invitations.signup import MAX_SMS_RESENDS
from portti.web.deps import Uow, client_ip

PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A problem with a stable `code` and a human `next_step`"},
    401: {"description": "`activation_unknown`"},
    409: {"description": "`invitation_wrong_state`"},
    410: {"description": "`invitation_expired`"},
    429: {"description": "`rate_limited` or `sms_resend_limit`"},
}

router = APIRouter(prefix="/app-api/v1", tags=["app-activation"], responses=PROBLEMS)
bearer = HTTPBearer(auto_error=False, description="The activation token from the sign-up step.")


def activation_token(
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    if creds is None:
        raise ActivationUnknown()
    return creds.credentials


ActivationToken = Annotated[str, Depends(activation_token)]


def _ip(request: Request) -> str:
    return client_ip(request) or "unknown"


@router.post(
    "/activations",
    operation_id="redeem_signup_code",
    status_code=status.HTTP_201_CREATED,
    response_model=ActivationStarted,
)
def redeem_signup_code(
    body: SignupCodeIn, request: Request, steps: Steps, uow: Uow
) -> ActivationStarted:
    """“I have a sign-up code”: the 16 digits from the e-mail. Answers with who invited."""
    # The refusal is audited, and kept.
    r = steps.redeem_signup_code(body.signup_code, client=_ip(request))
    inv = r.invitation
    return ActivationStarted(
        activation_token=r.activation_token,
        inviter_name=inv.inviter_name,
        company_name=inv.company.name,
        phone_hint=r.phone_hint,
        expires_at=inv.expires_at,
        resends_left=MAX_SMS_RESENDS - inv.sms_resends,
        email=inv.email,
    )


@router.get("/activations/current", operation_id="get_activation", response_model=ActivationState)
def get_activation(token: ActivationToken, steps: Steps) -> ActivationState:
    inv = steps.invitation(
        token, statuses=frozenset({InvitationStatus.CODE_ENTERED, InvitationStatus.PHONE_CONFIRMED})
    )
    step = "confirm_phone" if inv.status == InvitationStatus.CODE_ENTERED else "account"
    return ActivationState(
        step=step,
        inviter_name=inv.inviter_name,
        company_name=inv.company.name,
        expires_at=inv.expires_at,
        email=inv.email,
    )


@router.post(
    "/activations/current/confirmation-code",
    operation_id="confirm_phone",
    response_model=ActivationState,
)
def confirm_phone(
    body: ConfirmationCodeIn,
    request: Request,
    token: ActivationToken,
    steps: Steps,
) -> ActivationState:
    """The 6-digit code from the SMS, or one the user administrator generated."""
    # Wrong tries count (and are kept) even though the answer is an error.
    inv = steps.confirm_phone(token, body.code, client=_ip(request))
    return ActivationState(
        step="account",
        inviter_name=inv.inviter_name,
        company_name=inv.company.name,
        expires_at=inv.expires_at,
        email=inv.email,
    )


@router.post(
    "/activations/current/confirmation-code/resend",
    operation_id="resend_confirmation_code",
    response_model=ResendOut,
)
def resend_confirmation_code(
    request: Request, token: ActivationToken, steps: Steps, uow: Uow
) -> ResendOut:
    """“Resend code?”: at most two new codes; each replaces the last."""
    left = steps.resend_sms_code(token)
    return ResendOut(resends_left=left)
