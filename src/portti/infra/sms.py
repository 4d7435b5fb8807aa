"""Sending SMS: the ``SmsSender`` protocol, an HTTP gateway and the dev mailbox.

``settings.sms_url`` picks the implementation: ``dev://`` keeps messages in the dev mailbox,
an ``http(s)://`` URL POSTs each message to a gateway. The request body is
``settings.sms_body_template`` with ``{to}`` and ``{text}`` replaced by the JSON-escaped values
(so a quote or a line break in the text cannot break the JSON), and the ``Authorization`` header
is ``settings.sms_auth_header`` as given (``Bearer …``, ``Basic …``).

Nothing here logs a body, a phone number or the authorization header; errors carry the HTTP
status only, never the gateway's response body (gateways often echo the request).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Protocol

import httpx
import structlog
from sqlalchemy.orm import Session, sessionmaker

from portti.config import Mode, Settings
from portti.infra.clock import Clock
from portti.infra.delivery import PermanentDeliveryError, TransientDeliveryError
from portti.infra.devmailbox import DevMailbox, make_dev_mailbox

log = structlog.get_logger(__name__)

# Below the outbox lease (60 s), so that a slow gateway cannot make two workers send one SMS.
HTTP_TIMEOUT_SECONDS = 20.0


class SmsSender(Protocol):
    async def send(self, *, to: str, text: str) -> None:
        """Delivers one SMS or raises ``TransientDeliveryError``/``PermanentDeliveryError``."""
        ...


def json_escaped(value: str) -> str:
    """The value as it appears between the quotes of a JSON string."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


def render_body(template: str, *, to: str, text: str) -> str:
    # One pass, so that a "{text}" inside the phone number (or vice versa) is not replaced again.
    values = {"{to}": json_escaped(to), "{text}": json_escaped(text)}
    out: list[str] = []
    i = 0
    while i < len(template):
        for placeholder, value in values.items():
            if template.startswith(placeholder, i):
                out.append(value)
                i += len(placeholder)
                break
        else:
            out.append(template[i])
            i += 1
    return "".join(out)


def _content_type(body: str) -> str:
    try:
        json.loads(body)
    except ValueError:
        return "text/plain; charset=utf-8"
    return "application/json"


class HttpSmsGateway:
    def __init__(
        self,
        url: str,
        *,
        body_template: str,
        auth_header: str | None = None,
        timeout: float = HTTP_TIMEOUT_SECONDS,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("PORTTI_SMS_URL must be dev:// or an http(s):// gateway URL")
        self.url = url
        self.body_template = body_template
        self._auth_header = auth_header
        self.timeout = timeout
        # Loading the CA bundle is the costly part of a client; the client itself is made per
        # message, so that it is never shared between event loops (app, CLI worker, tests).
        self._tls = ssl.create_default_context()

    def __repr__(self) -> str:
        return f"HttpSmsGateway(url={self.url.split('?', 1)[0]!r})"

    async def send(self, *, to: str, text: str) -> None:
        body = render_body(self.body_template, to=to, text=text)
        headers = {"content-type": _content_type(body)}
        if self._auth_header:
            headers["authorization"] = self._auth_header
        try:
            # httpx times each phase; the outer deadline bounds the whole request.
            async with (
                asyncio.timeout(self.timeout),
                httpx.AsyncClient(
                    timeout=self.timeout, verify=self._tls, follow_redirects=False
                ) as client,
            ):
                response = await client.post(self.url, content=body.encode(), headers=headers)
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise TransientDeliveryError("sms gateway: timed out") from exc
        except httpx.HTTPError as exc:
            raise TransientDeliveryError("sms gateway: " + type(exc).__name__) from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        reason = f"sms gateway: HTTP {status}"
        # Throttled or unavailable for now; anything else 4xx is about this request and stays so.
        if status >= 500 or status in {408, 425, 429}:
            raise TransientDeliveryError(reason)
        raise PermanentDeliveryError(reason)


class DevSms:
    """Keeps SMS in the dev mailbox instead of sending them."""

    def __init__(self, mailbox: DevMailbox) -> None:
        self.mailbox = mailbox

    async def send(self, *, to: str, text: str) -> None:
        await asyncio.to_thread(
            self.mailbox.record, channel="sms", recipient=to, subject=None, text=text, html=None
        )


def make_sms_sender(
    settings: Settings,
    session_factory: sessionmaker[Session] | None = None,
    clock: Clock | None = None,
) -> SmsSender:
    """The SMS sender ``settings.sms_url`` names; the dev one writes through ``session_factory``."""
    if settings.sms_url.startswith("dev://"):
        if settings.mode is Mode.PRODUCTION:
            log.warning("dev_sms_in_production", hint="set PORTTI_SMS_URL to an SMS gateway")
        return DevSms(make_dev_mailbox(settings, session_factory, clock))
    auth = settings.sms_auth_header.get_secret_value() if settings.sms_auth_header else None
    return HttpSmsGateway(
        settings.sms_url, body_template=settings.sms_body_template, auth_header=auth
    )
