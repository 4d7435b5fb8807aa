"""Notices: the e-mails and SMS that tell people what happened to them, rendered from
``web/templates/email`` and queued in the outbox (``infra.outbox``) in the caller's transaction,
so a notice is sent exactly when the change it speaks of is committed.

Services say what happened (``notices.device_bound(…)``); this module owns the wording, the
links and who is told, and in which language (:func:`recipient_language`): a notice is read by
its recipient, not by whoever caused it, so it follows the recipient's own setting
(``persons.language``), else the default language of their company, else English — never the
language of the request that happened to send it.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment
from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.accounts.models import Account
from portti.companies.models import Company, Membership
from portti.devices.models import Device
from portti.i18n import DEFAULT, current_choice, fmt_datetime, gettext, supported, use_locale
from portti.infra.outbox import Outbox
from portti.people.models import Person


def recipient_language(
    db: Session, person: Person | None, *, company: Company | None = None, own_request: bool = False
) -> str:
    """The language of an e-mail or SMS to ``person``: their own setting; else, when the mail
    answers their own request, the language their browser named; else the default of
    ``company`` or of the company they joined first; else English."""
    if person is not None and (lang := supported(person.language)):
        return lang
    choice = current_choice()
    if own_request and choice is not None and choice.explicit:
        return choice.language
    default = company.default_language if company is not None else None
    if default is None and person is not None and person.id is not None:
        default = db.scalar(
            select(Company.default_language)
            .join(Membership, Membership.company_id == Company.id)
            .where(Membership.person_id == person.id)
            .order_by(Membership.id)
            .limit(1)
        )
    return supported(default) or DEFAULT


class NoticeService:
    def __init__(self, db: Session, outbox: Outbox, jinja: Environment, *, base_url: str) -> None:
        self.db = db
        self.outbox = outbox
        self.jinja = jinja
        self.base_url = base_url.rstrip("/")

    def device_bound(
        self,
        device: Device,
        person: Person | None,
        account: Account | None,
        not_me_token: str,
        *,
        replaced: Device | None = None,
    ) -> int:
        """APP-4: "A new device can now log in as you", with the "This wasn't me" link, to the
        person's address and the account's (once if they are the same). Returns how many
        addresses were told."""
        addresses: list[str] = []
        for address in (person.email if person else None, account.email if account else None):
            if address and address.lower() not in {a.lower() for a in addresses}:
                addresses.append(address)
        with use_locale(recipient_language(self.db, person)):
            ctx: dict[str, Any] = {
                "person": person,
                "device": device,
                "bound_at": fmt_datetime(device.created_at),
                "not_me_url": f"{self.base_url}/devices/not-me/{not_me_token}",
                # Activated again on the same phone: the device it had before has ended.
                "replaced": replaced,
                "replaced_added": fmt_datetime(replaced.created_at) if replaced else "",
            }
            text, html = self._render("new_device", ctx)
            subject = gettext("A new device can now log in as you with Portti")
        for address in addresses:
            self.outbox.email(
                to=address,
                subject=subject,
                text=text,
                html=html,
                kind="new_device",
                person_id=device.person_id,
            )
        return len(addresses)

    def devices_removed(
        self, devices: list[Device], person: Person | None, company: Company
    ) -> int:
        """UX-8: "Your user administrator removed your device", naming the devices and the
        company whose administrator did it, to the person's address, in their language."""
        if person is None or not person.email:
            return 0
        with use_locale(recipient_language(self.db, person, company=company)):
            ctx: dict[str, Any] = {
                "person": person,
                "company": company,
                "devices": [(d.name, fmt_datetime(d.created_at)) for d in devices],
            }
            text, html = self._render("devices_removed", ctx)
            subject = gettext("Your device was removed from Portti")
        self.outbox.email(
            to=person.email,
            subject=subject,
            text=text,
            html=html,
            kind="devices_removed",
            person_id=person.id,
        )
        return 1

    def _render(self, name: str, ctx: dict[str, Any]) -> tuple[str, str]:
        """The plain-text and HTML bodies of ``email/<name>``."""
        text = self.jinja.get_template(f"email/{name}.txt").render(ctx)
        html = self.jinja.get_template(f"email/{name}.html").render(ctx)
        return text, html
