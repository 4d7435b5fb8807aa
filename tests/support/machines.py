"""Machine clients (PRV-1) for tests: registered as an operator would (the command line), and
their access tokens fetched from the token endpoint as business software fetches them."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from portti.audit.services import AuditLog
from portti.infra.clock import Clock
from portti.machines.registry import (
    MachineClientInput,
    MachineClientService,
    RegisteredMachineClient,
)
from portti.oidc_provider.clients import ClientService

TOKEN = "/oidc/token"


def register_machine(
    db: Session,
    clock: Clock,
    secret: bytes,
    *,
    scopes: list[str],
    company_ids: list[int] | None = None,
    **fields: Any,
) -> RegisteredMachineClient:
    """``company_ids`` None: every company (and it may create companies)."""
    data = MachineClientInput(
        name=fields.pop("name", "Numerot payroll"),
        scopes=scopes,
        companies="all" if company_ids is None else company_ids,
        **fields,
    )
    clients = ClientService(db, clock, AuditLog(db, clock), secret)
    reg = MachineClientService(clients).register(data, actor_person_id=None)
    db.commit()
    return reg


def machine_token(
    client: TestClient, reg: RegisteredMachineClient, scope: str | None = None
) -> str:
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    assert reg.client_secret is not None
    r = client.post(TOKEN, data=data, auth=(reg.client_id, reg.client_secret))
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
