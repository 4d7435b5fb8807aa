"""The dev mailbox page (OPS-1): what the dev transports kept, in demo and test mode only."""

from __future__ import annotations

import asyncio
import secrets

from fastapi.testclient import TestClient

from portti.app import create_app
from portti.config import Mode, Settings
from portti.infra.devmailbox import make_dev_mailbox
from portti.infra.outbox import Outbox, outbox_box
from portti.infra.outbox_worker import build_worker
from portti.web import devmailbox_views

HTML = {"accept": "text/html"}


def queue_and_deliver(settings, session_factory, clock) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """An e-mail, then an SMS (delivered one after the other, so the SMS is the newer)."""
    worker = build_worker(settings, session_factory, clock)
    with session_factory() as db:
        Outbox(db, clock, outbox_box(settings.secret)).email(
            to="eero@example.com",
            subject="Ada <Admin> invites you to Portti",
            text="Hello Eero,\nopen http://testserver/activate?t=abc&x=1.\nCode 1234 5678",
            html="<p>Hello Eero</p>",
            kind="invitation",
        )
        db.commit()
    assert asyncio.run(worker.run_once()) == 1
    with session_factory() as db:
        Outbox(db, clock, outbox_box(settings.secret)).sms(
            to="+358401234567", text="Your Portti code is 493021.", kind="sms_code"
        )
        db.commit()
    assert asyncio.run(worker.run_once()) == 1
    sms, mail = make_dev_mailbox(settings, session_factory).latest()
    return mail.id, sms.id


def test_dev_mailbox_lists_email_and_sms_newest_first(
    client, settings, session_factory, clock
) -> None:  # OPS-1
    mail_id, _ = queue_and_deliver(settings, session_factory, clock)
    r = client.get("/dev/mailbox", headers=HTML)
    assert r.status_code == 200, r.text
    page = r.text
    assert "<caption>Sent messages, newest first</caption>" in page
    assert page.count('<th scope="col">') == 4
    # data-sent: the message's own text, in the language it was sent in (the page walks skip it).
    link = f'<a href="/dev/mailbox/{mail_id}" data-sent>Ada &lt;Admin&gt; invites you to Portti</a>'
    assert link in page
    assert "eero@example.com" in page
    assert "+358401234567" in page and "Your Portti code is 493021." in page
    assert page.index("+358401234567") < page.index("eero@example.com")


def test_dev_mailbox_shows_an_email_with_its_text_body(
    client, settings, session_factory, clock
) -> None:  # OPS-1
    mail_id, _ = queue_and_deliver(settings, session_factory, clock)
    r = client.get(f"/dev/mailbox/{mail_id}", headers=HTML)
    assert r.status_code == 200, r.text
    assert "<h1 data-sent>Ada &lt;Admin&gt; invites you to Portti</h1>" in r.text
    assert "Code 1234 5678" in r.text
    url = "http://testserver/activate?t=abc&amp;x=1"
    assert f'<a href="{url}">{url}</a>.' in r.text
    assert "&lt;p&gt;Hello Eero&lt;/p&gt;" in r.text  # the HTML part as source, not rendered
    assert client.get("/dev/mailbox/999999", headers=HTML).status_code == 404


def test_dev_mailbox_json_gives_bodies_to_scripts(
    client, settings, session_factory, clock
) -> None:  # OPS-1
    queue_and_deliver(settings, session_factory, clock)
    r = client.get("/dev/mailbox.json")
    assert r.status_code == 200
    sms, mail = r.json()
    assert sms["channel"] == "sms" and sms["kind"] == "sms_code"
    assert sms["text"] == "Your Portti code is 493021."
    assert mail["subject"] == "Ada <Admin> invites you to Portti"
    assert mail["html"] == "<p>Hello Eero</p>"
    only = client.get("/dev/mailbox.json", params={"to": "+358401234567"}).json()
    assert [m["id"] for m in only] == [sms["id"]]
    assert client.get("/dev/mailbox.json", params={"channel": "email"}).json() == [mail]
    assert client.get("/dev/mailbox.json", params={"limit": 0}).status_code == 422


def test_dev_mailbox_is_not_found_in_production(settings) -> None:  # OPS-1
    production = Settings(
        mode=Mode.PRODUCTION,
        secret_key=secrets.token_urlsafe(48),
        base_url="https://portti.example",
        database_url=settings.database_url,
        outbox_in_process=False,
        mail_url="smtp://127.0.0.1:2525",
        sms_url="https://sms.example/send",
    )
    app = create_app(production)
    # Even if someone wired the router in, each route checks the mode itself.
    guarded = create_app(production)
    guarded.include_router(devmailbox_views.router)
    for each in (app, guarded):
        with TestClient(each, base_url="https://portti.example") as c:
            for path in ("/dev/mailbox", "/dev/mailbox.json", "/dev/mailbox/1"):
                assert c.get(path, headers=HTML).status_code == 404, path
