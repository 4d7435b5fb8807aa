"""Sending e-mail: the ``Mailer`` protocol, SMTP (aiosmtplib) and the dev mailbox.

Only the outbox worker calls a mailer; services queue e-mail with ``Outbox.email`` in their own
transaction (INV-7). ``settings.mail_url`` picks the implementation:

* ``dev://`` keeps mail in the dev mailbox (``/dev/mailbox`` in demo and test mode);
* ``smtp://[user:pass@]host[:port]`` plain SMTP, port 25 by default; ``?starttls=1`` upgrades
  with STARTTLS when the server offers it, ``?starttls=required`` refuses to send without it;
* ``smtps://[user:pass@]host[:port]`` implicit TLS, port 465 by default.

By default every message has a connection of its own. Inside ``reusing_connections(mailer)``
(the outbox worker, while it runs) a connection that has just delivered stays open for the next
message: the TCP and TLS handshakes, EHLO and login happen once per connection instead of once
per message. A kept connection carries at most ``MAX_MESSAGES_PER_CONNECTION`` messages, is
dropped after ``MAX_IDLE_SECONDS`` unused and after any error, and is closed when the block ends.

Nothing here logs a body, a recipient or a password.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import re
import time
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import structlog
from sqlalchemy.orm import Session, sessionmaker

from portti.config import Mode, Settings
from portti.infra.clock import Clock
from portti.infra.delivery import PermanentDeliveryError, TransientDeliveryError
from portti.infra.devmailbox import DevMailbox, make_dev_mailbox

log = structlog.get_logger(__name__)

# Below the outbox lease (60 s), so that a slow server cannot make two workers send one message.
SMTP_TIMEOUT_SECONDS = 30.0
# Reused connections: some servers take only so many messages per connection (Exchange, for one,
# 20 by default); RFC 5321 asks servers to wait at least 5 minutes before dropping an idle
# client, so a few seconds unused is well inside any server's patience.
MAX_MESSAGES_PER_CONNECTION = 20
MAX_IDLE_SECONDS = 5.0
# An image given in an e-mail's HTML as a data: URI (PNG, GIF or JPEG).
_DATA_IMAGE = re.compile(r'src="data:image/(png|gif|jpeg);base64,([A-Za-z0-9+/=]+)"')
GOODBYE_SECONDS = 5.0


class Mailer(Protocol):
    async def send(self, *, to: str, subject: str, text: str, html: str | None) -> None:
        """Delivers one e-mail or raises ``TransientDeliveryError``/``PermanentDeliveryError``."""
        ...


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    implicit_tls: bool = False
    # None: STARTTLS when the server offers it; True: required; False: never.
    start_tls: bool | None = False

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError(
                "PORTTI_MAIL_URL must be dev://, smtp://host:port or smtps://host:port"
            )
        implicit = parts.scheme == "smtps"
        starttls = parse_qs(parts.query).get("starttls", ["0"])[-1].lower()
        if starttls not in {"0", "1", "required"}:
            raise ValueError("starttls in PORTTI_MAIL_URL must be 0, 1 or required")
        if implicit and starttls != "0":
            raise ValueError("smtps:// is TLS already; starttls applies to smtp:// only")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
            start_tls={"0": False, "1": None, "required": True}[starttls],
        )


def build_message(
    *, sender: str, to: str, subject: str, text: str, html: str | None
) -> EmailMessage:
    """A text/plain message, or multipart/alternative with an HTML part when there is one."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(usegmt=True)
    domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or "portti.localhost"
    msg["Message-ID"] = email.utils.make_msgid(domain=domain)
    msg.set_content(text)
    if html is not None:
        images: list[tuple[str, bytes, str]] = []

        def to_cid(m: re.Match[str]) -> str:
            cid = email.utils.make_msgid(domain=domain)
            images.append((m.group(1), base64.b64decode(m.group(2)), cid))
            return f'src="cid:{cid[1:-1]}"'

        # Mail clients block data: URIs: an image given as one travels as an inline part
        # (multipart/related) that the HTML names by its Content-ID.
        html = _DATA_IMAGE.sub(to_cid, html)
        msg.add_alternative(html, subtype="html")
        html_part = msg.get_body(("html",))
        assert isinstance(html_part, EmailMessage)
        for n, (subtype, data, cid) in enumerate(images, 1):
            html_part.add_related(
                data,
                maintype="image",
                subtype=subtype,
                cid=cid,
                disposition="inline",
                filename=f"image-{n}.{subtype}",
            )
    return msg


def classify_smtp_error(exc: Exception) -> TransientDeliveryError | PermanentDeliveryError:
    """5xx replies about the message or its address are permanent; anything else may pass later.

    A refused login (535) or a missing STARTTLS is a configuration fault the operator can fix:
    retrying keeps the message instead of throwing it away.
    """
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        reason = "smtp: recipient refused: " + "; ".join(
            f"{r.code} {r.message}".strip() for r in exc.recipients
        )
        if codes and all(500 <= c < 600 for c in codes):
            return PermanentDeliveryError(reason)
        return TransientDeliveryError(reason)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return TransientDeliveryError(f"smtp: authentication failed ({exc.code})")
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        reason = f"smtp: {exc.code} {exc.message}".strip()
        if 500 <= exc.code < 600:
            return PermanentDeliveryError(reason)
        return TransientDeliveryError(reason)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return TransientDeliveryError(f"smtp: {exc.code} {exc.message}".strip())
    if isinstance(exc, TimeoutError):
        return TransientDeliveryError("smtp: timed out")
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return TransientDeliveryError("smtp: " + str(exc))
    if isinstance(exc, ConnectionError | OSError):
        return TransientDeliveryError("smtp: cannot connect (" + type(exc).__name__ + ")")
    return TransientDeliveryError("smtp: " + type(exc).__name__)


