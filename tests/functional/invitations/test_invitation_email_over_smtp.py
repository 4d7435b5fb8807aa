"""INV-2 / INV-7 over a real SMTP server: the invitation e-mail that ``InvitationService.invite``
queues reaches an aiosmtpd server through the outbox worker and ``SmtpMailer``, carries what the
invitee needs (the app's address and its QR code, and no sign-in link), leaves no code behind in the database, survives an outage, and
goes out over reused connections while the worker runs."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import aiosmtplib
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from portti.audit.services import AuditLog
from portti.companies.actors import Actor
from portti.companies.catalogue import USER_ADMIN
from portti.i18n import fmt_datetime
from portti.infra.clock import OffsetClock
from portti.infra.crypto import CodeHasher
from portti.infra.outbox import OutboxMessage, OutboxWakeup, failed_messages
from portti.infra.outbox_worker import OutboxWorker, build_worker
from portti.invitations.deps import invitations_from
from portti.invitations.models import Invitation
from portti.invitations.services import InvitationService, group_code
from support import factories as f
from support.messages import signup_code_in
from support.sinks import SmtpSink

N = 50
TABLES_THAT_MUST_NOT_HOLD_A_CODE = ("invitations", "outbox_messages", "audit_events")


def invitation_service(db: Session, app, clock: OffsetClock) -> InvitationService:  # type: ignore[no-untyped-def]
    """As ``portti.invitations.deps`` builds it for a request, from the app's runtime."""
    return invitations_from(app.state.runtime, db, AuditLog(db, clock))


def rows(session_factory: sessionmaker[Session]) -> list[OutboxMessage]:
    with session_factory() as db:
        return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def drain(worker: OutboxWorker, done: Callable[[], bool], timeout: float = 30.0) -> None:
    """Runs the worker until ``done()``; each round delivers everything due now."""

    async def loop() -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "the worker did not finish in time"
            if await worker.run_once() == 0:
                await asyncio.sleep(0.02)

    asyncio.run(loop())


class StillClock:
    """A clock that moves only when told."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


async def _run_until_idle(worker: OutboxWorker) -> None:
    """Claims and delivers until nothing is due at the clock's present time."""
    while await worker.run_once():
        pass


def dump(db: Session) -> str:
    """Every row of the tables a leaked code could hide in, as text."""
    out = []
    for table in TABLES_THAT_MUST_NOT_HOLD_A_CODE:
        out += [repr(tuple(r)) for r in db.execute(text(f"SELECT * FROM {table}"))]
    return "\n".join(out)


def test_invitation_email_arrives_over_smtp_with_code_inviter_and_company(
    app, settings, session_factory, clock
) -> None:  # INV-2 INV-7
    with session_factory() as db:
        company = f.company(db, "Äänekosken Sähkö Oy")
        kh = f.person(db, "Kaisa", "Pääkäyttäjä")
        f.member(db, kh, company, [USER_ADMIN])
        invitee = f.person(db, "Eero", "Työntekijä", email="eero.tyontekija@example.fi")
        membership = f.member(db, invitee, company, ["bookkeeper"])
        db.commit()
        kh_name, company_name, company_id = kh.full_name, company.name, company.id
        kh_id, membership_id, invitee_email = kh.id, membership.id, invitee.email

    sink = SmtpSink()
    sink.start()
    try:
        smtp_settings = settings.model_copy(update={"mail_url": sink.url})
        with session_factory() as db:
            actor = Actor(person_id=kh_id, strong_auth_at=clock.now())
            inv = invitation_service(db, app, clock).invite(
                actor, company_id, membership_id, identity_verified=True
            )
            db.commit()
            expires_utc = fmt_datetime(inv.expires_at, "en", tz=UTC) + " UTC"  # 1.12.2026 04:30
            # The company's local time first, UTC after it (UX-4 of the stranger's walk).
            expires_local = fmt_datetime(inv.expires_at, "en", tz=ZoneInfo(inv.company.timezone))
        worker = build_worker(smtp_settings, session_factory, clock)
        drain(worker, lambda: all(m.status == "sent" for m in rows(session_factory)))
        received = sink.received()
    finally:
        sink.stop()

    assert len(received) == 1
    mail = received[0]
    app_url = settings.base_url.rstrip("/") + "/app/"
    assert mail.to == invitee_email
    assert mail.subject is not None
    assert kh_name in mail.subject and company_name in mail.subject
    assert mail.html is not None
    code = signup_code_in(mail.text)
    assert len(code) == 16 and code.isdigit()
    for part in (mail.text, mail.html):
        assert group_code(code) in part  # "1234 5678 9012 3456"
        assert kh_name in part
        assert company_name in part
        assert expires_utc in part and expires_local in part
        assert part.index(expires_local) < part.index(expires_utc)
        # The one address is the app's: nothing that logs anyone in, the code goes into the app.
        assert set(re.findall(r"https?://[^\s<>\"']+", part)) == {app_url}
    (row,) = rows(session_factory)
    assert row.status == "sent" and row.sealed_body is None and row.sent_at is not None
    assert row.kind == "invitation" and row.recipient == invitee_email
    with session_factory() as db:
        everything = dump(db)
        invitation = db.scalars(select(Invitation)).one()
    assert invitation.code_hash == CodeHasher(settings.secret, "signup-code").hash(code)
    assert code not in everything and group_code(code) not in everything


