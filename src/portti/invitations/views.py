"""Admin routes: invite a user to the app, follow the progress, cancel, and generate a
confirmation code when the SMS does not arrive (INV-1 … INV-6); the undeliverable e-mail and SMS
(INV-7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import select

from portti.companies.deps import CurrentActor
from portti.companies.errors import PersonNeedsSupport
from portti.companies.policy import AdminPolicy
from portti.devices.lifecycle import END_LOGOUT_EVERYWHERE
from portti.devices.models import Device, DeviceStatus
from portti.errors import Forbidden, ValidationFailed
from portti.i18n import _l
from portti.infra.outbox import OutboxMessage, failed_messages
from portti.invitations.deps import Invitations
from portti.invitations.errors import InviteeNotValid, ReinviteNeedsSupport
from portti.invitations.models import LIVE_STATUSES, Invitation, InvitationStatus
from portti.web.csrf import verify_csrf
from portti.web.deps import ClockDep, DbSession, Id, Uow
from portti.web.render import render
from portti.weblogin.session_deps import CurrentSession

router = APIRouter(
    prefix="/c/{company_id}/users/{membership_id}",
    dependencies=[Depends(verify_csrf)],
    include_in_schema=False,
)
# Undeliverable e-mail and SMS (INV-7), shown to a company's admins and to Support.
messages = APIRouter(dependencies=[Depends(verify_csrf)])


def app_ended_at(invitations: Invitations, inv: Invitation) -> tuple[Any, bool] | None:
    """When the app the invitation activated stopped being in use, and whether the person
    logged out from all devices (then only a new invitation lets them in again); None while a
    device is active (UX-13)."""
    devices = invitations.db.execute(
        select(Device.status, Device.ended_at, Device.end_reason).where(
            Device.person_id == inv.person_id, Device.created_at >= inv.sent_at
        )
    ).all()
    if not devices or any(d.status == DeviceStatus.ACTIVE for d in devices):
        return None
    last = max(devices, key=lambda d: d.ended_at or inv.sent_at)
    return last.ended_at or inv.activated_at, last.end_reason == END_LOGOUT_EVERYWHERE


def panel_context(invitations: Invitations, inv: Invitation | None) -> dict[str, Any]:
    now = invitations.clock.now()
    status = inv.effective_status(now) if inv else None
    return {
        "invitation": inv,
        "inv_status": status,
        # "Activated" no longer tells the truth once the app is out of use everywhere.
        "app_ended_at": app_ended_at(invitations, inv)
        if inv and status is InvitationStatus.ACTIVATED
        else None,
        "live": status in LIVE_STATUSES,
        "steps": invitations.progress(inv) if inv else [],
        "expires_in": int((inv.expires_at - now).total_seconds())
        if inv and status in LIVE_STATUSES
        else 0,
        "can_issue_code": status is InvitationStatus.CODE_ENTERED,
    }


@router.get("/invitation-panel", response_class=HTMLResponse)
def invitation_panel(
    request: Request,
    company_id: Id,
    membership_id: Id,
    actor: CurrentActor,
    invitations: Invitations,
    ws: CurrentSession,
) -> Response:
    m, inv = invitations.for_admin(actor, company_id, membership_id)
    return render(
        request,
        "invitations/_panel.html",
        {
            "company_id": company_id,
            "m": m,
            "session": ws,
            # The admin's code binds a phone to the person: offered only to those who may.
            "may_manage_person": invitations.policy.may_manage_person(
                actor.acting_person_id, m.person_id
            ),
            **panel_context(invitations, inv),
        },
    )


def invite_context(
    invitations: Invitations,
    actor: CurrentActor,
    ws: CurrentSession,
    company_id: Id,
    membership_id: Id,
    errors: dict[str, str],
) -> dict[str, Any]:
    m, inv = invitations.for_admin(actor, company_id, membership_id)
    company, grant = invitations.policy.require_admin(actor.acting_person_id, company_id)
    blocker = invitations.invite_blocker(actor, m, grant)
    return {
        "session": ws,
        "company": company,
        "grant": grant,
        "m": m,
        "person": m.person,
        "blocked": blocker is not None,
        "blocked_code": blocker.code if blocker else None,
        "blocked_message": blocker.message if blocker else None,
        "previous": inv,
        "errors": errors,
        **panel_context(invitations, inv),
    }


@router.get("/invite", response_class=HTMLResponse)
def invite_page(
    request: Request,
    company_id: Id,
    membership_id: Id,
    actor: CurrentActor,
    invitations: Invitations,
    ws: CurrentSession,
) -> Response:
    ctx = invite_context(invitations, actor, ws, company_id, membership_id, {})
    return render(request, "invitations/invite.html", ctx)


@router.post("/invite", response_class=HTMLResponse)
def send_invitation(
    request: Request,
    company_id: Id,
    membership_id: Id,
    actor: CurrentActor,
    invitations: Invitations,
    ws: CurrentSession,
    uow: Uow,
    identity_verified: Annotated[str | None, Form()] = None,
    language: Annotated[str, Form(max_length=16)] = "en",
) -> Response:
    refusals = (ValidationFailed, ReinviteNeedsSupport, PersonNeedsSupport, InviteeNotValid)
    try:
        # A refusal of the hierarchy is audited, and kept.
        invitations.invite(
            actor,
            company_id,
            membership_id,
            identity_verified=identity_verified == "yes",
            language=language,
        )
    except refusals as exc:
        uow.refused(exc)
        errors = getattr(exc, "errors", None) or {"form": exc.message}
        ctx = invite_context(invitations, actor, ws, company_id, membership_id, errors)
        ctx["values"] = {"language": language}
        return render(request, "invitations/invite.html", ctx, status=exc.status)
    return RedirectResponse(f"/c/{company_id}/users/{membership_id}?invited=1", 303)


@router.post("/invitation/cancel")
def cancel_invitation(
    company_id: Id,
    membership_id: Id,
    actor: CurrentActor,
    invitations: Invitations,
) -> Response:
    invitations.cancel(actor, company_id, membership_id)
    return RedirectResponse(f"/c/{company_id}/users/{membership_id}?cancelled=1", 303)


@router.get("/confirmation-code", response_class=HTMLResponse)
def confirmation_code_page(
    request: Request,
    company_id: Id,
    membership_id: Id,
    actor: CurrentActor,
    invitations: Invitations,
    ws: CurrentSession,
) -> Response:
    m, inv = invitations.for_admin(actor, company_id, membership_id)
    company, grant = invitations.policy.require_admin(actor.acting_person_id, company_id)
    return render(
        request,
        "invitations/confirmation_code.html",
        {
            "session": ws,
            "company": company,
            "grant": grant,
            "m": m,
            "person": m.person,
            "code": None,
            **panel_context(invitations, inv),
        },
    )


@router.post("/confirmation-code", response_class=HTMLResponse)
def generate_confirmation_code(
    request: Request,
    company_id: Id,
    membership_id: Id,
    actor: CurrentActor,
    invitations: Invitations,
    ws: CurrentSession,
) -> Response:
    # A refusal of the hierarchy is audited, and kept.
    inv, code, cc = invitations.issue_admin_code(actor, company_id, membership_id)
    company, grant = invitations.policy.require_admin(actor.acting_person_id, company_id)
    m, _ = invitations.for_admin(actor, company_id, membership_id)
    response = render(
        request,
        "invitations/confirmation_code.html",
        {
            "session": ws,
            "company": company,
            "grant": grant,
            "m": m,
            "person": inv.person,
            "code": code,
            "code_expires_at": cc.expires_at,
            "membership_id": membership_id,
            **panel_context(invitations, inv),
        },
    )
    # Shown once: the page must not be kept in a cache or the history.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/confirmation-code/saved")
def confirmation_code_saved(
    company_id: Id,
    membership_id: Id,
    actor: CurrentActor,
    invitations: Invitations,
    saved: Annotated[str | None, Form()] = None,
) -> Response:
    if saved != "yes":
        raise ValidationFailed({"saved": _l("Tick the box once you have saved the code.")})
    invitations.confirm_admin_code_saved(actor, company_id, membership_id)
    return RedirectResponse(f"/c/{company_id}/users/{membership_id}?code_issued=1", 303)


# -- undeliverable messages (INV-7) -----------------------------------------------------------


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


@messages.get(
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


@messages.get(
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
        raise Forbidden(_l("Only customer service sees every company's messages."))
    return [_out(m) for m in failed_messages(db, company_id=None)]


@messages.get("/c/{company_id}/messages", response_class=HTMLResponse, include_in_schema=False)
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
    return render(request, "invitations/undeliverable.html", ctx)
