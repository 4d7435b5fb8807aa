"""What an invitee reads, in the invitation's language: the invitation e-mail and the SMS with
the confirmation code. The undeliverable ones (INV-7) are listed by ``invitations/views.py``."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

import segno
from jinja2 import Environment

from portti.companies.notices import render_email
from portti.i18n import gettext, use_locale


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
    """The invitation e-mail in the language the admin chose for it (English by default). Its
    moments are formatted by the environment's ``datetime`` filter, as its templates' are."""
    fmt_datetime = jinja.filters["datetime"]
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
        text, html = render_email(jinja, "invitation", ctx)
        return Email(subject=subject, text=text, html=html)


def confirmation_code_sms(invitation: Any, code: str) -> str:
    """The SMS with the 6-digit confirmation code, in the invitation's language."""
    with use_locale(invitation.language):
        return gettext(
            "Your Portti confirmation code is %(code)s. It is valid for 10 minutes. "
            "Do not give it to anyone.",
            code=code,
        )
