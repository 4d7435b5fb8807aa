"""Invitation errors with stable codes the app switches on, and a next step for the person."""

from __future__ import annotations

from portti.errors import DomainError

ASK_ADMIN = "Ask your company's user administrator for a new invitation."


class InvitationInvalid(DomainError):
    """One answer for a wrong, expired, cancelled or used sign-up code: no oracle."""

    status = 400
    code = "invitation_invalid"
    title = "The sign-up code is not valid"

    def __init__(self) -> None:
        super().__init__(
            "The sign-up code is not valid. Check the 16 digits in the invitation e-mail.",
            next_step=ASK_ADMIN + " Invitations are valid for 24 hours.",
        )


class InvitationExpired(DomainError):
    status = 410
    code = "invitation_expired"
    title = "The invitation has expired"

    def __init__(self) -> None:
        super().__init__("The invitation has expired or was cancelled.", next_step=ASK_ADMIN)


class ActivationUnknown(DomainError):
    status = 401
    code = "activation_unknown"
    title = "Start the activation again"

    def __init__(self) -> None:
        super().__init__(
            "This activation is not known or has ended.",
            next_step="Start again with the sign-up code, or "
            + ASK_ADMIN[0].lower()
            + ASK_ADMIN[1:],
        )


class SmsCodeWrong(DomainError):
    status = 400
    code = "sms_code_wrong"
    title = "The confirmation code is wrong"


class SmsCodeExpired(DomainError):
    status = 400
    code = "sms_code_expired"
    title = "The confirmation code has expired"

    def __init__(self) -> None:
        super().__init__(
            "The confirmation code has expired.",
            next_step="Ask for a new code with “Resend code?”.",
        )


class SmsCodeLocked(DomainError):
    status = 400
    code = "sms_code_locked"
    title = "Too many wrong codes"

    def __init__(self) -> None:
        super().__init__(
            "Too many wrong confirmation codes were entered; this code no longer works.",
            next_step="Ask for a new code with “Resend code?”, or ask your company's user "
            "administrator for a confirmation code.",
        )


class SmsResendLimit(DomainError):
    status = 429
    code = "sms_resend_limit"
    title = "No more new codes"

    def __init__(self) -> None:
        super().__init__(
            "You have already asked for two new confirmation codes.",
            next_step="Ask your company's user administrator for a confirmation code: they can "
            "generate one for you.",
        )


class WrongInvitationState(DomainError):
    status = 409
    code = "invitation_wrong_state"
    title = "Not possible at this stage of the invitation"


class ReinviteNeedsSupport(DomainError):
    status = 403
    code = "reinvite_needs_support"
    title = "Only customer service can re-invite"

    def __init__(self) -> None:
        super().__init__(
            "The person's e-mail address or phone number has changed since the last invitation. "
            "For security, only customer service can send a new invitation now.",
            next_step="Contact customer service to re-invite this person.",
        )


class InviteeNotValid(DomainError):
    """SEC-1: an ended membership, or one starting later, is never invited: an invitation
    would give the person's app login to whoever reads the mail, for nothing they may use."""

    status = 409
    code = "invitee_not_valid"
    title = "The user's rights in this company are not valid now"

    def __init__(self) -> None:
        super().__init__(
            "The user's rights in this company have ended or start later. An invitation can "
            "be sent only while they are valid.",
            next_step="Change the validity first if the person should be able to log in now.",
        )
