"""The OpenID Provider's HTTP face: discovery, JWKS, authorize, token, UserInfo, logout.

The authorize endpoint sends a person who must log in to Portti's own login page (QR with the
app, bank ID, ID cards) with the request parked server-side; after the login, or the company
choice, ``/oidc/continue`` finishes it. Protocol errors are answered as the specifications say:
a page for an untrusted client or redirect URI, a redirect with ``error`` otherwise, JSON at the
token endpoint, ``WWW-Authenticate`` at UserInfo."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.i18n import _l
from portti.infra.ratelimit import client_network
from portti.machines.principal import MACHINE_SCOPES
from portti.machines.tokens import MachineTokens
from portti.oidc_provider.claims import ACR_VALUES
from portti.oidc_provider.client_auth_limits import ClientAuthLimits, ClientAuthThrottled
from portti.oidc_provider.clients import JWT_BEARER, ClientService, assertion_subject, parse_basic
from portti.oidc_provider.consent import ConsentService
from portti.oidc_provider.cors import (
    allowed_for,
    cors_headers,
    normal_origin,
    preflight_headers,
    registered_by_any,
    same_origin,
)
from portti.oidc_provider.errors import AuthorizeError, BearerError, TokenError, UntrustedRedirect
from portti.oidc_provider.keys import SigningKeys
from portti.oidc_provider.models import OidcClient, OidcLogin
from portti.oidc_provider.revocation import revoke
from portti.oidc_provider.service import (
    SCOPES,
    NeedsCompany,
    NeedsConsent,
    NeedsLogin,
    Outcome,
    ProviderService,
    Redirect,
    ValidatedRequest,
)
from portti.oidc_provider.token_form import TokenForm, TokenFormDep
from portti.runtime import runtime
from portti.web.cookies import clear_session_cookie
from portti.web.csrf import verify_csrf
from portti.web.deps import Audit, ClockDep, DbSession, Uow, client_ip, request_context
from portti.web.render import render as render_page
from portti.web.uow import UnitOfWork
from portti.weblogin.session_deps import (
    CurrentSession,
    OptionalWebSession,
    Sessions,
    optional_session,
)

# Browser-facing routes check CSRF on POST; the token endpoint is called by clients' servers.
router = APIRouter(include_in_schema=False)
browser = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


def issuer_of(request: Request) -> str:
    return str(runtime(request).settings.base_url).rstrip("/")


async def get_provider(request: Request, uow: Uow) -> ProviderService:
    """Built from the runtime and the request's unit of work alone: the provider's routes are
    the busiest, and every sub-dependency is a step of FastAPI's own on each request."""
    rt = runtime(request)
    settings = rt.settings
    return ProviderService(
        uow.db,
        rt.clock,
        AuditLog(uow.db, rt.clock, request_context(request)),
        issuer=str(settings.base_url).rstrip("/"),
        keys=rt.oidc_keys,
        secret=settings.secret,
        code_lifetime=timedelta(seconds=settings.oidc_code_lifetime_seconds),
        session_idle=timedelta(minutes=settings.session_idle_minutes),
    )


Provider = Annotated[ProviderService, Depends(get_provider)]


def render(request: Request, name: str, ctx: dict[str, Any], status: int = 200) -> Response:
    """A provider page: never stored (``Cache-Control`` and ``Pragma``)."""
    return render_page(request, name, ctx, status=status, headers=NO_STORE)


@router.get("/.well-known/openid-configuration")
def discovery(request: Request) -> JSONResponse:
    issuer = issuer_of(request)
    keys: SigningKeys = runtime(request).oidc_keys
    return JSONResponse(
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oidc/authorize",
            "token_endpoint": f"{issuer}/oidc/token",
            "userinfo_endpoint": f"{issuer}/oidc/userinfo",
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "end_session_endpoint": f"{issuer}/oidc/logout",
            "revocation_endpoint": f"{issuer}/oidc/revoke",
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "private_key_jwt",
                "none",
            ],
            "scopes_supported": [*SCOPES, *MACHINE_SCOPES],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": list(keys.algorithms),
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "private_key_jwt",
                "none",
            ],
            "token_endpoint_auth_signing_alg_values_supported": [
                "ES256",
                "ES384",
                "PS256",
                "RS256",
                "EdDSA",
            ],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "acr",
                "amr",
                "sid",
                "azp",
                "name",
                "given_name",
                "family_name",
                "email",
                "email_verified",
                "companies",
                "company",
                "roles",
                "profiles",
            ],
            "acr_values_supported": list(ACR_VALUES),
            "prompt_values_supported": ["none", "login", "consent", "select_account"],
            # Read for the essential "acr" of the ID token (SEC-22); other claims requests
            # are ignored, as OIDC Core 5.5 allows.
            "claims_parameter_supported": True,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "authorization_response_iss_parameter_supported": True,
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
        },
        headers={"cache-control": "public, max-age=300"},
    )


