"""Support registers business applications (OpenID clients): JSON API under /api/v1 and pages
under /admin/applications. Changes need a fresh strong authentication, like user changes."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from portti.errors import ValidationFailed, field_message
from portti.oidc_provider.client_settings import ClientInput, ClientView, RegisteredClient
from portti.oidc_provider.clients import ClientService
from portti.web.csrf import verify_csrf
from portti.web.deps import Audit, ClockDep, DbSession, SettingsDep
from portti.web.render import render
from portti.weblogin.session_deps import CurrentSession

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Not Support, or step-up needed"},
    404: {"description": "Not found"},
    422: {"description": "Validation failed"},
}

api = APIRouter(
    prefix="/api/v1/oidc-clients",
    dependencies=[Depends(verify_csrf)],
    tags=["oidc-clients"],
    responses=ERRORS,
)
views = APIRouter(
    prefix="/admin/applications", dependencies=[Depends(verify_csrf)], include_in_schema=False
)


async def get_clients(
    db: DbSession, clock: ClockDep, audit: Audit, settings: SettingsDep
) -> ClientService:
    return ClientService(db, clock, audit, settings.secret, step_up_window=settings.step_up_window)


Clients = Annotated[ClientService, Depends(get_clients)]


@api.get("", operation_id="listOidcClients", response_model=list[ClientView])
def list_clients(ws: CurrentSession, clients: Clients) -> list[ClientView]:
    return [ClientView.of(c) for c in clients.list(ws.person_id)]


@api.post(
    "",
    operation_id="registerOidcClient",
    response_model=RegisteredClient,
    status_code=status.HTTP_201_CREATED,
)
def register_client(data: ClientInput, ws: CurrentSession, clients: Clients) -> RegisteredClient:
    """Registers an application; `client_secret` is in this answer only."""
    out = clients.register(data, actor_person_id=ws.person_id, strong_auth_at=ws.strong_auth_at)
    return out


@api.get("/{client_id}", operation_id="getOidcClient", response_model=ClientView)
def get_client(client_id: str, ws: CurrentSession, clients: Clients) -> ClientView:
    return ClientView.of(clients.get(ws.person_id, client_id))


@api.put("/{client_id}", operation_id="updateOidcClient", response_model=ClientView)
def update_client(
    client_id: str, data: ClientInput, ws: CurrentSession, clients: Clients
) -> ClientView:
    c = clients.update(
        client_id, data, actor_person_id=ws.person_id, strong_auth_at=ws.strong_auth_at
    )
    return ClientView.of(c)


@api.post(
    "/{client_id}/secret", operation_id="rotateOidcClientSecret", response_model=RegisteredClient
)
def rotate_secret(client_id: str, ws: CurrentSession, clients: Clients) -> RegisteredClient:
    out = clients.rotate_secret(
        client_id, actor_person_id=ws.person_id, strong_auth_at=ws.strong_auth_at
    )
    return out


@api.delete(
    "/{client_id}", operation_id="disableOidcClient", status_code=status.HTTP_204_NO_CONTENT
)
def disable_client(client_id: str, ws: CurrentSession, clients: Clients) -> Response:
    """Disables the application: its logins end (back-channel logout) and no new ones start."""
    clients.disable(client_id, actor_person_id=ws.person_id, strong_auth_at=ws.strong_auth_at)
    return Response(status_code=204)


# -- pages ---------------------------------------------------------------------------------------


def _render(request: Request, name: str, ctx: dict[str, Any], status_code: int = 200) -> Response:
    return render(request, name, ctx, status=status_code, headers={"cache-control": "no-store"})


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _form_input(
    name: str,
    auth_method: str,
    redirect_uris: str,
    post_logout_redirect_uris: str,
    backchannel_logout_uri: str,
    scopes: list[str],
    company_ids: str,
    company_selection: bool,
    subject_type: str,
    jwks: str,
    id_token_signed_response_alg: str = "RS256",  # noqa: S107 (an algorithm name)
    first_party: bool = False,
    web_origins: str = "",
) -> ClientInput:
    try:
        return ClientInput(
            name=name,
            auth_method=auth_method,
            redirect_uris=_lines(redirect_uris),
            post_logout_redirect_uris=_lines(post_logout_redirect_uris),
            backchannel_logout_uri=backchannel_logout_uri or None,
            allowed_scopes=["openid", *[s for s in scopes if s != "openid"]],
            company_ids=[int(x) for x in company_ids.replace(",", " ").split()] or None,
            company_selection=company_selection,
            subject_type=subject_type,
            jwks=json.loads(jwks) if jwks.strip() else None,
            id_token_signed_response_alg=id_token_signed_response_alg,
            first_party=first_party,
            web_origins=_lines(web_origins),
        )
    except (ValidationError, ValueError) as exc:
        errors = (
            {
                ".".join(str(p) for p in e["loc"]) or "form": field_message(e["msg"])
                for e in exc.errors()
            }
            if isinstance(exc, ValidationError)
            else {"form": str(exc)}
        )
        raise ValidationFailed(errors) from exc


@views.get("", response_class=HTMLResponse)
def applications_page(request: Request, ws: CurrentSession, clients: Clients) -> Response:
    return _render(
        request,
        "oidc/admin_list.html",
        {
            "session": ws,
            "clients": clients.list(ws.person_id),
            "created": None,
        },
    )


@views.post("", response_class=HTMLResponse)
def register_application(
    request: Request,
    ws: CurrentSession,
    clients: Clients,
    name: Annotated[str, Form()],
    redirect_uris: Annotated[str, Form()],
    auth_method: Annotated[str, Form()] = "client_secret_basic",
    post_logout_redirect_uris: Annotated[str, Form()] = "",
    backchannel_logout_uri: Annotated[str, Form()] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
    company_ids: Annotated[str, Form()] = "",
    company_selection: Annotated[bool, Form()] = False,
    subject_type: Annotated[str, Form()] = "public",
    jwks: Annotated[str, Form()] = "",
    id_token_signed_response_alg: Annotated[str, Form()] = "RS256",  # noqa: S107 (an algorithm)
    first_party: Annotated[bool, Form()] = False,
    web_origins: Annotated[str, Form()] = "",
) -> Response:
    data = _form_input(
        name,
        auth_method,
        redirect_uris,
        post_logout_redirect_uris,
        backchannel_logout_uri,
        scopes or [],
        company_ids,
        company_selection,
        subject_type,
        jwks,
        id_token_signed_response_alg,
        first_party,
        web_origins,
    )
    created = clients.register(data, actor_person_id=ws.person_id, strong_auth_at=ws.strong_auth_at)
    # The secret is on this page only; it is not stored in clear anywhere.
    return _render(
        request,
        "oidc/admin_list.html",
        {
            "session": ws,
            "clients": clients.list(ws.person_id),
            "created": created,
        },
        status_code=201,
    )


@views.post("/{client_id}/disable")
def disable_application(client_id: str, ws: CurrentSession, clients: Clients) -> Response:
    clients.disable(client_id, actor_person_id=ws.person_id, strong_auth_at=ws.strong_auth_at)
    return RedirectResponse("/admin/applications", 303)
