"""Who a machine's request acts as: the client, its granted scopes and the companies it may
reach (PRV-1). Every rule about what a machine may do asks this object; it knows no HTTP."""

from __future__ import annotations

from dataclasses import dataclass

from portti.errors import DomainError, Forbidden
from portti.i18n import _l

COMPANIES_WRITE = "companies:write"
MEMBERS_READ = "members:read"
MEMBERS_WRITE = "members:write"
SCIM = "scim"
MACHINE_SCOPES = (COMPANIES_WRITE, MEMBERS_READ, MEMBERS_WRITE, SCIM)


class MachineTokenInvalid(DomainError):
    """No valid machine access token: 401 with ``WWW-Authenticate`` (RFC 6750 §3)."""

    status = 401
    code = "invalid_token"
    title = _l("The access token is not valid")

    def __init__(self, message: str | None = None, *, description: str | None = None) -> None:
        super().__init__(message)
        challenge = 'Bearer error="invalid_token"'
        if description is not None:
            challenge += f', error_description="{description}"'
        self.headers = {"WWW-Authenticate": challenge}


class MachineTokenMissing(DomainError):
    """No credentials at all on a route that takes a machine's bearer token: 401 with a bare
    ``WWW-Authenticate: Bearer`` challenge, without an error code (RFC 6750 §3.1)."""

    status = 401
    code = "not_authenticated"
    title = _l("The access token is missing")

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message)
        self.headers = {"WWW-Authenticate": "Bearer"}


class InsufficientScope(Forbidden):
    code = "insufficient_scope"
    title = _l("The access token does not allow this")

    def __init__(self, scope: str) -> None:
        super().__init__(
            _l("This needs the scope %(scope)s, which the access token lacks.", scope=scope)
        )
        self.scope = scope
        self.headers = {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'}


class CompanyNotAllowed(Forbidden):
    """Refused without telling whether the company exists. Kept: the refusal's audit row."""

    keeps_writes = True
    code = "company_not_allowed"
    title = _l("Not allowed for this company")
    message = _l("This machine client may not act on this company.")


@dataclass(frozen=True)
class MachinePrincipal:
    client_id: str  # the OAuth client id of the machine client
    name: str  # display name (the audit log shows it)
    scopes: frozenset[str]  # the granted subset of MACHINE_SCOPES
    company_ids: frozenset[int] | None  # None: every company (and it may create companies)
    may_create_companies: bool

    def may_act_on(self, company_id: int) -> bool:
        return self.company_ids is None or company_id in self.company_ids

    def require(self, scope: str, company_id: int | None = None) -> None:
        """Raises a 403 problem (``insufficient_scope`` or ``company_not_allowed``)."""
        if scope not in self.scopes:
            raise InsufficientScope(scope)
        if company_id is not None and not self.may_act_on(company_id):
            raise CompanyNotAllowed()