@pytest.mark.slow
def test_fifty_invitations_survive_an_smtp_outage(
    app, settings, session_factory, clock
) -> None:  # INV-7
    sink = SmtpSink()  # not started: the mail server is down
    smtp_settings = settings.model_copy(update={"mail_url": sink.url})
    with session_factory() as db:
        company = f.company(db, "Outage Oy")
        kh = f.person(db, "Kaisa", "Admin")
        f.member(db, kh, company, [USER_ADMIN])
        persons = [f.person(db, "Invitee") for _ in range(N)]
        memberships = [f.member(db, p, company, ["read_only"]).id for p in persons]
        db.commit()
        kh_id, company_id = kh.id, company.id
        emails = {p.email for p in persons}
    assert len(emails) == N

    for membership_id in memberships:  # each its own transaction, as N requests would be
        with session_factory() as db:
            actor = Actor(person_id=kh_id, strong_auth_at=clock.now())
            invitation_service(db, app, clock).invite(
                actor, company_id, membership_id, identity_verified=True
            )
            db.commit()

    # The worker's time stands still within a round: on a slow machine a round of 50 refused
    # connections can outlast the first back-off (3.2-4.8 s), and a third attempt would come.
    still = StillClock(clock.now())
    worker = build_worker(smtp_settings, session_factory, still)
    try:
        # The outage: two rounds of attempts, time moving past the back-off in between.
        for _ in range(2):
            asyncio.run(_run_until_idle(worker))
            clock.advance(timedelta(minutes=15))
            still.advance(timedelta(minutes=15))
        during = rows(session_factory)
        assert sink.count == 0
        assert len(during) == N
        # Two attempts each (≥ 1 is what matters; back-off keeps it at exactly two here).
        assert Counter((m.status, m.attempts) for m in during) == {("pending", 2): N}
        assert all(m.last_error and "cannot connect" in m.last_error for m in during)
        assert all(m.sealed_body for m in during)  # kept sealed until it goes out

        sink.start()
        drain(worker, lambda: all(m.status == "sent" for m in rows(session_factory)))
        asyncio.run(_run_until_idle(worker))  # nothing more to do: no duplicate goes out
        time.sleep(0.2)  # anything still in flight (there should be nothing) arrives
        received = sink.received()
    finally:
        sink.stop()

    assert len(received) == N
    assert {r.to for r in received} == emails
    codes = {r.to: signup_code_in(r.text) for r in received}
    assert len(set(codes.values())) == N
    hasher = CodeHasher(settings.secret, "signup-code")
    with session_factory() as db:
        invitations = {i.email: i for i in db.scalars(select(Invitation))}
        assert failed_messages(db, company_id=None) == []
        everything = dump(db)
    # Each person got the code of their own invitation, and no code stayed in the database.
    assert {to: hasher.hash(code) for to, code in codes.items()} == {
        e: i.code_hash for e, i in invitations.items()
    }
    assert not any(code in everything for code in codes.values())
    after = rows(session_factory)
    assert Counter(m.status for m in after) == {"sent": N}
    assert all(m.sealed_body is None and m.sent_at is not None for m in after)


