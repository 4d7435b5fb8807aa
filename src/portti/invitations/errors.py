"""Invitation errors with stable codes the app switches on, and a next step for the person."""

from __future__ import annotations

from portti.errors import DomainError, RateLimited
from portti.i18n import _l, lazy_ngettext

ASK_ADMIN = _l("Ask your company's user administrator for a new invitation.")


class InvitationInvalid(DomainError):
    """One answer for a wrong, expired, cancelled or used sign-up code: no oracle."""

    keeps_writes = True

    status = 400
    code = "invitation_invalid"
    title = _l("The sign-up code is not valid")
    message = _l(
        "The sign-up code is not valid. Check the 16 digits in the newest invitation "
        "e-mail: a code stops working when its invitation is cancelled, replaced by a "
        "newer one, used or expired."
    )
    next_step = _l(
        "Ask your company's user administrator for a new invitation. Invitations are "
        "valid for 24 hours."
    )


class InvitationExpired(DomainError):
    """The invitation behind an activation ended: every later step gets this (SEC-2).
    ``reason`` (``cancelled``, ``superseded``, ``expired``) is in the problem as ``reason``."""

    status = 410
    code = "invitation_expired"
    title = _l("The invitation has expired")

    def __init__(self, reason: str | None = None) -> None:
        message, next_step = {
            "cancelled": (
                _l("Your company's user administrator cancelled this invitation."),
                ASK_ADMIN,
            ),
            "superseded": (
                _l("A newer invitation replaced this one."),
                _l("Start again with the sign-up code in the newest invitation e-mail."),
            ),
            "expired": (
                _l("The invitation has expired: invitations are valid for 24 hours."),
                ASK_ADMIN,
            ),
        }.get(reason or "", (_l("The invitation has expired or was cancelled."), ASK_ADMIN))
        if reason:
            self.extra = {"reason": reason}
        super().__init__(message, next_step=next_step)


class ActivationUnknown(DomainError):
    status = 401
    code = "activation_unknown"
    title = _l("Start the activation again")
    message = _l("This activation is not known or has ended.")
    next_step = _l(
        "Start again with the sign-up code, or ask your company's user administrator for "
        "a new invitation."
    )


class SmsCodeWrong(DomainError):
    keeps_writes = True
    status = 400
    code = "sms_code_wrong"
    title = _l("The confirmation code is wrong")


class SmsCodeExpired(DomainError):
    keeps_writes = True
    status = 400
    code = "sms_code_expired"
    title = _l("The confirmation code has expired")
    message = _l("The confirmation code has expired.")
    next_step = _l("Ask for a new code with “Resend code?”.")


class SmsCodeLocked(DomainError):
    keeps_writes = True
    status = 400
    code = "sms_code_locked"
    title = _l("Too many wrong codes")
    message = _l("Too many wrong confirmation codes were entered; this code no longer works.")
    next_step = _l(
        "Ask for a new code with “Resend code?”, or ask your company's user "
        "administrator for a confirmation code."
    )


class SmsResendLimit(DomainError):
    keeps_writes = True
    status = 429
    code = "sms_resend_limit"
    title = _l("No more new codes")
    message = _l("You have already asked for two new confirmation codes.")
    next_step = _l(
        "Ask your company's user administrator for a confirmation code: they can "
        "generate one for you."
    )


class WrongInvitationState(DomainError):
    status = 409
    code = "invitation_wrong_state"
    title = _l("Not possible at this stage of the invitation")


class ReinviteNeedsSupport(DomainError):
    status = 403
    code = "reinvite_needs_support"
    title = _l("Only customer service can re-invite")
    message = _l(
        "The person's e-mail address or phone number has changed since the last invitation. "
        "For security, only customer service can send a new invitation now."
    )
    next_step = _l("Contact customer service to re-invite this person.")


class InviteeNotValid(DomainError):
    """SEC-1: an ended membership, or one starting later, is never invited: an invitation
    would give the person's app login to whoever reads the mail, for nothing they may use."""

    status = 409
    code = "invitee_not_valid"
    title = _l("The user's rights in this company are not valid now")
    message = _l(
        "The user's rights in this company have ended or start later. An invitation can "
        "be sent only while they are valid."
    )
    next_step = _l("Change the validity first if the person should be able to log in now.")


def _wait(seconds: int) -> str:
    if seconds < 120:
        return lazy_ngettext("%(num)d second", "%(num)d seconds", seconds)
    return lazy_ngettext("%(num)d minute", "%(num)d minutes", -(-seconds // 60))


class SignupThrottled(RateLimited):
    """SEC-5: too many sign-up codes from one network, or one code tried too often. Says why
    and for how long, so that an invitee who shares a network with someone guessing codes
    knows their code is still good."""

    def __init__(self, *, retry_after: int, per: str) -> None:
        self.extra = {"retry_after": retry_after, "limited_by": per}
        if per == "network":
            message = _l(
                "Too many sign-up codes have been tried from your network (your Wi-Fi, office or "
                "operator). For security, codes from it are not checked for %(wait)s.",
                wait=_wait(retry_after),
            )
            next_step = _l(
                "Wait %(wait)s and enter the code again, or switch to another network (for "
                "example mobile data instead of Wi-Fi). Your invitation stays valid for 24 hours "
                "from when it was sent.",
                wait=_wait(retry_after),
            )
        else:
            message = _l(
                "This sign-up code has been tried too many times. For security, it is not "
                "checked again for %(wait)s.",
                wait=_wait(retry_after),
            )
            next_step = _l(
                "Wait %(wait)s, check the 16 digits in the invitation e-mail and enter them "
                "again. If it still fails, ask your company's user administrator for a new "
                "invitation.",
                wait=_wait(retry_after),
            )
        super().__init__(message, retry_after=retry_after)
        self.next_step = next_step
