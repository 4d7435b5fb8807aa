"""Machine clients at the HTTP floor (PRV-1): the bearer token read and checked for a route.

A request carrying ``Authorization: Bearer`` is a machine's and nothing else: its cookies are
not read (``web/deps.get_optional_session``) and it needs no CSRF token (``web/csrf``), since a
browser cannot send that header to another site without a CORS preflight, which Portti's API
does not answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from portti.companies.principal import MachinePrincipal
from portti.i18n import _l
from portti.machines.tokens import EXPIRED, MachineTokenInvalid, MachineTokenMissing, MachineTokens
from portti.oidc_provider.errors import BearerError
from portti.runtime import runtime
from portti.web.deps import DbSession

# In the OpenAPI document: the security scheme of the routes machines may call.
machine_bearer = HTTPBearer(
    scheme_name="machineToken",
    bearerFormat="JWT",
    description="An access token of a machine client, from `/oidc/token` with "
    "`grant_type=client_credentials` (scopes companies:write, members:read, members:write, scim).",
    auto_error=False,
)
MachineCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(machine_bearer)]


def bearer_token(request: Request) -> str | None:
    """The request's bearer token, if it carries one."""
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def machine_tokens(request: Request, db: DbSession) -> MachineTokens:
    rt = runtime(request)
    return MachineTokens(
        db,
        rt.clock,
        rt.oidc_keys,
        issuer=str(rt.settings.base_url).rstrip("/"),
        lifetime=timedelta(seconds=rt.settings.machine_token_lifetime_seconds),
    )


def verify_machine(request: Request, db: DbSession, scope: str | None) -> MachinePrincipal:
    """The principal of the request's machine token, with ``scope`` granted (when given)."""
    token = bearer_token(request)
    if token is None:
        if request.headers.get("authorization"):
            # Credentials of another kind: a token that is not valid here.
            raise MachineTokenInvalid(_l("Send a machine client's access token as a Bearer token."))
        raise MachineTokenMissing(_l("Send a machine client's access token as a Bearer token."))
    try:
        principal = machine_tokens(request, db).verify(token)
    except BearerError as exc:
        if exc.description == EXPIRED:
            raise MachineTokenInvalid(
                _l("The access token has expired: ask the token endpoint for a new one."),
                description=EXPIRED,
            ) from exc
        raise MachineTokenInvalid() from exc
    if scope is not None:
        principal.require(scope)
    request.state.machine = principal
    return principal


def machine_principal(scope: str) -> Callable[..., Awaitable[MachinePrincipal]]:
    """A FastAPI dependency: the machine principal of the request, which must hold ``scope``.
    401 with ``WWW-Authenticate: Bearer`` without a token, 401 ``invalid_token`` (told apart
    when it has expired) with a token that is not valid, 403
    ``insufficient_scope`` without the scope."""

    async def dependency(
        request: Request, db: DbSession, _credentials: MachineCredentials
    ) -> MachinePrincipal:
        # The client is read from the database: off the event loop.
        return await anyio.to_thread.run_sync(verify_machine, request, db, scope)

    return dependency
