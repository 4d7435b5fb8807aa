"""The token, revocation and UserInfo endpoints: JSON errors at the token endpoint,
``WWW-Authenticate`` at UserInfo, CORS for registered web origins (OIDC-1)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.routing import Route

from portti.audit.models import AuditAction
from portti.infra.ratelimit import client_network
from portti.machines.tokens import MachineTokens
from portti.oidc_provider.client_auth_limits import ClientAuthLimits, ClientAuthThrottled
from portti.oidc_provider.clients import JWT_BEARER, ClientService, assertion_subject, parse_basic
from portti.oidc_provider.cors import (
    allowed_for,
    cors_headers,
    normal_origin,
    preflight_headers,
    registered_by_any,
    same_origin,
)
from portti.oidc_provider.errors import BearerError, TokenError
from portti.oidc_provider.grants import Grants
from portti.oidc_provider.models import OidcClient
from portti.oidc_provider.provider import ProviderContext
from portti.oidc_provider.revocation import revoke
from portti.oidc_provider.token_form import TokenForm, TokenFormDep, token_form
from portti.oidc_provider.tokens import TokenIssuer
from portti.oidc_provider.userinfo import UserInfo
from portti.oidc_provider.views.common import (
    NO_STORE,
    Provider,
    plain_routes,
    provider_for,
    router,
)
from portti.runtime import runtime
from portti.web.deps import client_ip
from portti.web.plain import in_unit_of_work
from portti.web.uow import UnitOfWork


def _token_error(
    exc: TokenError, basic_used: bool, cors: dict[str, str] | None = None
) -> JSONResponse:
    headers = {**NO_STORE, **(cors or {})}
    if exc.status == 401 and basic_used:
        headers["www-authenticate"] = 'Basic realm="portti"'
    if isinstance(exc, ClientAuthThrottled):
        headers["retry-after"] = str(exc.retry_after)
    return JSONResponse(
        {"error": exc.error, "error_description": exc.description},
        status_code=exc.status,
        headers=headers,
    )


class _ClientCall:
    """A client's call to the token or revocation endpoint: its authentication (rate-limited,
    SEC-21) and its browser origin (CORS, OIDC-1)."""

    def __init__(self, request: Request, provider: ProviderContext, secret: bytes) -> None:
        self.request = request
        self.provider = provider
        self.secret = secret
        self.basic: tuple[str, str] | None = None
        self.origin = _cross_origin(request, provider)
        self.cors: dict[str, str] = {}
        self.limits = ClientAuthLimits(
            runtime(request).limiter, provider.audit, client_network(client_ip(request))
        )

    def authenticate(self, form: TokenForm) -> OidcClient:
        provider = self.provider
        self.basic = basic = parse_basic(self.request.headers.get("authorization"))
        if form.client_secret is not None:
            # RFC 6749 §2.3.1: the secret in the form body, taken from business software only
            # (directory services' provisioning, such as Entra ID's, may send it so); login
            # clients use Basic. Then authenticated, and limited, as a Basic secret is.
            posted = provider.client(form.client_id) if basic is None else None
            if posted is None or not posted.is_machine or form.client_id is None:
                raise TokenError(
                    "invalid_client", "client_secret_post is not supported; use Basic."
                )
            self.basic = basic = (form.client_id, form.client_secret)
        assertion = form.client_assertion
        if assertion is not None and form.client_assertion_type != JWT_BEARER:
            raise TokenError("invalid_client", "Unsupported client_assertion_type.")
        claimed_id = (
            basic[0] if basic else (assertion_subject(assertion) if assertion else form.client_id)
        )
        if form.client_id is not None and claimed_id != form.client_id:
            raise TokenError("invalid_client", "client_id does not match the credentials.")
        clients = ClientService(provider.db, provider.clock, provider.audit, self.secret)
        self.limits.check(claimed_id)
        claimed = provider.client(claimed_id)
        TokenIssuer(provider).warm_keys(claimed)
        try:
            client = clients.authenticate(
                claimed,
                basic=basic,
                assertion=assertion,
                token_endpoint=provider.token_endpoint,
                issuer=provider.issuer,
            )
        except TokenError:
            self.limits.failed(claimed_id)
            raise
        if self.origin is not None:
            # A browser's request: only from the client's registered web origins (OIDC-1),
            # refused before the code or refresh token is spent.
            if not allowed_for(client, self.origin):
                provider.audit.record(
                    AuditAction.OIDC_TOKEN_REFUSED,
                    client=client.client_id,
                    reason="origin_not_allowed",
                )
                raise TokenError(
                    "invalid_request", "Requests from this web origin are not allowed."
                )
            self.cors = cors_headers(self.origin)
        return client

    def refused(self, exc: TokenError) -> JSONResponse:
        # The refusal's audit row and any revocation it caused stay. A single-page app of a
        # registered origin may read why it was refused.
        cors = self.cors
        if (
            self.origin is not None
            and not cors
            and registered_by_any(self.provider.db, self.origin)
        ):
            cors = cors_headers(self.origin)
        return _token_error(exc, self.basic is not None, cors)


async def token(request: Request) -> Response:
    """``POST /oidc/token``: as at the authorization endpoint, a plain endpoint
    (``web/plain.py``), the work and its commit in one hop to a thread."""
    form = await token_form(request)

    def work(uow: UnitOfWork) -> Response:
        return _token_answer(request, provider_for(request, uow.db), form)

    return await in_unit_of_work(request, work)


plain_routes.append(Route("/oidc/token", token, methods=["POST"], include_in_schema=False))


def _token_answer(request: Request, provider: ProviderContext, form: TokenForm) -> Response:
    call = _ClientCall(request, provider, provider.secret)
    try:
        client = call.authenticate(form)
        if form.grant_type == "client_credentials":
            # PRV-1: a machine client's own token; no person, no refresh or ID token.
            body = MachineTokens(
                provider.db,
                provider.clock,
                provider.keys,
                issuer=provider.issuer,
                lifetime=timedelta(
                    seconds=runtime(request).settings.machine_token_lifetime_seconds
                ),
            ).issue(client, form.scope, provider.audit)
        elif client.is_machine:
            provider.audit.record(
                AuditAction.OIDC_TOKEN_REFUSED,
                machine=client,
                client=client.client_id,
                reason="grant_not_allowed",
            )
            raise TokenError(
                "unauthorized_client", "A machine client uses the client_credentials grant."
            )
        elif form.grant_type == "authorization_code":
            body = Grants(provider).exchange_code(
                client,
                code=form.code,
                redirect_uri=form.redirect_uri,
                code_verifier=form.code_verifier,
            )
        elif form.grant_type == "refresh_token":
            body = Grants(provider).refresh(
                client, refresh_token=form.refresh_token, scope=form.scope
            )
        else:
            raise TokenError(
                "unsupported_grant_type",
                "Use authorization_code, refresh_token or client_credentials.",
            )
    except TokenError as exc:
        return call.refused(exc)
    return JSONResponse(body, headers={**NO_STORE, **call.cors})


@router.post("/oidc/revoke")
def revoke_token(request: Request, provider: Provider, form: TokenFormDep) -> Response:
    """RFC 7009: the client revokes a refresh or access token it was given (``revocation.py``)."""
    call = _ClientCall(request, provider, provider.secret)
    try:
        client = call.authenticate(form)
        if not form.token:
            raise TokenError("invalid_request", "The token parameter is missing.")
        revoke(provider, client, form.token)
    except TokenError as exc:
        return call.refused(exc)
    return Response(status_code=200, headers={**NO_STORE, **call.cors})


def _cross_origin(request: Request, provider: ProviderContext) -> str | None:
    """The Origin of a browser's cross-origin request (None for servers and Portti's pages)."""
    origin = normal_origin(request.headers.get("origin"))
    if origin is None or same_origin(origin, provider.issuer):
        return None
    return origin


def _preflight(request: Request, provider: ProviderContext, methods: str) -> Response:
    origin = _cross_origin(request, provider)
    if origin is None or not registered_by_any(provider.db, origin):
        return Response(status_code=403, headers={"vary": "Origin"})
    return Response(status_code=204, headers=preflight_headers(origin, methods))


@router.options("/oidc/token")
def token_preflight(request: Request, provider: Provider) -> Response:
    return _preflight(request, provider, "POST")


@router.options("/oidc/revoke")
def revoke_preflight(request: Request, provider: Provider) -> Response:
    return _preflight(request, provider, "POST")


@router.options("/oidc/userinfo")
def userinfo_preflight(request: Request, provider: Provider) -> Response:
    return _preflight(request, provider, "GET, POST")


def _bearer_error(exc: BearerError, cors: dict[str, str]) -> Response:
    return JSONResponse(
        {"error": exc.error, "error_description": exc.description},
        status_code=401,
        headers={"www-authenticate": f'Bearer error="{exc.error}"', **NO_STORE, **cors},
    )


def _userinfo(request: Request, provider: ProviderContext) -> Response:
    origin = _cross_origin(request, provider)
    # Refusals are readable by any registered origin (they tell nothing about a person).
    refusal_cors = (
        cors_headers(origin)
        if origin is not None and registered_by_any(provider.db, origin)
        else {}
    )
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        return JSONResponse(
            {"error": "invalid_request"},
            status_code=401,
            headers={"www-authenticate": "Bearer", **refusal_cors},
        )
    try:
        claims, client = UserInfo(provider).claims_and_client(auth[7:].strip())
    except BearerError as exc:
        return _bearer_error(exc, refusal_cors)
    # The claims only to the origins of the client the token was issued to (OIDC-1).
    cors = cors_headers(origin) if origin is not None and allowed_for(client, origin) else {}
    return JSONResponse(claims, headers={**NO_STORE, **cors})


@router.get("/oidc/userinfo")
def userinfo(request: Request, provider: Provider) -> Response:
    return _userinfo(request, provider)


@router.post("/oidc/userinfo")
def userinfo_post(request: Request, provider: Provider) -> Response:
    return _userinfo(request, provider)
