"""Account errors with stable codes the app switches on, and a next step for the person.

No message here ever carries a password, a code or a TOTP secret (OPS-4).
"""

from __future__ import annotations

from portti.errors import DomainError, RateLimited
from portti.errors import WrongStep as WrongStep  # one class for every process's steps
from portti.i18n import _l, lazy_ngettext

ASK_ADMIN = _l("Ask your company's user administrator for a new invitation.")


class AccountExists(DomainError):
    keeps_writes = True
    status = 409
    code = "account_exists"
    title = _l("You already have an account")
    message = _l(
        "An account with this e-mail address already exists, or you already have an account."
    )
    next_step = _l("Choose “Log in with your account” instead.")


class EmailCodeResendLimit(DomainError):
    keeps_writes = True
    status = 429
    code = "email_code_resend_limit"
    title = _l("No more new codes")
    next_step = _l("Use the newest code you received, or start the activation again.")

    def __init__(self, sent: int) -> None:
        super().__init__(
            lazy_ngettext(
                "%(num)d confirmation code has already been sent for this activation.",
                "%(num)d confirmation codes have already been sent for this activation.",
                sent,
            )
        )


class EmailCodeWrong(DomainError):
    keeps_writes = True
    status = 400
    code = "email_code_wrong"
    title = _l("The e-mail code is wrong")
    next_step = _l("Check the 6 digits in the e-mail, or ask for a new code.")

    def __init__(self, tries_left: int) -> None:
        self.tries_left = tries_left
        super().__init__(
            lazy_ngettext(
                "The code is wrong. %(num)d try left.",
                "The code is wrong. %(num)d tries left.",
                tries_left,
            )
        )


class EmailCodeExpired(DomainError):
    keeps_writes = True
    status = 400
    code = "email_code_expired"
    title = _l("The e-mail code has expired")
    message = _l("The code has expired: codes are valid for 15 minutes.")
    next_step = _l("Ask for a new code.")


class EmailCodeLocked(DomainError):
    keeps_writes = True
    status = 400
    code = "email_code_locked"
    title = _l("Too many wrong codes")
    message = _l("Too many wrong codes were entered; this code no longer works.")
    next_step = _l("Ask for a new code.")


class PasswordRejected(DomainError):
    """A password the policy refuses; ``code`` says which rule (password_too_short, …)."""

    status = 422
    code = "password_rejected"
    title = _l("Choose another password")


class TotpAlreadyEnrolled(DomainError):
    keeps_writes = True
    status = 409
    code = "totp_already_enrolled"
    title = _l("The authenticator app is set up already")
    message = _l("This account already has an authenticator app.")
    next_step = _l("Enter the code your authenticator app shows.")


class TotpWrong(DomainError):
    keeps_writes = True
    status = 400
    code = "totp_wrong"
    title = _l("The authenticator code is wrong")
    message = _l("The code from the authenticator app is wrong.")
    next_step = _l("Check that your phone's clock is right and enter the code shown now.")


class TotpReused(DomainError):
    keeps_writes = True
    status = 400
    code = "totp_reused"
    title = _l("This code was used already")
    message = _l("This code was used already. Wait for the next code.")
    next_step = _l("Enter the next code your authenticator app shows.")


class AccountLoginFailed(DomainError):
    """One answer for an unknown e-mail, a wrong password and a wrong code: no oracle."""

    keeps_writes = True

    status = 401
    code = "account_login_failed"
    title = _l("Login failed")
    message = _l("The e-mail address, password or authenticator code is wrong.")
    next_step = _l("Check them and try again.")


class AccountLocked(RateLimited):
    """Too many failed logins in a row; ``retry_after`` (seconds) becomes a Retry-After header."""

    keeps_writes = True

    code = "account_locked"
    title = _l("The account is locked for a while")

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, -(-retry_after // 60))
        super().__init__(
            lazy_ngettext(
                "Too many failed logins: the account is locked for %(num)d more minute.",
                "Too many failed logins: the account is locked for %(num)d more minutes.",
                minutes,
            ),
            retry_after=retry_after,
        )
        self.next_step = lazy_ngettext(
            "Try again in %(num)d minute.", "Try again in %(num)d minutes.", minutes
        )


class AccountNotYours(DomainError):
    keeps_writes = True
    status = 403
    code = "account_not_yours"
    title = _l("This account belongs to another person")
    message = _l("This account belongs to another person.")
    next_step = _l("Log in with your own account, or create one.")


class AccountSetupIncomplete(DomainError):
    """The password is right but the account never got an authenticator app."""

    keeps_writes = True

    status = 409
    code = "account_setup_incomplete"
    title = _l("The account set-up was not finished")
    message = _l("The set-up of this account was not finished: it has no authenticator app.")
    next_step = _l(
        "%(ask)s Then create your account again with the same e-mail address.",
        ask=ASK_ADMIN,
    )


class ReactivationNeedsInvitation(DomainError):
    keeps_writes = True
    status = 403
    code = "reactivation_needs_invitation"
    title = _l("A new invitation is needed")
    message = _l(
        "This account cannot activate the app on its own: you logged out from all "
        "devices, or the invitation it was set up with ended before the app was activated."
    )
    next_step = ASK_ADMIN


class TermsOutdated(DomainError):
    keeps_writes = True
    status = 409
    code = "terms_outdated"
    title = _l("The terms have changed")
    next_step = _l("Read the current terms and accept them.")

    def __init__(self, current: str) -> None:
        self.current = current
        super().__init__(
            _l(
                "These are not the current terms. The current version is %(current)s.",
                current=current,
            )
        )
