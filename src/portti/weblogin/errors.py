"""Errors of the QR login, with the stable codes the app and the browser switch on."""

from __future__ import annotations

from portti.errors import DomainError

SCAN_AGAIN = "Scan the code on the login page again."


class QrInvalid(DomainError):
    """One answer for a malformed frame, an unknown transaction and a bad MAC: a copied or
    made-up code tells nothing."""

    keeps_writes = True

    status = 400
    code = "qr_invalid"
    title = "This is not a Portti login code"

    def __init__(self) -> None:
        super().__init__(
            "The code is not a Portti login code, or it was not read correctly.",
            next_step=SCAN_AGAIN,
        )


class QrStale(DomainError):
    keeps_writes = True
    status = 400
    code = "qr_stale"
    title = "The code has changed"

    def __init__(self) -> None:
        super().__init__(
            "The login code changes every second and this one is too old: it may have been "
            "copied from the screen.",
            next_step=SCAN_AGAIN,
        )


class CodeUnknown(DomainError):
    keeps_writes = True
    status = 400
    code = "login_code_unknown"
    title = "The code is not valid"

    def __init__(self) -> None:
        super().__init__(
            "No login is waiting for this code. It has 8 characters, such as K7QM-3XZP.",
            next_step="Check the code on the login page and type it again.",
        )


class CodeExpired(DomainError):
    """A typed code older than 30 seconds (SEC-13): a code relayed by a phishing page is
    usually late, and a person who was too slow asks the page for a new one."""

    keeps_writes = True

    status = 410
    code = "login_code_expired"
    title = "The code has expired"

    def __init__(self) -> None:
        super().__init__(
            "A code to type is valid for 30 seconds, and this one is older.",
            next_step="Choose “Show a new code” on the login page and type the new code.",
        )


class LoginExpired(DomainError):
    keeps_writes = True
    status = 410
    code = "login_expired"
    title = "The login has expired"

    def __init__(self) -> None:
        super().__init__(
            "This login request has expired.",
            next_step="Choose “Get a new code” on the login page and scan again.",
        )


class LoginEnded(DomainError):
    keeps_writes = True
    status = 410
    code = "login_ended"
    title = "The login has ended"

    def __init__(self) -> None:
        super().__init__(
            "This login request was refused or replaced by a newer one.",
            next_step="Start again on the login page.",
        )


class ApprovalUsed(DomainError):
    keeps_writes = True
    status = 409
    code = "approval_used"
    title = "Already approved"

    def __init__(self) -> None:
        super().__init__("This login request has already been approved and used.")


class AlreadyScanned(DomainError):
    keeps_writes = True
    status = 409
    code = "login_already_scanned"
    title = "Another app has read this code"

    def __init__(self) -> None:
        super().__init__(
            "Another app has already read this login code.",
            next_step="Choose “Get a new code” on the login page and scan again.",
        )


class ApprovalNotYours(DomainError):
    """A step-up for another person, or a login another device scanned. Also the answer for an
    unknown approval id, so that ids cannot be probed."""

    keeps_writes = True

    status = 404
    code = "approval_unknown"
    title = "No such approval"

    def __init__(self) -> None:
        super().__init__("There is no such request waiting for this app.")


class NumberMismatch(DomainError):
    keeps_writes = True
    status = 403
    code = "number_mismatch"
    title = "The number was wrong"

    def __init__(self) -> None:
        super().__init__(
            "The number you picked is not the one on the login page, so the login was refused. "
            "If you did not start this login, someone may be trying to log in as you.",
            next_step="If it was you, start again on the login page and pick the number it shows.",
        )


class ApprovalPending(DomainError):
    keeps_writes = True
    status = 409
    code = "approval_pending"
    title = "Another approval is waiting"

    def __init__(self) -> None:
        super().__init__(
            "Another login request for you is being handled at this moment.",
            next_step="Try again in a moment.",
        )


class BrowserMismatch(DomainError):
    keeps_writes = True
    status = 403
    code = "login_other_browser"
    title = "Log in in the browser that showed the code"

    def __init__(self) -> None:
        super().__init__(
            "This login was approved for the browser that showed the QR code, not for this one.",
            next_step="Open the login page in this browser and scan its code.",
        )


class NoAppInUse(DomainError):
    keeps_writes = True
    status = 409
    code = "no_app_in_use"
    title = "You have no Portti app in use"

    def __init__(self) -> None:
        super().__init__(
            "You have no activated Portti app, so you cannot authenticate with it.",
            next_step="Authenticate with a bank ID or mobile certificate instead.",
        )


class StepUpMismatch(DomainError):
    keeps_writes = True
    status = 403
    code = "step_up_mismatch"
    title = "Authenticate as yourself"

    def __init__(self) -> None:
        super().__init__(
            "This approval belongs to another session. Authenticate again on this page.",
        )
