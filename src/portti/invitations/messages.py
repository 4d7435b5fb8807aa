"""What an invitee reads, in the invitation's language: the invitation e-mail and the SMS with
the confirmation code. And undeliverable e-mail and SMS (INV-7), shown to a company's admins
and to Support."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import segno
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment
from pydantic import BaseModel

from portti.companies.policy import AdminPolicy
from portti.errors import Forbidden
from portti.i18n import _l, gettext, use_locale
from portti.infra.outbox import OutboxMessage, failed_messages
from portti.web.csrf import verify_csrf
from portti.web.deps import ClockDep, DbSession, Id
from portti.web.render import render
from portti.weblogin.session_deps import CurrentSession

router = APIRouter(dependencies=[Depends(verify_csrf)])


@functools.lru_cache(maxsize=4)
def app_qr_png(app_url: str) -> tuple[str, int]:
    """The app's address as a QR code: a PNG data URI (the mailer sends it as an inline image)
    and its size in pixels (UX-7). Not a secret: every invitation of the service shows it."""
    qr = segno.make(app_url, error="m")
    scale, border = 5, 2
    size = int(qr.symbol_size(scale=scale, border=border)[0])
    return qr.png_data_uri(scale=scale, border=border), size


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def invitation_email(jinja: Environment, invitation: Any, code: str) -> Email:
    """The invitation e-mail in the language the admin chose for it (English by default)."""
    from portti.i18n import fmt_datetime

    inv = invitation
    tz = ZoneInfo(inv.company.timezone)
    app_url = str(jinja.globals.get("app_url", "/app/"))
    qr, qr_size = app_qr_png(app_url)
    with use_locale(inv.language) as lang:
        ctx = {
            "app_url": app_url,
            "app_qr": qr,
            "app_qr_size": qr_size,
            "invitation": inv,
            "inviter_name": inv.inviter_name,
            "by_software": inv.by_software,
            "company": inv.company,
            "person": inv.person,
            "code": code,
            "expires_utc": fmt_datetime(inv.expires_at, lang, tz=UTC) + " UTC",
            "expires_local": fmt_datetime(inv.expires_at, lang, tz=tz),
            "timezone": inv.company.timezone,
        }
        subject = (
            gettext(
                "%(company)s invites you to log in with the Portti app", company=inv.company.name
            )
            if inv.by_software
            else gettext(
                "%(inviter)s invites you to log in to %(company)s with the Portti app",
                inviter=inv.inviter_name,
                company=inv.company.name,
            )
        )
        return Email(
            subject=subject,
            text=jinja.get_template("email/invitation.txt").render(ctx),
            html=jinja.get_template("email/invitation.html").render(ctx),
        )


def confirmation_code_sms(invitation: Any, code: str) -> str:
    """The SMS with the 6-digit confirmation code, in the invitation's language."""
    with use_locale(invitation.language):
        return gettext(
            "Your Portti confirmation code is %(code)s. It is valid for 10 minutes. "
            "Do not give it to anyone.",
            code=code,
        )


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
        raise Forbidden(_l("Only customer service sees every company's messages."))
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
    return render(request, "invitations/undeliverable.html", ctx)
