"""The mailer and SMS sender contracts, one suite run against the real transport (SMTP to an
aiosmtpd server, HTTP to a local gateway) and against the dev one (the dev mailbox), then what
only the real ones do: classify failures as transient or permanent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr
from sqlalchemy import text as sql

from portti.config import Settings
from portti.infra.delivery import (
    Delivery,
    PermanentDeliveryError,
    TransientDeliveryError,
    delivering,
)
from portti.infra.devmailbox import make_dev_mailbox
from portti.infra.mail import DevMailer, Mailer, SmtpConfig, SmtpMailer, make_mailer
from portti.infra.sms import DevSms, HttpSmsGateway, SmsSender, make_sms_sender, render_body
from support.sinks import HttpSink, Received, SmtpSink, free_port

CODE = "4719 2286 0051 7733"


@dataclass
class MailBackend:
    name: str
    mailer: Mailer
    received: Callable[[], list[Received]]


@dataclass
class SmsBackend:
    name: str
    sender: SmsSender
    received: Callable[[], list[Received]]


def dev_received(settings: Settings, session_factory, channel: str) -> Callable[[], list[Received]]:  # type: ignore[no-untyped-def]
    box = make_dev_mailbox(settings, session_factory)

    def received() -> list[Received]:
        return [
            Received(to=m.recipient, subject=m.subject, text=m.text, html=m.html)
            for m in reversed(box.latest(channel=channel))
        ]

    return received


@pytest.fixture(params=["smtp", "dev"])
def mail_backend(request, settings, session_factory, clock) -> Iterator[MailBackend]:  # type: ignore[no-untyped-def]
    if request.param == "smtp":
        sink = SmtpSink()
        sink.start()
        s = settings.model_copy(update={"mail_url": sink.url})
        yield MailBackend("smtp", make_mailer(s), sink.received)
        sink.stop()
    else:
        mailer = make_mailer(settings, session_factory, clock)
        yield MailBackend("dev", mailer, dev_received(settings, session_factory, "email"))


def _sms_json(sink: HttpSink) -> Callable[[], list[Received]]:
    def received() -> list[Received]:
        return [
            Received(to=r.json()["to"], subject=None, text=r.json()["text"]) for r in sink.requests
        ]

    return received


@pytest.fixture(params=["http", "dev"])
def sms_backend(request, settings, session_factory, clock) -> Iterator[SmsBackend]:  # type: ignore[no-untyped-def]
    if request.param == "http":
        sink = HttpSink()
        sink.start()
        s = settings.model_copy(update={"sms_url": sink.url})
        yield SmsBackend("http", make_sms_sender(s), _sms_json(sink))
        sink.stop()
    else:
        sender = make_sms_sender(settings, session_factory, clock)
        yield SmsBackend("dev", sender, dev_received(settings, session_factory, "sms"))


# -- the shared contract ------------------------------------------------------------------------


def test_mailer_delivers_text_and_html(mail_backend: MailBackend) -> None:  # INV-7 OPS-1
    asyncio.run(
        mail_backend.mailer.send(
            to="eero@example.com",
            subject="Your sign-up code",
            text=f"Your code is {CODE}.\nIt is valid for 7 days.",
            html=f"<p>Your code is <strong>{CODE}</strong>.</p>",
        )
    )
    assert mail_backend.received() == [
        Received(
            to="eero@example.com",
            subject="Your sign-up code",
            text=f"Your code is {CODE}.\nIt is valid for 7 days.",
            html=f"<p>Your code is <strong>{CODE}</strong>.</p>",
        )
    ]


def test_mailer_delivers_text_only_mail(mail_backend: MailBackend) -> None:  # INV-7
    asyncio.run(
        mail_backend.mailer.send(to="a@example.com", subject="Plain", text="Only text", html=None)
    )
    assert mail_backend.received() == [
        Received(to="a@example.com", subject="Plain", text="Only text", html=None)
    ]


def test_mailer_keeps_non_ascii_and_long_lines(mail_backend: MailBackend) -> None:  # INV-7
    subject = "Äiti-yhtiö Oy kutsuu sinut – “Portti” 🚪"
    body = "Hei Säde,\n\n" + "pitkä rivi " * 40 + "\nKiitos!"
    asyncio.run(
        mail_backend.mailer.send(to="sade@example.fi", subject=subject, text=body, html=None)
    )
    (got,) = mail_backend.received()
    assert got.subject == subject
    assert got.text == body


def test_mailer_sends_each_message_in_order(mail_backend: MailBackend) -> None:  # INV-7
    async def send_three() -> None:
        for i in range(3):
            await mail_backend.mailer.send(
                to=f"p{i}@example.com", subject=f"Message {i}", text=f"Body {i}", html=None
            )

    asyncio.run(send_three())
    assert [(r.to, r.subject, r.text) for r in mail_backend.received()] == [
        (f"p{i}@example.com", f"Message {i}", f"Body {i}") for i in range(3)
    ]


def test_sms_sender_delivers_text(sms_backend: SmsBackend) -> None:  # INV-7 OPS-1
    text = f'Portti code {CODE}. Don\'t share it – "ever".\nValid 10 min.'
    asyncio.run(sms_backend.sender.send(to="+358401234567", text=text))
    assert sms_backend.received() == [Received(to="+358401234567", subject=None, text=text)]


def test_sms_sender_sends_each_message_in_order(sms_backend: SmsBackend) -> None:  # INV-7
    async def send_two() -> None:
        await sms_backend.sender.send(to="+358401111111", text="first")
        await sms_backend.sender.send(to="+46701234567", text="second")

    asyncio.run(send_two())
    assert [(r.to, r.text) for r in sms_backend.received()] == [
        ("+358401111111", "first"),
        ("+46701234567", "second"),
    ]


# -- choosing the implementation ----------------------------------------------------------------


def test_settings_url_picks_the_transport(settings, session_factory) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(make_mailer(settings, session_factory), DevMailer)
    assert isinstance(make_sms_sender(settings, session_factory), DevSms)
    smtp = settings.model_copy(update={"mail_url": "smtps://u:p%40ss@mail.example:2465"})
    mailer = make_mailer(smtp)
    assert isinstance(mailer, SmtpMailer)
    assert mailer.config == SmtpConfig("mail.example", 2465, "u", "p@ss", implicit_tls=True)
    http = settings.model_copy(update={"sms_url": "https://sms.example/v1/send"})
    assert isinstance(make_sms_sender(http), HttpSmsGateway)
    with pytest.raises(ValueError, match="PORTTI_MAIL_URL"):
        make_mailer(settings.model_copy(update={"mail_url": "mailto:x@example.com"}))
    with pytest.raises(ValueError, match="PORTTI_SMS_URL"):
        make_sms_sender(settings.model_copy(update={"sms_url": "ftp://sms.example"}))


def test_smtp_url_forms() -> None:
    assert SmtpConfig.from_url("smtp://localhost") == SmtpConfig("localhost", 25)
    assert SmtpConfig.from_url("smtps://mail.example") == SmtpConfig(
        "mail.example", 465, implicit_tls=True
    )
    assert SmtpConfig.from_url("smtp://mail.example:587?starttls=1").start_tls is None
    assert SmtpConfig.from_url("smtp://mail.example:587?starttls=required").start_tls is True
    assert SmtpConfig.from_url("smtp://mail.example:587").start_tls is False
    with pytest.raises(ValueError):
        SmtpConfig.from_url("smtps://mail.example?starttls=1")
    with pytest.raises(ValueError):
        SmtpConfig.from_url("smtp://mail.example?starttls=maybe")
    assert "hunter2" not in repr(SmtpConfig.from_url("smtp://me:hunter2@mail.example"))  # OPS-4


# -- SMTP only ----------------------------------------------------------------------------------


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


def test_smtp_sends_multipart_alternative_from_the_configured_sender(
    smtp_sink: SmtpSink,
) -> None:  # INV-7
    mailer = SmtpMailer(SmtpConfig.from_url(smtp_sink.url), sender="Portti <no-reply@portti.fi>")
    asyncio.run(mailer.send(to="a@example.com", subject="Hi", text="text", html="<p>html</p>"))
    (msg,) = smtp_sink.messages
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["From"] == "Portti <no-reply@portti.fi>"
    assert msg["Message-ID"].endswith("@portti.fi>")
    assert smtp_sink.envelopes == [("no-reply@portti.fi", ["a@example.com"])]


def test_smtp_logs_in_with_the_credentials_in_the_url() -> None:  # INV-7
    sink = SmtpSink(login=("portti", "s3cret"))
    sink.start()
    try:
        asyncio.run(
            SmtpMailer(SmtpConfig.from_url(sink.url), sender="p@portti.fi").send(
                to="a@example.com", subject="Hi", text="t", html=None
            )
        )
        assert sink.count == 1
        wrong = f"smtp://portti:wrong@127.0.0.1:{sink.port}"
        with pytest.raises(TransientDeliveryError, match="authentication failed"):
            asyncio.run(
                SmtpMailer(SmtpConfig.from_url(wrong), sender="p@portti.fi").send(
                    to="a@example.com", subject="Hi", text="t", html=None
                )
            )
    finally:
        sink.stop()


def test_smtp_server_down_is_transient() -> None:  # INV-7
    mailer = SmtpMailer(SmtpConfig("127.0.0.1", free_port()), sender="p@portti.fi")
    with pytest.raises(TransientDeliveryError) as caught:
        asyncio.run(mailer.send(to="a@example.com", subject="S", text=CODE, html=None))
    assert "cannot connect" in caught.value.reason
    assert CODE not in str(caught.value)  # OPS-4


def test_smtp_slow_server_is_transient(smtp_sink: SmtpSink) -> None:  # INV-7
    smtp_sink.delay = 1.5
    mailer = SmtpMailer(SmtpConfig.from_url(smtp_sink.url), sender="p@portti.fi", timeout=0.5)
    with pytest.raises(TransientDeliveryError, match="timed out"):
        asyncio.run(mailer.send(to="a@example.com", subject="S", text="t", html=None))


def test_smtp_refused_recipient_is_permanent_and_4xx_transient(
    smtp_sink: SmtpSink,
) -> None:  # INV-7
    smtp_sink.refuse = {
        "gone@example.com": "550 5.1.1 No such user",
        "full@example.com": "452 4.2.2 Mailbox full",
    }
    mailer = SmtpMailer(SmtpConfig.from_url(smtp_sink.url), sender="p@portti.fi")
    with pytest.raises(PermanentDeliveryError, match="550"):
        asyncio.run(mailer.send(to="gone@example.com", subject="S", text=CODE, html=None))
    with pytest.raises(TransientDeliveryError, match="452"):
        asyncio.run(mailer.send(to="full@example.com", subject="S", text=CODE, html=None))
    assert smtp_sink.count == 0


# -- HTTP SMS gateway only ----------------------------------------------------------------------


@pytest.fixture
def http_sink() -> Iterator[HttpSink]:
    sink = HttpSink()
    sink.start()
    yield sink
    sink.stop()


def test_gateway_posts_the_rendered_template_with_the_auth_header(
    http_sink: HttpSink, settings: Settings
) -> None:  # INV-7
    s = settings.model_copy(
        update={
            "sms_url": http_sink.url + "?account=42",
            "sms_auth_header": SecretStr("Bearer gw-token-123"),
            "sms_body_template": '{"msisdn": "{to}", "message": "{text}", "sender": "Portti"}',
        }
    )
    text = 'Code 123456 "quoted" \\ {to} {text}\nnext line'
    asyncio.run(make_sms_sender(s).send(to="+358401234567", text=text))
    (req,) = http_sink.requests
    assert req.path == "/send?account=42"
    assert req.headers["authorization"] == "Bearer gw-token-123"
    assert req.headers["content-type"] == "application/json"
    assert req.json() == {"msisdn": "+358401234567", "message": text, "sender": "Portti"}
    assert req.body.decode() == (
        '{"msisdn": "+358401234567", "message": '
        + json.dumps(text, ensure_ascii=False)
        + ', "sender": "Portti"}'
    )


def test_template_placeholders_are_replaced_once() -> None:
    assert render_body("{to}|{text}", to="{text}", text="{to}") == "{text}|{to}"
    assert render_body("to={to}&text={text}", to="+1", text='a"b') == 'to=+1&text=a\\"b'


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, TransientDeliveryError),
        (503, TransientDeliveryError),
        (429, TransientDeliveryError),
        (400, PermanentDeliveryError),
        (401, PermanentDeliveryError),
        (404, PermanentDeliveryError),
    ],
)
def test_gateway_status_is_transient_or_permanent(
    http_sink: HttpSink, status: int, error: type[Exception]
) -> None:  # INV-7 OPS-4
    http_sink.status = status
    gateway = HttpSmsGateway(http_sink.url, body_template='{"to": "{to}", "text": "{text}"}')
    with pytest.raises(error) as caught:
        asyncio.run(gateway.send(to="+358401234567", text=f"code {CODE}"))
    assert str(caught.value) == f"sms gateway: HTTP {status}"  # no echo of the body


def test_gateway_down_or_slow_is_transient(http_sink: HttpSink) -> None:  # INV-7
    down = HttpSmsGateway(f"http://127.0.0.1:{free_port()}/send", body_template="{text}")
    with pytest.raises(TransientDeliveryError):
        asyncio.run(down.send(to="+358401234567", text="x"))
    http_sink.delay = 1.5
    slow = HttpSmsGateway(http_sink.url, body_template="{text}", timeout=0.5)
    with pytest.raises(TransientDeliveryError, match="timed out"):
        asyncio.run(slow.send(to="+358401234567", text="x"))


# -- dev only -----------------------------------------------------------------------------------


def test_dev_mailbox_seals_bodies_and_records_the_kind(settings, session_factory, db) -> None:  # type: ignore[no-untyped-def]  # OPS-4
    mailer = make_mailer(settings, session_factory)

    async def send() -> None:
        with delivering(Delivery(message_id=7, channel="email", kind="invitation", attempt=1)):
            await mailer.send(to="a@example.com", subject="S", text=CODE, html=f"<b>{CODE}</b>")

    asyncio.run(send())
    rows = db.execute(sql("SELECT * FROM dev_messages")).mappings().all()
    assert len(rows) == 1 and rows[0]["kind"] == "invitation"
    assert not any(CODE in str(v) for v in rows[0].values())
    assert not any(CODE.replace(" ", "") in str(v) for v in rows[0].values())
