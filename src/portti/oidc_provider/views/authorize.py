"""The authorization endpoint: a person who must log in is sent to Portti's own login page
with the request parked server-side; after the login, the company choice or consent,
``/oidc/continue`` finishes it. A page answers an untrusted client or redirect URI, a redirect
with ``error`` anything else."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.routing import Route

from portti.audit.models import AuditAction
from portti.oidc_provider.authorize import (
    Authorization,
    NeedsCompany,
    NeedsConsent,
    NeedsLogin,
    Outcome,
    Redirect,
    ValidatedRequest,
)
from portti.oidc_provider.consent import ConsentService
from portti.oidc_provider.errors import AuthorizeError, UntrustedRedirect
from portti.oidc_provider.views.common import (
    NO_STORE,
    Provider,
    browser,
    plain_routes,
    provider_for,
    render,
    router,
    untrusted_page,
)
from portti.web.deps import Audit, ClockDep, DbSession
from portti.web.plain import in_unit_of_work
from portti.web.uow import UnitOfWork
from portti.weblogin.session_deps import CurrentSession, OptionalWebSession, optional_session


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
            Authorization(provider).finish_parked(handle)
        if interactive:
            # After a form on Portti's pages the last hop is a page, not a redirect: the
            # pages' CSP (form-action 'self') would stop a redirect chain that leaves the site.
            return render(
                request, "oidc/return.html", {"url": outcome.url, "client_name": req.client.name}
            )
        return RedirectResponse(outcome.url, 303, headers=NO_STORE)
    if isinstance(outcome, NeedsLogin):
        if handle is None:
            handle = Authorization(provider).park(req, browser_id, outcome.login_after)
        return RedirectResponse(_login_url(handle), 303, headers=NO_STORE)
    if handle is None:
        handle = Authorization(provider).park(req, browser_id, None)
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


def _authorize(
    request: Request, provider: Provider, ws: OptionalWebSession, raw: dict[str, str]
) -> Response:
    try:
        req = Authorization(provider).validate(raw)
    except UntrustedRedirect as exc:
        provider.audit.record(
            AuditAction.OIDC_AUTHORIZATION_REFUSED,
            reason="untrusted_request",
            client=str(raw.get("client_id", ""))[:64],
        )
        return untrusted_page(request, exc)
    except AuthorizeError as exc:
        # validate() raises AuthorizeError only after the client and redirect URI are known.
        url = Authorization(provider).error_url(raw["redirect_uri"], raw.get("state"), exc)
        provider.audit.record(
            AuditAction.OIDC_AUTHORIZATION_REFUSED, reason=exc.error, client=raw["client_id"]
        )
        return RedirectResponse(url, 303)
    try:
        outcome = Authorization(provider).decide(req, ws)
    except AuthorizeError as exc:
        url = Authorization(provider).error_redirect(req, exc)
        return RedirectResponse(url, 303)
    return _answer(request, provider, req, outcome, handle=None, interactive=False)


async def authorize(request: Request) -> Response:
    """``GET /oidc/authorize``. A business application's every login comes here: a plain
    endpoint (``web/plain.py``), its session, decision and commit in one hop to a thread."""

    def work(uow: UnitOfWork) -> Response:
        provider = provider_for(request, uow.db)
        ws = optional_session(request, uow)
        return _authorize(request, provider, ws, dict(request.query_params))

    return await in_unit_of_work(request, work)


plain_routes.append(Route("/oidc/authorize", authorize, methods=["GET"], include_in_schema=False))


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
        req, login_after = Authorization(provider).parked(r, request.state.browser_id)
    except UntrustedRedirect as exc:
        return untrusted_page(request, exc)
    except AuthorizeError as exc:
        return render(request, "oidc/error.html", {"message": exc.description}, status=400)
    if ws is None:
        return RedirectResponse(_login_url(r), 303)
    try:
        outcome = Authorization(provider).decide(req, ws, login_after=login_after)
    except AuthorizeError as exc:
        Authorization(provider).finish_parked(r)
        url = Authorization(provider).error_redirect(req, exc)
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
        req, login_after = Authorization(provider).parked(r, request.state.browser_id)
    except (UntrustedRedirect, AuthorizeError) as exc:
        return render(request, "oidc/error.html", {"message": exc.description}, status=400)
    if ws is None:
        return RedirectResponse(_login_url(r), 303)
    outcome = Authorization(provider).decide(
        req, ws, login_after=login_after, company_id=company_id
    )
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
        req, login_after = Authorization(provider).parked(r, request.state.browser_id)
    except (UntrustedRedirect, AuthorizeError) as exc:
        return render(request, "oidc/error.html", {"message": exc.description}, status=400)
    if ws is None:
        return RedirectResponse(_login_url(r), 303)
    if decision != "allow":
        Authorization(provider).finish_parked(r)
        url = Authorization(provider).error_url(
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
        outcome = Authorization(provider).decide(
            req, ws, login_after=login_after, company_id=chosen, consented=True
        )
    except AuthorizeError as exc:
        Authorization(provider).finish_parked(r)
        url = Authorization(provider).error_redirect(req, exc)
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
