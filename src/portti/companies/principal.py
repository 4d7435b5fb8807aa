"""Who a machine's request acts as (PRV-1): the client, its granted scopes and the companies it
may reach. Every rule about what business software may do asks this object; it knows neither
HTTP nor tokens (``machines/tokens.py`` reads the token that names it)."""

from __future__ import annotations

from dataclasses import dataclass

from portti.errors import Forbidden
from portti.i18n import _l

COMPANIES_WRITE = "companies:write"
MEMBERS_READ = "members:read"
MEMBERS_WRITE = "members:write"
SCIM = "scim"
MACHINE_SCOPES = (COMPANIES_WRITE, MEMBERS_READ, MEMBERS_WRITE, SCIM)


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
