"""Account errors with stable codes the app switches on, and a next step for the person.

No message here ever carries a password, a code or a TOTP secret (OPS-4).
"""

from __future__ import annotations

from portti.errors import DomainError, RateLimited
from portti.errors import WrongStep as WrongStep  # one class for every process's steps

ASK_ADMIN = "Ask your company's user administrator for a new invitation."


class AccountExists(DomainError):
    keeps_writes = True
    status = 409
    code = "account_exists"
    title = "You already have an account"

    def __init__(self) -> None:
        super().__init__(
            "An account with this e-mail address already exists, or you already have an account.",
            next_step="Choose “Log in with your account” instead.",
        )


class EmailCodeResendLimit(DomainError):
    keeps_writes = True
    status = 429
    code = "email_code_resend_limit"
    title = "No more new codes"

    def __init__(self, sent: int) -> None:
        super().__init__(
            f"{sent} confirmation codes have already been sent for this activation.",
            next_step="Use the newest code you received, or start the activation again.",
        )


class EmailCodeWrong(DomainError):
    keeps_writes = True
    status = 400
    code = "email_code_wrong"
    title = "The e-mail code is wrong"

    def __init__(self, tries_left: int) -> None:
        self.tries_left = tries_left
        super().__init__(
            f"The code is wrong. {tries_left} {'try' if tries_left == 1 else 'tries'} left.",
            next_step="Check the 6 digits in the e-mail, or ask for a new code.",
        )


class EmailCodeExpired(DomainError):
    keeps_writes = True
    status = 400
    code = "email_code_expired"
    title = "The e-mail code has expired"

    def __init__(self) -> None:
        super().__init__(
            "The code has expired: codes are valid for 15 minutes.",
            next_step="Ask for a new code.",
        )


class EmailCodeLocked(DomainError):
    keeps_writes = True
    status = 400
    code = "email_code_locked"
    title = "Too many wrong codes"

    def __init__(self) -> None:
        super().__init__(
            "Too many wrong codes were entered; this code no longer works.",
            next_step="Ask for a new code.",
        )


class PasswordRejected(DomainError):
    """A password the policy refuses; ``code`` says which rule (password_too_short, …)."""

    status = 422
    code = "password_rejected"
    title = "Choose another password"


class TotpAlreadyEnrolled(DomainError):
    keeps_writes = True
    status = 409
    code = "totp_already_enrolled"
    title = "The authenticator app is set up already"

    def __init__(self) -> None:
        super().__init__(
            "This account already has an authenticator app.",
            next_step="Enter the code your authenticator app shows.",
        )


class TotpWrong(DomainError):
    keeps_writes = True
    status = 400
    code = "totp_wrong"
    title = "The authenticator code is wrong"

    def __init__(self) -> None:
        super().__init__(
            "The code from the authenticator app is wrong.",
            next_step="Check that your phone's clock is right and enter the code shown now.",
        )


class TotpReused(DomainError):
    keeps_writes = True
    status = 400
    code = "totp_reused"
    title = "This code was used already"

    def __init__(self) -> None:
        super().__init__(
            "This code was used already. Wait for the next code.",
            next_step="Enter the next code your authenticator app shows.",
        )


class AccountLoginFailed(DomainError):
    """One answer for an unknown e-mail, a wrong password and a wrong code: no oracle."""

    keeps_writes = True

    status = 401
    code = "account_login_failed"
    title = "Login failed"

    def __init__(self) -> None:
        super().__init__(
            "The e-mail address, password or authenticator code is wrong.",
            next_step="Check them and try again.",
        )


class AccountLocked(RateLimited):
    """Too many failed logins in a row; ``retry_after`` (seconds) becomes a Retry-After header."""

    keeps_writes = True

    code = "account_locked"
    title = "The account is locked for a while"

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, -(-retry_after // 60))
        super().__init__(
            "Too many failed logins: the account is locked for "
            f"{minutes} more minute{'s' if minutes != 1 else ''}.",
            retry_after=retry_after,
        )
        self.next_step = f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."


class AccountNotYours(DomainError):
    keeps_writes = True
    status = 403
    code = "account_not_yours"
    title = "This account belongs to another person"

    def __init__(self) -> None:
        super().__init__(
            "This account belongs to another person.",
            next_step="Log in with your own account, or create one.",
        )


class AccountSetupIncomplete(DomainError):
    """The password is right but the account never got an authenticator app."""

    keeps_writes = True

    status = 409
    code = "account_setup_incomplete"
    title = "The account set-up was not finished"

    def __init__(self) -> None:
        super().__init__(
            "The set-up of this account was not finished: it has no authenticator app.",
            next_step=ASK_ADMIN + " Then create your account again with the same e-mail address.",
        )


class ReactivationNeedsInvitation(DomainError):
    keeps_writes = True
    status = 403
    code = "reactivation_needs_invitation"
    title = "A new invitation is needed"

    def __init__(self) -> None:
        super().__init__(
            "This account cannot activate the app on its own: you logged out from all "
            "devices, or the invitation it was set up with ended before the app was activated.",
            next_step=ASK_ADMIN,
        )


class TermsOutdated(DomainError):
    keeps_writes = True
    status = 409
    code = "terms_outdated"
    title = "The terms have changed"

    def __init__(self, current: str) -> None:
        self.current = current
        super().__init__(
            f"These are not the current terms. The current version is {current}.",
            next_step="Read the current terms and accept them.",
        )