async def _goodbye(client: aiosmtplib.SMTP) -> None:
    """QUIT, briefly; the connection is closed whatever the server says."""
    try:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(GOODBYE_SECONDS):
                await client.quit()
    finally:
        client.close()


@dataclass(eq=False, slots=True)
class _Connection:
    client: aiosmtplib.SMTP
    sent: int = 0
    idle_since: float = 0.0


class SmtpConnections:
    """Connections kept open between messages inside one ``reusing_connections`` block.

    Only the event loop that opened the block touches it (no awaits between looking and taking),
    so it needs no lock. Concurrent sends each take their own connection: as many stay open as
    messages went out at once (the worker's batch at most).
    """

    def __init__(self, mailer: SmtpMailer) -> None:
        self.mailer = mailer
        self._idle: list[_Connection] = []

    def _take(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()  # the most recently used: the least likely to be stale
            if conn.client.is_connected and now - conn.idle_since < MAX_IDLE_SECONDS:
                return conn
            conn.client.close()
        return None

    def _keep(self, conn: _Connection) -> bool:
        if conn.sent >= MAX_MESSAGES_PER_CONNECTION or not conn.client.is_connected:
            return False
        conn.idle_since = time.monotonic()
        self._idle.append(conn)
        return True

    async def close_idle(self, older_than: float = MAX_IDLE_SECONDS) -> None:
        """Says goodbye on the connections unused for ``older_than`` seconds."""
        now = time.monotonic()
        stale = [c for c in self._idle if now - c.idle_since >= older_than]
        self._idle = [c for c in self._idle if now - c.idle_since < older_than]
        await asyncio.gather(*(_goodbye(c.client) for c in stale))

    def abort(self) -> None:
        for conn in self._idle:
            conn.client.close()
        self._idle = []


_reusable: ContextVar[SmtpConnections | None] = ContextVar("portti_smtp_connections", default=None)


@contextlib.asynccontextmanager
async def reusing_connections(mailer: Mailer) -> AsyncIterator[SmtpConnections | None]:
    """Within the block (in this task and the tasks it starts), an ``SmtpMailer`` keeps its
    connections open between messages. Yields them, or ``None`` for a mailer without any."""
    if not isinstance(mailer, SmtpMailer):
        yield None
        return
    connections = SmtpConnections(mailer)
    token = _reusable.set(connections)
    try:
        yield connections
    except BaseException:
        connections.abort()  # cancelled or failing: drop them rather than wait to say goodbye
        raise
    else:
        await connections.close_idle(older_than=0)
    finally:
        _reusable.reset(token)


class SmtpMailer:
    def __init__(
        self, config: SmtpConfig, *, sender: str, timeout: float = SMTP_TIMEOUT_SECONDS
    ) -> None:
        self.config = config
        self.sender = sender
        self.timeout = timeout

    def _client(self) -> aiosmtplib.SMTP:
        c = self.config
        return aiosmtplib.SMTP(
            hostname=c.host,
            port=c.port,
            username=c.username,
            password=c.password,
            use_tls=c.implicit_tls,
            start_tls=c.start_tls,
            timeout=self.timeout,
        )

    async def send(self, *, to: str, subject: str, text: str, html: str | None) -> None:
        try:
            msg = build_message(sender=self.sender, to=to, subject=subject, text=text, html=html)
        except ValueError as exc:  # e.g. a line break in a header
            raise PermanentDeliveryError("smtp: invalid message headers") from exc
        connections = _reusable.get()
        if connections is not None and connections.mailer is not self:
            connections = None
        conn: _Connection | None = None
        try:
            try:
                # One deadline for the whole exchange (each step has its own timeout as well).
                async with asyncio.timeout(self.timeout):
                    conn = connections._take() if connections is not None else None
                    if conn is None:
                        conn = _Connection(self._client())
                        await conn.client.connect()  # EHLO, STARTTLS and login as configured
                    await conn.client.send_message(msg)
                    conn.sent += 1
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                raise classify_smtp_error(exc) from exc
            if connections is not None and connections._keep(conn):
                conn = None  # open for the next message
            else:
                # Accepted: a slow or failed goodbye must not make the message look unsent.
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(GOODBYE_SECONDS):
                        await conn.client.quit()
        finally:
            # Also on an error or a cancellation: drop the connection rather than wait to say
            # goodbye (a kept one has been handed over and is None here).
            if conn is not None:
                conn.client.close()


class DevMailer:
    """Keeps e-mail in the dev mailbox instead of sending it."""

    def __init__(self, mailbox: DevMailbox) -> None:
        self.mailbox = mailbox

    async def send(self, *, to: str, subject: str, text: str, html: str | None) -> None:
        await asyncio.to_thread(
            self.mailbox.record,
            channel="email",
            recipient=to,
            subject=subject,
            text=text,
            html=html,
        )


def make_mailer(
    settings: Settings,
    session_factory: sessionmaker[Session] | None = None,
    clock: Clock | None = None,
) -> Mailer:
    """The mailer ``settings.mail_url`` names; the dev one writes through ``session_factory``."""
    url = settings.mail_url
    if url.startswith("dev://"):
        if settings.mode is Mode.PRODUCTION:
            log.warning("dev_mailer_in_production", hint="set PORTTI_MAIL_URL to an SMTP server")
        return DevMailer(make_dev_mailbox(settings, session_factory, clock))
    return SmtpMailer(SmtpConfig.from_url(url), sender=settings.mail_from)
