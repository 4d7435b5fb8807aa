"""What goes wrong in talking to an identity provider, in words fit for the person logging in."""

from __future__ import annotations

import re

from portti.i18n import _l

__all__ = [
    "OAUTH_ERROR_CODE",
    "ProviderError",
    "callback_error",
    "invalid_answer",
    "safe_provider_text",
]

# An OAuth ``error`` as providers send it: a short token, shown and stored only if it looks so.
OAUTH_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class ProviderError(Exception):
    """A login through an identity provider failed.

    ``code`` is stable (for logs, audit and tests); ``message`` is safe to show to the person
    logging in: it never contains tokens, codes or provider responses.
    """

    STATE_MISMATCH = "oidc_state_mismatch"
    TOKEN_EXCHANGE_FAILED = "oidc_token_exchange_failed"  # noqa: S105 (an error code)
    INVALID_ID_TOKEN = "oidc_invalid_id_token"  # noqa: S105 (an error code)
    NONCE_MISMATCH = "oidc_nonce_mismatch"
    MISSING_IDENTIFIER = "oidc_missing_identifier"
    PROVIDER_ERROR = "oidc_provider_error"
    NOT_FRESH = "oidc_authentication_not_fresh"
    ACR_TOO_WEAK = "oidc_acr_too_weak"

    def __init__(self, code: str, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # Why, for the audit row and the log (OIDC-8): "tls_failed", "provider_unreachable",
        # "invalid_response", "par_refused"...; never shown as such.
        self.reason = reason
        self.provider_error: str | None = None

    def __repr__(self) -> str:
        return f"ProviderError(code={self.code!r}, message={self.message!r})"


def invalid_answer(detail: str) -> ProviderError:
    """The provider's answer (ID token, UserInfo) was refused; ``detail`` says why."""
    return ProviderError(
        ProviderError.INVALID_ID_TOKEN,
        _l("The identity provider's answer was refused: %(detail)s.", detail=detail),
    )


# What a provider's ``error`` (RFC 6749 4.1.2.1, OIDC Core 3.1.2.6) means for the person.
_ERROR_MESSAGES = {
    "access_denied": _l("The login was cancelled at the identity provider."),
    "login_required": _l("The identity provider needs you to log in again. Start again."),
    "interaction_required": _l("The identity provider needs more from you. Start again."),
    "consent_required": _l("The identity provider needs your consent to share your identity."),
    "account_selection_required": _l("Choose an account at the identity provider. Start again."),
    "temporarily_unavailable": _l(
        "The identity provider is temporarily unavailable. Try again in a moment."
    ),
    "server_error": _l("The identity provider had an error. Try again in a moment."),
    "unmet_authentication_requirements": _l(
        "The identification could not reach the level of "
        "assurance this needs. Use a stronger identification method."
    ),
}


def callback_error(error: str) -> ProviderError:
    """The provider sent the browser back with ``error=...`` instead of a code."""
    message = _ERROR_MESSAGES.get(error)
    if message is not None:
        return ProviderError(ProviderError.PROVIDER_ERROR, message)
    shown = error if OAUTH_ERROR_CODE.match(error) else "unknown"
    return ProviderError(
        ProviderError.PROVIDER_ERROR,
        _l("The identity provider refused the login (%(error)s).", error=shown),
    )


def safe_provider_text(value: str | None, limit: int = 200) -> str | None:
    """A provider's free text (``error_description``) fit for the audit row: printable, short."""
    if not value:
        return None
    cleaned = "".join(ch if ch.isprintable() else " " for ch in value).strip()
    return cleaned[:limit] or None
