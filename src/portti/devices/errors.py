"""Device errors with stable codes the app switches on, and a next step for the person.

Several of them (``pin_wrong``, ``device_locked``, ``nonce_invalid``…) are raised *after* the
service has written something that must stay: a counted wrong PIN, a burnt nonce, an audit row.
Routes therefore commit on ``DomainError`` before re-raising (see ``devices/lifecycle.py``).
"""

from __future__ import annotations

from portti.errors import DomainError, RateLimited, ValidationFailed

ACTIVATE_AGAIN = (
    "Activate the app again: log in with your account, or ask your company's user "
    "administrator for a new invitation."
)


class InvalidDeviceKey(DomainError):
    status = 422
    code = "device_key_invalid"
    title = "The device key is not valid"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message or "The device key could not be read.",
            next_step="Update the app and activate it again.",
        )


class PinInvalid(ValidationFailed):
    code = "pin_invalid"
    title = "The PIN is not valid"

    def __init__(self, message: str) -> None:
        super().__init__({"pin": message})
        self.next_step = "Choose a PIN of digits only."


class PinTooSimple(ValidationFailed):
    code = "pin_too_simple"
    title = "The PIN is too easy to guess"

    def __init__(self) -> None:
        super().__init__(
            {
                "pin": "Choose a PIN that is not all the same digit, a run such as 123456 or "
                "654321, or a short repeated pattern such as 121212."
            }
        )
        self.next_step = "Choose another PIN."


class DeviceUnknown(DomainError):
    """One answer for an unknown, logged-out or revoked device: the app starts over."""

    keeps_writes = True

    status = 401
    code = "device_unknown"
    title = "This app is no longer activated"

    def __init__(self) -> None:
        super().__init__(
            "This app is not activated for anyone: it was logged out or removed.",
            next_step=ACTIVATE_AGAIN,
        )


class DeviceLocked(DomainError):
    keeps_writes = True
    status = 403
    code = "pin_locked"
    title = "The app is locked"

    def __init__(self) -> None:
        super().__init__(
            "Too many wrong PINs were entered: this app is locked for good.",
            next_step=ACTIVATE_AGAIN,
        )


class NonceInvalid(DomainError):
    keeps_writes = True
    status = 400
    code = "nonce_invalid"
    title = "The request has expired"

    def __init__(self) -> None:
        super().__init__(
            "The approval request is unknown, already used or expired.",
            next_step="Try again: the app fetches a new request.",
        )


class SignatureInvalid(DomainError):
    keeps_writes = True
    status = 401
    code = "signature_invalid"
    title = "The app's signature is not valid"

    def __init__(self) -> None:
        super().__init__(
            "The app's signature could not be verified.",
            next_step="Try again. If this keeps happening, "
            + ACTIVATE_AGAIN[0].lower()
            + ACTIVATE_AGAIN[1:],
        )


class PinRequired(DomainError):
    keeps_writes = True
    status = 400
    code = "pin_required"
    title = "Enter your PIN"

    def __init__(self) -> None:
        super().__init__("Confirm with your PIN or with biometrics.", next_step="Enter your PIN.")


class PinWrong(DomainError):
    keeps_writes = True
    status = 400
    code = "pin_wrong"
    title = "The PIN is wrong"

    def __init__(self, *, tries_left: int, retry_after: int | None) -> None:
        self.tries_left = tries_left
        self.retry_after = retry_after
        # Members for the problem details, beside ``code`` and ``next_step``.
        self.extra = {"tries_left": tries_left, "retry_after": retry_after}
        wait = f" Wait {_duration(retry_after)} before the next try." if retry_after else ""
        super().__init__(
            f"The PIN is wrong. {tries_left} tries left before the app is locked.{wait}",
            next_step="Check your PIN and try again. If you have forgotten it, "
            + ACTIVATE_AGAIN[0].lower()
            + ACTIVATE_AGAIN[1:],
        )


class PinBlocked(RateLimited):
    """A pause after wrong PINs; the PIN is not even looked at until it has passed."""

    keeps_writes = True

    code = "pin_blocked"
    title = "Wait before the next PIN"

    def __init__(self, *, retry_after: int, tries_left: int) -> None:
        self.tries_left = tries_left
        self.extra = {"tries_left": tries_left, "retry_after": retry_after}
        super().__init__(
            f"Too many wrong PINs. Wait {_duration(retry_after)} before the next try; "
            f"{tries_left} tries left before the app is locked.",
            retry_after=retry_after,
        )
        self.next_step = "Wait, or use biometrics if you have turned them on."


class BiometricsNotEnrolled(DomainError):
    keeps_writes = True
    status = 400
    code = "biometrics_not_enrolled"
    title = "Biometrics are not turned on"

    def __init__(self) -> None:
        super().__init__("Biometrics were not turned on for this app.", next_step="Enter your PIN.")


class AppLocked(DomainError):
    status = 401
    code = "app_locked"
    title = "The app is locked"

    def __init__(self) -> None:
        super().__init__("The app is locked.", next_step="Unlock it with your PIN or biometrics.")


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    minutes = -(-seconds // 60)
    return f"{minutes} minutes"


class InvitationRequired(DomainError):
    """APP-8: after "Log out from all devices" the account alone does not activate the app."""

    status = 403
    code = "invitation_required"
    title = "A new invitation is needed"

    def __init__(self) -> None:
        super().__init__(
            "This account cannot activate the app on its own: you logged out from all "
            "devices, or the invitation it was set up with ended before the app was activated.",
            next_step="Ask your company's user administrator for a new invitation.",
        )


class TooManyChallenges(RateLimited):
    """SEC-9: the device already holds ``MAX_OPEN_CHALLENGES`` unused, unexpired nonces."""

    code = "too_many_challenges"
    title = "Too many open requests"

    def __init__(self, *, retry_after: int, open_challenges: int) -> None:
        self.extra = {"retry_after": retry_after, "open_challenges": open_challenges}
        super().__init__(
            f"This app already has {open_challenges} approval requests that are neither used "
            "nor expired.",
            retry_after=retry_after,
        )
        self.next_step = (
            f"Use a request already fetched, or wait {_duration(retry_after)} until the oldest "
            "expires, then try again."
        )


class ChallengesThrottled(RateLimited):
    """SEC-9: new nonces are rate-limited per device and per client network."""

    def __init__(self, *, retry_after: int, per: str) -> None:
        self.extra = {"retry_after": retry_after, "limited_by": per}
        super().__init__(
            "Too many approval requests were asked for "
            + ("this app" if per == "device" else "from your network")
            + f". Wait {_duration(retry_after)}.",
            retry_after=retry_after,
        )
        self.next_step = f"Wait {_duration(retry_after)}, then try again."
