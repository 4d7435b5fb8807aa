"""Support registers machine clients (PRV-1): JSON API under /api/v1/machine-clients and a form
on the applications page (/admin/applications). Changes need a fresh strong authentication,
as for the applications that log people in."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from portti.errors import ValidationFailed, field_message
from portti.i18n import _l
from portti.machines.registry import (
    MachineClientInput,
    MachineClientService,
    MachineClientView,
    RegisteredMachineClient,
)
from portti.oidc_provider.admin import Clients
from portti.web.csrf import verify_csrf
from portti.web.render import render
from portti.weblogin.session_deps import CurrentSession

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Not Support, or step-up needed"},
    404: {"description": "Not found"},
    422: {"description": "Validation failed"},
}

api = APIRouter(
    prefix="/api/v1/machine-clients",
    dependencies=[Depends(verify_csrf)],
    tags=["machine-clients"],
    responses=ERRORS,
)
views = APIRouter(
    prefix="/admin/applications", dependencies=[Depends(verify_csrf)], include_in_schema=False
)


async def get_machine_clients(clients: Clients) -> MachineClientService:
    return MachineClientService(clients)


Machines = Annotated[MachineClientService, Depends(get_machine_clients)]


@api.get("", operation_id="listMachineClients", response_model=list[MachineClientView])
def list_machine_clients(ws: CurrentSession, machines: Machines) -> list[MachineClientView]:
    return [MachineClientView.of(c) for c in machines.list(ws.person_id)]


@api.post(
    "",
    operation_id="registerMachineClient",
    response_model=RegisteredMachineClient,
    status_code=status.HTTP_201_CREATED,
)
def register_machine_client(
    data: MachineClientInput, ws: CurrentSession, machines: Machines
) -> RegisteredMachineClient:
    """Registers business software as a machine client; `client_secret` is in this answer
    only."""
    return machines.register(data, actor_person_id=ws.person_id, strong_auth_at=ws.strong_auth_at)


@api.get("/{client_id}", operation_id="getMachineClient", response_model=MachineClientView)
def get_machine_client(client_id: str, ws: CurrentSession, machines: Machines) -> MachineClientView:
    return MachineClientView.of(machines.get(ws.person_id, client_id))


@api.post(
    "/{client_id}/secret",
    operation_id="rotateMachineClientSecret",
    response_model=RegisteredMachineClient,
)
def rotate_machine_secret(
    client_id: str, ws: CurrentSession, machines: Machines
) -> RegisteredMachineClient:
    return machines.rotate_secret(
        client_id, actor_person_id=ws.person_id, strong_auth_at=ws.strong_auth_at
    )


@api.delete(
    "/{client_id}", operation_id="disableMachineClient", status_code=status.HTTP_204_NO_CONTENT
)
def disable_machine_client(client_id: str, ws: CurrentSession, machines: Machines) -> Response:
    """Disables the machine client: its access tokens stop working at once."""
    machines.disable(client_id, actor_person_id=ws.person_id, strong_auth_at=ws.strong_auth_at)
    return Response(status_code=204)


# -- the form on the applications page -----------------------------------------------------------


def machine_form_input(
    name: str, auth_method: str, scopes: list[str], company_ids: str, jwks: str, all_companies: bool
) -> MachineClientInput:
    if all_companies and company_ids.strip():
        raise ValidationFailed(
            {"companies": _l("Choose either every company or the listed companies, not both.")}
        )
    try:
        return MachineClientInput(
            name=name,
            auth_method=auth_method,
            scopes=scopes,
            companies="all"
            if all_companies
            else [int(x) for x in company_ids.replace(",", " ").split()],
            jwks=json.loads(jwks) if jwks.strip() else None,
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


def _page(
    request: Request, ws: Any, machines: MachineClientService, created: Any, status_code: int
) -> Response:
    return render(
        request,
        "oidc/admin_machines.html",
        {"session": ws, "machines": machines.list(ws.person_id), "created": created},
        status=status_code,
        headers={"cache-control": "no-store"},
    )


@views.get("/machines", response_class=HTMLResponse)
def machines_page(request: Request, ws: CurrentSession, machines: Machines) -> Response:
    return _page(request, ws, machines, None, 200)


@views.post("/machines", response_class=HTMLResponse)
def register_machine(
    request: Request,
    ws: CurrentSession,
    machines: Machines,
    name: Annotated[str, Form()],
    auth_method: Annotated[str, Form()] = "client_secret_basic",
    scopes: Annotated[list[str] | None, Form()] = None,
    company_ids: Annotated[str, Form()] = "",
    all_companies: Annotated[bool, Form()] = False,
    jwks: Annotated[str, Form()] = "",
) -> Response:
    data = machine_form_input(name, auth_method, scopes or [], company_ids, jwks, all_companies)
    created = machines.register(
        data, actor_person_id=ws.person_id, strong_auth_at=ws.strong_auth_at
    )
    # The secret is on this page only; it is not stored in clear anywhere.
    return _page(request, ws, machines, created, 201)


@views.post("/machines/{client_id}/disable")
def disable_machine(client_id: str, ws: CurrentSession, machines: Machines) -> Response:
    machines.disable(client_id, actor_person_id=ws.person_id, strong_auth_at=ws.strong_auth_at)
    return RedirectResponse("/admin/applications/machines", 303)
