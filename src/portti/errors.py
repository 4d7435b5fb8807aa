"""Domain errors. ``web/errors.py`` turns them into problem details or readable pages."""

from __future__ import annotations

from typing import ClassVar

from portti.i18n import _l, lazy_ngettext


class DomainError(Exception):
    """An error a person can act on. ``code`` is stable: clients switch on it.

    ``keeps_writes``: the request's unit of work commits what was written before this error was
    raised (a counted wrong PIN or code, an audited refusal) instead of rolling it back. Set it
    on the classes a service raises *after* recording the refusal; the route has no say."""

    keeps_writes: ClassVar[bool] = False

    status = 400
    code = "bad_request"
    # Titles and messages are marked for the catalogues; web/errors.py translates them.
    title: str = _l("The request cannot be carried out")
    # A class says its ``message`` and ``next_step`` here; ``__init__`` takes them only when
    # they depend on the case. Without a message of its own, an error says its title.
    message: str = ""
    next_step: str | None = None

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        next_step: str | None = None,
    ) -> None:
        self.message = message or self.message or self.title
        if code is not None:
            self.code = code
        if next_step is not None:
            self.next_step = next_step
        super().__init__(self.message)


class ValidationFailed(DomainError):
    """Input that does not pass; ``errors`` maps a field name to a message for that field."""

    status = 422
    code = "validation_failed"
    title = _l("Some information is missing or wrong")

    def __init__(self, errors: dict[str, str], message: str | None = None) -> None:
        self.errors = errors
        # Without a message of its own, the field messages are the message: ``detail`` joins
        # them in the reader's language (``web/errors.py``), not in English.
        self.joins_errors = message is None
        super().__init__(message or "; ".join(errors.values()))


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = _l("Not found")


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = _l("You do not have permission to do this")


class StepUpRequired(DomainError):
    status = 403
    code = "step_up_required"
    title = _l("Authenticate to add users")
    message = _l(
        "Adding, changing and removing users needs a fresh strong authentication. "
        "Choose “Authenticate to add users” and try again."
    )


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"
    title = _l("Log in first")

    def __init__(self, message: str | None = None, *, challenge: str | None = None) -> None:
        """``challenge``: the ``WWW-Authenticate`` of a route that also takes a bearer token."""
        super().__init__(message)
        self.headers = {"WWW-Authenticate": challenge} if challenge else {}


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = _l("Conflict")


class WrongStep(Conflict):
    """A request for a step its process (an app activation, an account's set-up) is not at:
    the answer names the step to continue with. One class, so clients switch on one code."""

    code = "wrong_step"
    title = _l("Not possible at this step")


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    title = _l("Too many attempts")

    def __init__(self, message: str | None = None, *, retry_after: int = 60) -> None:
        self.retry_after = retry_after
        super().__init__(
            message
            or lazy_ngettext(
                "Too many attempts. Try again in %(num)d second.",
                "Too many attempts. Try again in %(num)d seconds.",
                retry_after,
            )
        )


def field_message(message: str) -> str:
    """A pydantic error message as a person reads it: a validator's own sentence without the
    "Value error, " pydantic puts before it."""
    return message.removeprefix("Value error, ")
