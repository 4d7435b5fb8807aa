"""What people are told about their devices (APP-4, UX-8), written through the companies'
``Notifier`` (``companies/notices.py``): in the recipient's language, queued in the outbox in the
caller's transaction."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment
from sqlalchemy.orm import Session

from portti.accounts.models import Account
from portti.companies.models import Company
from portti.companies.notices import Notifier
from portti.devices.models import Device
from portti.i18n import fmt_datetime, gettext
from portti.infra.outbox import Outbox
from portti.people.models import Person


class DeviceNotices:
    def __init__(self, db: Session, outbox: Outbox, jinja: Environment, *, base_url: str) -> None:
        self.notifier = Notifier(db, outbox, jinja)
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
        with self.notifier.in_language_of(person):
            ctx: dict[str, Any] = {
                "person": person,
                "device": device,
                "bound_at": fmt_datetime(device.created_at),
                "not_me_url": f"{self.base_url}/devices/not-me/{not_me_token}",
                # Activated again on the same phone: the device it had before has ended.
                "replaced": replaced,
                "replaced_added": fmt_datetime(replaced.created_at) if replaced else "",
            }
            text, html = self.notifier.render("new_device", ctx)
            subject = gettext("A new device can now log in as you with Portti")
        for address in addresses:
            self.notifier.outbox.email(
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
        with self.notifier.in_language_of(person, company=company):
            ctx: dict[str, Any] = {
                "person": person,
                "company": company,
                "devices": [(d.name, fmt_datetime(d.created_at)) for d in devices],
            }
            self.notifier.email(
                "devices_removed",
                ctx,
                to=person.email,
                subject=gettext("Your device was removed from Portti"),
                kind="devices_removed",
                person_id=person.id,
            )
        return 1