def test_worker_reuses_smtp_connections_through_a_backlog_and_a_server_restart(
    app, settings, session_factory, clock, monkeypatch
) -> None:  # INV-7
    connects = 0
    real_connect = aiosmtplib.SMTP.connect

    async def counting_connect(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal connects
        connects += 1
        return await real_connect(self, *args, **kwargs)

    monkeypatch.setattr(aiosmtplib.SMTP, "connect", counting_connect)
    backlog, later = 30, 5
    sink = SmtpSink()
    sink.start()
    smtp_settings = settings.model_copy(update={"mail_url": sink.url})
    with session_factory() as db:
        company = f.company(db, "Backlog Oy")
        kh = f.person(db, "Kaisa", "Admin")
        f.member(db, kh, company, [USER_ADMIN])
        persons = [f.person(db, "Invitee") for _ in range(backlog + later)]
        memberships = [f.member(db, p, company, ["read_only"]).id for p in persons]
        db.commit()
        kh_id, company_id = kh.id, company.id

    def invite(ids: list[int]) -> None:
        for membership_id in ids:
            with session_factory() as db:
                actor = Actor(person_id=kh_id, strong_auth_at=clock.now())
                invitation_service(db, app, clock).invite(
                    actor, company_id, membership_id, identity_verified=True
                )
                db.commit()

    async def until(predicate: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 30
        while not predicate():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)

    invite(memberships[:backlog])
    wakeup = OutboxWakeup()
    worker = build_worker(smtp_settings, session_factory, clock, wakeup=wakeup)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run_forever(stop))
        await until(lambda: sink.count == backlog)
        # The first batch (20 at once) opened its connections; the next batch reused them.
        assert connects <= worker.batch_size < backlog
        # The server restarts: the kept connections are gone, and the next mail notices.
        await asyncio.to_thread(sink.stop)
        await asyncio.to_thread(sink.start)
        await asyncio.to_thread(invite, memberships[backlog:])
        wakeup.notify()
        await until(lambda: sink.count == backlog + later)
        stop.set()
        await asyncio.wait_for(task, timeout=10)

    try:
        asyncio.run(scenario())
        received = sink.received()
    finally:
        sink.stop()
    assert sorted(r.to for r in received) == sorted(p.email for p in persons)
    # Nothing had to be retried because of a connection the server had closed.
    assert {(m.status, m.attempts) for m in rows(session_factory)} == {("sent", 1)}


def test_invitation_email_shows_the_apps_address_and_its_qr_code_inline(
    app, settings, session_factory, clock
) -> None:  # UX-7 INV-2
    """The invitee learns where the app is: its address in both parts, and in the HTML part a
    QR code that mail clients show, an inline image (multipart/related, named by Content-ID;
    a data: URI would be blocked), which a phone's camera reads as the same address."""
    import zxingcpp
    from PIL import Image

    with session_factory() as db:
        company = f.company(db, "Kuopion Kone Oy")
        kh = f.person(db, "Kalle", "Käyttäjähallinto")
        f.member(db, kh, company, [USER_ADMIN])
        invitee = f.person(db, "Ana", "Silva", email="ana.silva@example.pt")
        membership = f.member(db, invitee, company, ["bookkeeper"])
        db.commit()
        kh_id, company_id, membership_id = kh.id, company.id, membership.id

    sink = SmtpSink()
    sink.start()
    try:
        smtp_settings = settings.model_copy(update={"mail_url": sink.url})
        with session_factory() as db:
            actor = Actor(person_id=kh_id, strong_auth_at=clock.now())
            invitation_service(db, app, clock).invite(
                actor, company_id, membership_id, identity_verified=True
            )
            db.commit()
        worker = build_worker(smtp_settings, session_factory, clock)
        drain(worker, lambda: all(m.status == "sent" for m in rows(session_factory)))
        [message] = sink.messages
        [mail] = sink.received()
    finally:
        sink.stop()

    app_url = settings.base_url.rstrip("/") + "/app/"
    assert app_url in mail.text
    assert mail.html is not None and app_url in mail.html
    assert "data:image" not in mail.html
    [cid] = re.findall(r'<img src="cid:([^"]+)"', mail.html)
    related = message.get_body(("related",))
    assert related is not None and related.get_content_type() == "multipart/related"
    [image] = [p for p in related.iter_parts() if p.get_content_maintype() == "image"]
    assert image["Content-ID"] == f"<{cid}>"
    assert image.get_content_disposition() == "inline"
    png = image.get_content()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [r.text for r in found] == [app_url]