def _login_url(handle: str) -> str:
    return "/login?next=" + quote(f"/oidc/continue?r={handle}", safe="")


def _answer(
    request: Request,
    provider: Provider,
    req: ValidatedRequest,
    outcome: Outcome,
    *,
    handle: str | None,
    interactive: bool,
) -> Response:
    browser_id = request.state.browser_id
    if isinstance(outcome, Redirect):
        if handle is not None:
            provider.finish_parked(handle)
        if interactive:
            # After a form on Portti's pages the last hop is a page, not a redirect: the
            # pages' CSP (form-action 'self') would stop a redirect chain that leaves the site.
            return render(
                request, "oidc/return.html", {"url": outcome.url, "client_name": req.client.name}
            )
        return RedirectResponse(outcome.url, 303, headers=NO_STORE)
    if isinstance(outcome, NeedsLogin):
        if handle is None:
            handle = provider.park(req, browser_id, outcome.login_after)
        return RedirectResponse(_login_url(handle), 303, headers=NO_STORE)
    if handle is None:
        handle = provider.park(req, browser_id, None)
    if isinstance(outcome, NeedsConsent):
        return render(
            request,
            "oidc/consent.html",
            {
                "client": req.client,
                "scopes": req.scopes,
                "grants": outcome.grants,
                "company_id": outcome.company_id,
                "handle": handle,
            },
        )
    assert isinstance(outcome, NeedsCompany)
    return render(
        request,
        "oidc/choose_company.html",
        {"client": req.client, "choices": outcome.choices, "handle": handle},
    )


def _untrusted(request: Request, exc: UntrustedRedirect) -> Response:
    return render(request, "oidc/error.html", {"message": exc.description}, status=400)


def _authorize(
    request: Request, provider: Provider, ws: OptionalWebSession, raw: dict[str, str]
) -> Response:
    try:
        req = provider.validate(raw)
    except UntrustedRedirect as exc:
        provider.audit.record(
            AuditAction.OIDC_AUTHORIZATION_REFUSED,
            reason="untrusted_request",
            client=str(raw.get("client_id", ""))[:64],
        )
        return _untrusted(request, exc)
    except AuthorizeError as exc:
        # validate() raises AuthorizeError only after the client and redirect URI are known.
        url = provider._error_url(raw["redirect_uri"], raw.get("state"), exc)
        provider.audit.record(
            AuditAction.OIDC_AUTHORIZATION_REFUSED, reason=exc.error, client=raw["client_id"]
        )
        return RedirectResponse(url, 303)
    try:
        outcome = provider.decide(req, ws)
    except AuthorizeError as exc:
        url = provider.error_redirect(req, exc)
        return RedirectResponse(url, 303)
    return _answer(request, provider, req, outcome, handle=None, interactive=False)


@router.get("/oidc/authorize")
async def authorize(request: Request, provider: Provider, uow: Uow) -> Response:
    # A business application's every login comes here: the session, the decision and the
    # commit run in one hop to a handler thread rather than three (the session dependency,
    # the handler, the unit of work's commit), which then finds nothing left to commit.
    def work() -> Response:
        ws = optional_session(request, uow)
        response = _authorize(request, provider, ws, dict(request.query_params))
        uow.commit_now()
        return response

    return await run_in_threadpool(work)


@router.post("/oidc/authorize")
async def authorize_post(request: Request) -> Response:
    # OIDC Core §3.1.2.1: POST with form parameters is the same request; answered by the GET
    # handler's logic through a redirect to it would lose nothing, but form posts are rare.
    form = await request.form()
    query = "&".join(f"{quote(k)}={quote(str(v))}" for k, v in form.items())
    return RedirectResponse(f"/oidc/authorize?{query}", 303)


