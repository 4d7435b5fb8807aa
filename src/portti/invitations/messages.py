"""Undeliverable e-mail and SMS (INV-7): shown to a company's admins and to Support."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from portti.companies.policy import AdminPolicy
from portti.errors import Forbidden
from portti.infra.outbox import OutboxMessage, failed_messages
from portti.runtime import runtime
from portti.web.csrf import verify_csrf
from portti.web.deps import ClockDep, CurrentSession, DbSession, Id

router = APIRouter(dependencies=[Depends(verify_csrf)])


class UndeliverableOut(BaseModel):
    id: int
    channel: str
    recipient: str
    subject: str | None
    kind: str
    company_id: int | None
    person_id: int | None
    attempts: int
    last_error: str | None
    created_at: datetime


def _out(m: OutboxMessage) -> UndeliverableOut:
    return UndeliverableOut(
        id=m.id,
        channel=m.channel,
        recipient=m.recipient,
        subject=m.subject,
        kind=m.kind,
        company_id=m.company_id,
        person_id=m.person_id,
        attempts=m.attempts,
        last_error=m.last_error,
        created_at=m.created_at,
    )


@router.get(
    "/api/v1/companies/{company_id}/undeliverable-messages",
    operation_id="list_undeliverable_messages",
    response_model=list[UndeliverableOut],
    tags=["invitations"],
)
def list_undeliverable_messages(
    company_id: Id, ws: CurrentSession, db: DbSession, clock: ClockDep
) -> list[UndeliverableOut]:
    AdminPolicy(db, clock).require_admin(ws.person_id, company_id)
    return [_out(m) for m in failed_messages(db, company_id=company_id)]


@router.get(
    "/api/v1/undeliverable-messages",
    operation_id="list_all_undeliverable_messages",
    response_model=list[UndeliverableOut],
    tags=["invitations"],
)
def list_all_undeliverable_messages(
    ws: CurrentSession, db: DbSession, clock: ClockDep
) -> list[UndeliverableOut]:
    """Support only: every company's undeliverable messages."""
    if not AdminPolicy(db, clock).is_support(ws.person_id):
        raise Forbidden("Only customer service sees every company's messages.")
    return [_out(m) for m in failed_messages(db, company_id=None)]


@router.get("/c/{company_id}/messages", response_class=HTMLResponse, include_in_schema=False)
def undeliverable_page(
    request: Request, company_id: int, ws: CurrentSession, db: DbSession, clock: ClockDep
) -> Response:
    company, grant = AdminPolicy(db, clock).require_admin(ws.person_id, company_id)
    ctx: dict[str, Any] = {
        "session": ws,
        "company": company,
        "grant": grant,
        "messages": failed_messages(db, company_id=company_id),
    }
    return runtime(request).templates.TemplateResponse(
        request, "invitations/undeliverable.html", ctx
    )
