"""Protocol errors: each knows how it must be answered (RFC 6749 §4.1.2.1 and §5.2)."""

from __future__ import annotations

from portti.errors import DomainError
from portti.i18n import _l


class OidcError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class UntrustedRedirect(OidcError):
    """Unknown client or a redirect URI not registered for it: answered with a page, never with
    a redirect (an open redirector otherwise)."""

    def __init__(self, description: str) -> None:
        super().__init__("invalid_request", description)


class AuthorizeError(OidcError):
    """Answered by redirecting to the client's (verified) redirect URI with ``error``."""


class TokenError(OidcError):
    """Answered by the token endpoint as JSON, 400 (or 401 for ``invalid_client``)."""

    @property
    def status(self) -> int:
        return 401 if self.error == "invalid_client" else 400


class BearerError(OidcError):
    """UserInfo: 401 with ``WWW-Authenticate: Bearer error=...``."""


class RefusedForClient(DomainError):
    """The person has no valid user rights in any company that uses this client."""

    keeps_writes = True

    status = 403
    code = "no_membership_for_client"
    title = _l("No user rights for this service")