@router.get("/oidc/continue")
def continue_authorization(
    request: Request, provider: Provider, ws: OptionalWebSession, r: str = ""
) -> Response:
    try:
        req, login_after = provider.parked(r, request.state.browser_id)
    except UntrustedRedirect as exc:
        return _untrusted(request, exc)
    except AuthorizeError as exc:
        return render(request, "oidc/error.html", {"message": exc.description}, status=400)
    if ws is None:
        return RedirectResponse(_login_url(r), 303)
    try:
        outcome = provider.decide(req, ws, login_after=login_after)
    except AuthorizeError as exc:
        provider.finish_parked(r)
        url = provider.error_redirect(req, exc)
        return render(request, "oidc/return.html", {"url": url, "client_name": req.client.name})
    return _answer(request, provider, req, outcome, handle=r, interactive=True)


@browser.post("/oidc/company")
def choose_company(
    request: Request,
    provider: Provider,
    ws: OptionalWebSession,
    r: Annotated[str, Form()],
    company_id: Annotated[int, Form()],
) -> Response:
    try:
        req, login_after = provider.parked(r, request.state.browser_id)
    except (UntrustedRedirect, AuthorizeError) as exc:
        return render(request, "oidc/error.html", {"message": exc.description}, status=400)
    if ws is None:
        return RedirectResponse(_login_url(r), 303)
    outcome = provider.decide(req, ws, login_after=login_after, company_id=company_id)
    return _answer(request, provider, req, outcome, handle=r, interactive=True)


@browser.post("/oidc/consent")
def give_consent(
    request: Request,
    provider: Provider,
    ws: OptionalWebSession,
    r: Annotated[str, Form()],
    decision: Annotated[str, Form()],
    company_id: Annotated[str, Form()] = "",
) -> Response:
    """OIDC-4: the consent page's answer. Allow: remembered, and the code goes to the
    application; deny: the application gets ``access_denied``."""
    try:
        req, login_after = provider.parked(r, request.state.browser_id)
    except (UntrustedRedirect, AuthorizeError) as exc:
        return render(request, "oidc/error.html", {"message": exc.description}, status=400)
    if ws is None:
        return RedirectResponse(_login_url(r), 303)
    if decision != "allow":
        provider.finish_parked(r)
        url = provider._error_url(
            req.params["redirect_uri"],
            req.params.get("state"),
            AuthorizeError("access_denied", "The person did not allow the application."),
        )
        provider.audit.record(
            AuditAction.OIDC_AUTHORIZATION_REFUSED,
            actor_person_id=ws.person_id,
            subject_person_id=ws.person_id,
            client=req.client.client_id,
            reason="consent_denied",
        )
        return render(request, "oidc/return.html", {"url": url, "client_name": req.client.name})
    chosen = int(company_id) if company_id.isdigit() and len(company_id) < 12 else None
    try:
        outcome = provider.decide(
            req, ws, login_after=login_after, company_id=chosen, consented=True
        )
    except AuthorizeError as exc:
        provider.finish_parked(r)
        url = provider.error_redirect(req, exc)
        return render(request, "oidc/return.html", {"url": url, "client_name": req.client.name})
    return _answer(request, provider, req, outcome, handle=r, interactive=True)


@browser.post("/settings/applications/{consent_id}/revoke")
def revoke_consent(
    consent_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    ws: CurrentSession,
    db: DbSession,
    clock: ClockDep,
    audit: Audit,
) -> Response:
    """OIDC-4: the person takes back what they allowed an application (basic settings)."""
    ConsentService(db, clock, audit).revoke(ws.person_id, consent_id)
    return RedirectResponse("/settings#applications-heading", 303)


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

    def __init__(self, request: Request, provider: ProviderService, secret: bytes) -> None:
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
        provider.warm_keys(claimed)
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


@router.post("/oidc/token")
async def token(request: Request, provider: Provider, form: TokenFormDep, uow: Uow) -> Response:
    # As at the authorization endpoint: the work and its commit in one hop to a thread.
    return await run_in_threadpool(_token, request, provider, form, uow)


