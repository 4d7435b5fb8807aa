"""Device errors with stable codes the app switches on, and a next step for the person.

Several of them (``pin_wrong``, ``device_locked``, ``nonce_invalid``…) are raised *after* the
service has written something that must stay: a counted wrong PIN, a burnt nonce, an audit row.
Routes therefore commit on ``DomainError`` before re-raising (see ``devices/lifecycle.py``).
"""

from __future__ import annotations

from portti.errors import DomainError, RateLimited, ValidationFailed
from portti.i18n import _l, lazy_ngettext

ACTIVATE_AGAIN = _l(
    "Activate the app again: log in with your account, or ask your company's user "
    "administrator for a new invitation."
)


class InvalidDeviceKey(DomainError):
    status = 422
    code = "device_key_invalid"
    title = _l("The device key is not valid")
    message = _l("The device key could not be read.")
    next_step = _l("Update the app and activate it again.")


class PinInvalid(ValidationFailed):
    code = "pin_invalid"
    title = _l("The PIN is not valid")
    next_step = _l("Choose a PIN of digits only.")

    def __init__(self, message: str) -> None:
        super().__init__({"pin": message})


class PinTooSimple(ValidationFailed):
    code = "pin_too_simple"
    title = _l("The PIN is too easy to guess")
    next_step = _l("Choose another PIN.")

    def __init__(self) -> None:
        super().__init__(
            {
                "pin": _l(
                    "Choose a PIN that is not all the same digit, a run such as 123456 or "
                    "654321, or a short repeated pattern such as 121212."
                )
            }
        )


class DeviceUnknown(DomainError):
    """One answer for an unknown, logged-out or revoked device: the app starts over."""

    keeps_writes = True

    status = 401
    code = "device_unknown"
    title = _l("This app is no longer activated")
    message = _l("This app is not activated for anyone: it was logged out or removed.")
    next_step = ACTIVATE_AGAIN


class DeviceLocked(DomainError):
    keeps_writes = True
    status = 403
    code = "pin_locked"
    title = _l("The app is locked")
    message = _l("Too many wrong PINs were entered: this app is locked for good.")
    next_step = ACTIVATE_AGAIN


class NonceInvalid(DomainError):
    keeps_writes = True
    status = 400
    code = "nonce_invalid"
    title = _l("The request has expired")
    message = _l("The approval request is unknown, already used or expired.")
    next_step = _l("Try again: the app fetches a new request.")


class SignatureInvalid(DomainError):
    keeps_writes = True
    status = 401
    code = "signature_invalid"
    title = _l("The app's signature is not valid")
    message = _l("The app's signature could not be verified.")
    next_step = _l(
        "Try again. If this keeps happening, activate the app again: log in with your "
        "account, or ask your company's user administrator for a new invitation."
    )


class PinRequired(DomainError):
    keeps_writes = True
    status = 400
    code = "pin_required"
    title = _l("Enter your PIN")
    message = _l("Confirm with your PIN or with biometrics.")
    next_step = _l("Enter your PIN.")


class PinWrong(DomainError):
    keeps_writes = True
    status = 400
    code = "pin_wrong"
    title = _l("The PIN is wrong")
    next_step = _l(
        "Check your PIN and try again. If you have forgotten it, activate the app again: "
        "log in with your account, or ask your company's user administrator for a new "
        "invitation."
    )

    def __init__(self, *, tries_left: int, retry_after: int | None) -> None:
        self.tries_left = tries_left
        self.retry_after = retry_after
        # Members for the problem details, beside ``code`` and ``next_step``.
        self.extra = {"tries_left": tries_left, "retry_after": retry_after}
        if retry_after:
            message = lazy_ngettext(
                "The PIN is wrong. %(num)d try left before the app is locked. Wait %(wait)s "
                "before the next try.",
                "The PIN is wrong. %(num)d tries left before the app is locked. Wait %(wait)s "
                "before the next try.",
                tries_left,
                wait=_duration(retry_after),
            )
        else:
            message = lazy_ngettext(
                "The PIN is wrong. %(num)d try left before the app is locked.",
                "The PIN is wrong. %(num)d tries left before the app is locked.",
                tries_left,
            )
        super().__init__(message)


class PinBlocked(RateLimited):
    """A pause after wrong PINs; the PIN is not even looked at until it has passed."""

    keeps_writes = True

    code = "pin_blocked"
    title = _l("Wait before the next PIN")
    next_step = _l("Wait, or use biometrics if you have turned them on.")

    def __init__(self, *, retry_after: int, tries_left: int) -> None:
        self.tries_left = tries_left
        self.extra = {"tries_left": tries_left, "retry_after": retry_after}
        super().__init__(
            lazy_ngettext(
                "Too many wrong PINs. Wait %(wait)s before the next try; %(num)d try left "
                "before the app is locked.",
                "Too many wrong PINs. Wait %(wait)s before the next try; %(num)d tries left "
                "before the app is locked.",
                tries_left,
                wait=_duration(retry_after),
            ),
            retry_after=retry_after,
        )


class BiometricsNotEnrolled(DomainError):
    keeps_writes = True
    status = 400
    code = "biometrics_not_enrolled"
    title = _l("Biometrics are not turned on")
    message = _l("Biometrics were not turned on for this app.")
    next_step = _l("Enter your PIN.")


class AppLocked(DomainError):
    status = 401
    code = "app_locked"
    title = _l("The app is locked")
    message = _l("The app is locked.")
    next_step = _l("Unlock it with your PIN or biometrics.")


def _duration(seconds: int) -> str:
    if seconds < 120:
        return lazy_ngettext("%(num)d second", "%(num)d seconds", seconds)
    return lazy_ngettext("%(num)d minute", "%(num)d minutes", -(-seconds // 60))


class InvitationRequired(DomainError):
    """APP-8: after "Log out from all devices" the account alone does not activate the app."""

    status = 403
    code = "invitation_required"
    title = _l("A new invitation is needed")
    message = _l(
        "This account cannot activate the app on its own: you logged out from all "
        "devices, or the invitation it was set up with ended before the app was activated."
    )
    next_step = _l("Ask your company's user administrator for a new invitation.")


class TooManyChallenges(RateLimited):
    """SEC-9: the device already holds ``MAX_OPEN_CHALLENGES`` unused, unexpired nonces."""

    code = "too_many_challenges"
    title = _l("Too many open requests")

    def __init__(self, *, retry_after: int, open_challenges: int) -> None:
        self.extra = {"retry_after": retry_after, "open_challenges": open_challenges}
        super().__init__(
            lazy_ngettext(
                "This app already has %(num)d approval request that is neither used nor expired.",
                "This app already has %(num)d approval requests that are neither used nor expired.",
                open_challenges,
            ),
            retry_after=retry_after,
        )
        self.next_step = _l(
            "Use a request already fetched, or wait %(wait)s until the oldest expires, then try "
            "again.",
            wait=_duration(retry_after),
        )


class ChallengesThrottled(RateLimited):
    """SEC-9: new nonces are rate-limited per device and per client network."""

    def __init__(self, *, retry_after: int, per: str) -> None:
        self.extra = {"retry_after": retry_after, "limited_by": per}
        super().__init__(
            _l(
                "Too many approval requests were asked for this app. Wait %(wait)s.",
                wait=_duration(retry_after),
            )
            if per == "device"
            else _l(
                "Too many approval requests were asked for from your network. Wait %(wait)s.",
                wait=_duration(retry_after),
            ),
            retry_after=retry_after,
        )
        self.next_step = _l("Wait %(wait)s, then try again.", wait=_duration(retry_after))
