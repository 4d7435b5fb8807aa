"""Errors of the QR login, with the stable codes the app and the browser switch on."""

from __future__ import annotations

from portti.errors import DomainError
from portti.i18n import _l

SCAN_AGAIN = _l("Scan the code on the login page again.")


class QrInvalid(DomainError):
    """One answer for a malformed frame, an unknown transaction and a bad MAC: a copied or
    made-up code tells nothing."""

    keeps_writes = True

    status = 400
    code = "qr_invalid"
    title = _l("This is not a Portti login code")
    message = _l("The code is not a Portti login code, or it was not read correctly.")
    next_step = SCAN_AGAIN


class QrStale(DomainError):
    keeps_writes = True
    status = 400
    code = "qr_stale"
    title = _l("The code has changed")
    message = _l(
        "The login code changes every second and this one is too old: it may have been "
        "copied from the screen."
    )
    next_step = SCAN_AGAIN


class CodeUnknown(DomainError):
    keeps_writes = True
    status = 400
    code = "login_code_unknown"
    title = _l("The code is not valid")
    message = _l("No login is waiting for this code. It has 8 characters, such as K7QM-3XZP.")
    next_step = _l("Check the code on the login page and type it again.")


class CodeExpired(DomainError):
    """A typed code older than 30 seconds (SEC-13): a code relayed by a phishing page is
    usually late, and a person who was too slow asks the page for a new one."""

    keeps_writes = True

    status = 410
    code = "login_code_expired"
    title = _l("The code has expired")
    message = _l("A code to type is valid for 30 seconds, and this one is older.")
    next_step = _l("Choose “Show a new code” on the login page and type the new code.")


class LoginExpired(DomainError):
    keeps_writes = True
    status = 410
    code = "login_expired"
    title = _l("The login has expired")
    message = _l("This login request has expired.")
    next_step = _l("Choose “Get a new code” on the login page and scan again.")


class LoginEnded(DomainError):
    keeps_writes = True
    status = 410
    code = "login_ended"
    title = _l("The login has ended")
    message = _l("This login request was refused or replaced by a newer one.")
    next_step = _l("Start again on the login page.")


class ApprovalUsed(DomainError):
    keeps_writes = True
    status = 409
    code = "approval_used"
    title = _l("Already approved")
    message = _l("This login request has already been approved and used.")


class AlreadyScanned(DomainError):
    keeps_writes = True
    status = 409
    code = "login_already_scanned"
    title = _l("Another app has read this code")
    message = _l("Another app has already read this login code.")
    next_step = _l("Choose “Get a new code” on the login page and scan again.")


class ApprovalNotYours(DomainError):
    """A step-up for another person, or a login another device scanned. Also the answer for an
    unknown approval id, so that ids cannot be probed."""

    keeps_writes = True

    status = 404
    code = "approval_unknown"
    title = _l("No such approval")
    message = _l("There is no such request waiting for this app.")


class OriginMismatch(DomainError):
    """SEC-16: the login was asked for on another site than this service's own address."""

    keeps_writes = True
    status = 403
    code = "origin_mismatch"
    title = _l("This login was asked for on another site")

    def __init__(self, origin: str, service_origin: str) -> None:
        self.extra = {"origin": origin, "service_origin": service_origin}
        super().__init__(
            _l(
                "This login was asked for on %(origin)s, not on %(service_origin)s, so it cannot "
                "be approved and has been refused. Someone may be trying to log in as you.",
                origin=origin,
                service_origin=service_origin,
            ),
            next_step=_l(
                "If you wanted to log in, open %(service_origin)s yourself and start again. Tell "
                "your company's user administrator about this.",
                service_origin=service_origin,
            ),
        )


class NumberMismatch(DomainError):
    keeps_writes = True
    status = 403
    code = "number_mismatch"
    title = _l("The number was wrong")
    message = _l(
        "The number you picked is not the one on the login page, so the login was refused. "
        "If you did not start this login, someone may be trying to log in as you."
    )
    next_step = _l("If it was you, start again on the login page and pick the number it shows.")


class ApprovalPending(DomainError):
    keeps_writes = True
    status = 409
    code = "approval_pending"
    title = _l("Another approval is waiting")
    message = _l("Another login request for you is being handled at this moment.")
    next_step = _l("Try again in a moment.")


class BrowserMismatch(DomainError):
    keeps_writes = True
    status = 403
    code = "login_other_browser"
    title = _l("Log in in the browser that showed the code")
    message = _l(
        "This login was approved for the browser that showed the QR code, not for this one."
    )
    next_step = _l("Open the login page in this browser and scan its code.")


class NoAppInUse(DomainError):
    keeps_writes = True
    status = 409
    code = "no_app_in_use"
    title = _l("You have no Portti app in use")
    message = _l("You have no activated Portti app, so you cannot authenticate with it.")
    next_step = _l("Authenticate with a bank ID or mobile certificate instead.")


class StepUpMismatch(DomainError):
    keeps_writes = True
    status = 403
    code = "step_up_mismatch"
    title = _l("Authenticate as yourself")
    message = _l("This approval belongs to another session. Authenticate again on this page.")


class StepUpDeviceNotForCompany(DomainError):
    """SEC-14: the app that approved a step-up was activated for other companies."""

    keeps_writes = True
    status = 403
    code = "step_up_device_not_for_company"
    title = _l("Your app does not give access to this company")
    message = _l(
        "The app that approved this was activated through another company's "
        "invitation, so it does not prove who you are in this company."
    )
    next_step = _l(
        "Authenticate with bank ID, or ask this company's user administrator for an "
        "invitation to the app."
    )