def _token(
    request: Request, provider: ProviderService, form: TokenForm, uow: UnitOfWork
) -> Response:
    response = _token_answer(request, provider, form)
    uow.commit_now()
    return response


def _token_answer(request: Request, provider: ProviderService, form: TokenForm) -> Response:
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
            body = provider.exchange_code(
                client,
                code=form.code,
                redirect_uri=form.redirect_uri,
                code_verifier=form.code_verifier,
            )
        elif form.grant_type == "refresh_token":
            body = provider.refresh(client, refresh_token=form.refresh_token, scope=form.scope)
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


def _cross_origin(request: Request, provider: ProviderService) -> str | None:
    """The Origin of a browser's cross-origin request (None for servers and Portti's pages)."""
    origin = normal_origin(request.headers.get("origin"))
    if origin is None or same_origin(origin, provider.issuer):
        return None
    return origin


def _preflight(request: Request, provider: ProviderService, methods: str) -> Response:
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


def _userinfo(request: Request, provider: ProviderService) -> Response:
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
        claims, client = provider.userinfo_and_client(auth[7:].strip())
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


LOGOUT_PARAMS = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state", "logout_hint")


def _logout(
    request: Request,
    provider: ProviderService,
    ws: OptionalWebSession,
    sessions: Sessions,
    params: dict[str, str],
    *,
    confirmed: bool,
) -> Response:
    hint = provider.id_token_hint(params["id_token_hint"]) if params.get("id_token_hint") else None
    if params.get("id_token_hint") and hint is None:
        return render(
            request, "oidc/error.html", {"message": _l("The logout request is not valid.")}, 400
        )
    client_id = params.get("client_id") or (hint or {}).get("aud")
    if hint is not None and params.get("client_id") and hint.get("aud") != params["client_id"]:
        return render(
            request, "oidc/error.html", {"message": _l("The logout request is not valid.")}, 400
        )
    client = provider.client(client_id if isinstance(client_id, str) else None)
    try:
        back = provider.logout_redirect(
            client, params.get("post_logout_redirect_uri"), params.get("state")
        )
    except UntrustedRedirect as exc:
        return _untrusted(request, exc)
    if ws is not None:
        # Without proof that this browser's session made the request, ask (a link on any page
        # could otherwise log the person out).
        own = (
            hint is not None
            and provider.db.scalars(
                select(OidcLogin.id).where(
                    OidcLogin.sid == hint.get("sid"), OidcLogin.web_session_id == ws.id
                )
            ).first()
            is not None
        )
        if not (own or confirmed):
            return render(
                request,
                "oidc/logout.html",
                {"client": client, "params": {k: v for k, v in params.items() if v}},
            )
        sessions.revoke(ws.person_id, ws.id, provider.audit, actor_id=ws.person_id)
        provider.audit.record(
            AuditAction.OIDC_LOGOUT,
            actor_person_id=ws.person_id,
            subject_person_id=ws.person_id,
            client=client.client_id if client else None,
        )
    if back is not None:
        response = (
            render(
                request,
                "oidc/return.html",
                {"url": back, "client_name": client.name if client else ""},
            )
            if confirmed
            else RedirectResponse(back, 303)
        )
    else:
        response = render(request, "oidc/logged_out.html", {})
    clear_session_cookie(request, response)
    return response


@router.get("/oidc/logout")
def logout(
    request: Request, provider: Provider, ws: OptionalWebSession, sessions: Sessions
) -> Response:
    params = {k: v for k, v in request.query_params.items() if k in LOGOUT_PARAMS}
    return _logout(request, provider, ws, sessions, params, confirmed=False)


@browser.post("/oidc/logout")
def logout_confirmed(
    request: Request,
    provider: Provider,
    ws: OptionalWebSession,
    sessions: Sessions,
    id_token_hint: Annotated[str, Form()] = "",
    client_id: Annotated[str, Form()] = "",
    post_logout_redirect_uri: Annotated[str, Form()] = "",
    state: Annotated[str, Form()] = "",
) -> Response:
    params = {
        "id_token_hint": id_token_hint,
        "client_id": client_id,
        "post_logout_redirect_uri": post_logout_redirect_uri,
        "state": state,
    }
    return _logout(
        request, provider, ws, sessions, {k: v for k, v in params.items() if v}, confirmed=True
    )
