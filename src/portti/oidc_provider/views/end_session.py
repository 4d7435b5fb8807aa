"""RP-initiated logout: ``/oidc/logout`` asks before it logs the person out."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from portti.audit.models import AuditAction
from portti.i18n import _l
from portti.oidc_provider.end_session import EndSession
from portti.oidc_provider.errors import UntrustedRedirect
from portti.oidc_provider.models import OidcLogin
from portti.oidc_provider.provider import ProviderContext
from portti.oidc_provider.views.common import (
    Provider,
    browser,
    render,
    router,
    untrusted_page,
)
from portti.web.cookies import clear_session_cookie
from portti.weblogin.session_deps import OptionalWebSession, Sessions

LOGOUT_PARAMS = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state", "logout_hint")


def _logout(
    request: Request,
    provider: ProviderContext,
    ws: OptionalWebSession,
    sessions: Sessions,
    params: dict[str, str],
    *,
    confirmed: bool,
) -> Response:
    hint = (
        EndSession(provider).id_token_hint(params["id_token_hint"])
        if params.get("id_token_hint")
        else None
    )
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
        back = EndSession(provider).logout_redirect(
            client, params.get("post_logout_redirect_uri"), params.get("state")
        )
    except UntrustedRedirect as exc:
        return untrusted_page(request, exc)
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
