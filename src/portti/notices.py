"""Notices: the e-mails and SMS that tell people what happened to them, rendered from
``web/templates/email`` and queued in the outbox (``infra.outbox``) in the caller's transaction,
so a notice is sent exactly when the change it speaks of is committed.

Services say what happened (``notices.device_bound(…)``); this module owns the wording, the
links and who is told.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

from portti.accounts.models import Account
from portti.devices.models import Device
from portti.infra.outbox import Outbox
from portti.people.models import Person


class NoticeService:
    def __init__(self, outbox: Outbox, jinja: Environment, *, base_url: str) -> None:
        self.outbox = outbox
        self.jinja = jinja
        self.base_url = base_url.rstrip("/")

    def device_bound(
        self, device: Device, person: Person | None, account: Account | None, not_me_token: str
    ) -> int:
        """APP-4: "A new device can now log in as you", with the "This wasn't me" link, to the
        person's address and the account's (once if they are the same). Returns how many
        addresses were told."""
        addresses: list[str] = []
        for address in (person.email if person else None, account.email if account else None):
            if address and address.lower() not in {a.lower() for a in addresses}:
                addresses.append(address)
        ctx: dict[str, Any] = {
            "person": person,
            "device": device,
            "bound_utc": device.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            "not_me_url": f"{self.base_url}/devices/not-me/{not_me_token}",
        }
        text, html = self._render("new_device", ctx)
        for address in addresses:
            self.outbox.email(
                to=address,
                subject="A new device can now log in as you with Portti",
                text=text,
                html=html,
                kind="new_device",
                person_id=device.person_id,
            )
        return len(addresses)

    def _render(self, name: str, ctx: dict[str, Any]) -> tuple[str, str]:
        """The plain-text and HTML bodies of ``email/<name>``."""
        text = self.jinja.get_template(f"email/{name}.txt").render(ctx)
        html = self.jinja.get_template(f"email/{name}.html").render(ctx)
        return text, html
