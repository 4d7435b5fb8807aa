"""SEC-4: "This wasn't me" (the link in the new-device e-mail) ends what that device let in: the
web sessions of QR logins it approved, sessions it stepped up, and its approvals no browser has
picked up yet. The person's other sessions stay. Each attack is made over HTTP."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from portti.devices.models import Device
from portti.people.models import Person
from portti.weblogin.models import WebSession
from portti.weblogin.sessions import hash_token
from support import factories as f
from support.db import audit_events, fresh
from support.devices import bind, make_service, unlock
from support.qr import (
    Phone,
    complete,
    log_in_by_app,
    open_qr_login,
    start_step_up_by_app,
    status,
    typed_code,
)
from support.web import HTML, another_browser, csrf_from, force_login, session_cookie


def phone_and_not_me_link(app, db, settings, clock, person: Person) -> tuple[Phone, str]:  # type: ignore[no-untyped-def]
    """A bound, unlocked app, and the "This wasn't me" link its binding e-mailed."""
    service = make_service(db, app)
    _, sim, not_me_token = bind(service, db, person, clock)
    _, token = unlock(service, sim)
    db.commit()
    return Phone(http=another_browser(app), sim=sim, token=token), f"/devices/not-me/{not_me_token}"


@pytest.fixture
def person(db) -> Person:  # type: ignore[no-untyped-def]
    p = f.person(db, "Sanna", "Saari")
    f.member(db, p, f.company(db, "Saari Oy"))
    db.commit()
    return p


def logged_in(browser: TestClient) -> bool:
    r = browser.get("/api/v1/me")
    assert r.status_code in (200, 401), r.text
    return r.status_code == 200


def report_not_me(app: object, link: str) -> None:
    """Someone reads the new-device e-mail and presses the button (a browser not logged in)."""
    reader = another_browser(app)
    page = reader.get(link, headers=HTML)
    assert page.status_code == 200, page.text
    r = reader.post(link, data={"csrf_token": csrf_from(page)}, headers=HTML)
    assert r.status_code == 200, r.text
    assert "Browser sessions it approved have been ended too" in r.text


def web_session(db, browser: TestClient) -> WebSession:  # type: ignore[no-untyped-def]
    ws = fresh(db).get(WebSession, hash_token(session_cookie(browser) or ""))
    assert ws is not None
    return ws  # type: ignore[no-any-return]


def device_id(db, phone: Phone) -> int:  # type: ignore[no-untyped-def]
    fresh(db)
    return int(db.scalar(select(Device.id).where(Device.public_id == phone.sim.public_id)))


def test_not_me_ends_the_web_sessions_the_device_approved(
    app, client, db, settings, clock, person
) -> None:  # SEC-4 APP-8 WEB-2
    intruder, intruder_link = phone_and_not_me_link(app, db, settings, clock, person)
    own, _ = phone_and_not_me_link(app, db, settings, clock, person)
    by_intruder, by_own, by_bank_id = (another_browser(app) for _ in range(3))

    assert log_in_by_app(by_intruder, intruder).status_code == 303
    assert log_in_by_app(by_own, own).status_code == 303
    force_login(by_bank_id, person)
    assert logged_in(by_intruder) and logged_in(by_own) and logged_in(by_bank_id)
    assert web_session(db, by_intruder).approved_by_device_id == device_id(db, intruder)

    report_not_me(app, intruder_link)

    assert not logged_in(by_intruder)  # its next request is not logged in
    page = by_intruder.get("/home", headers=HTML)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert logged_in(by_own) and logged_in(by_bank_id)  # the person's other sessions stay
    revoked = audit_events(db, "session_revoked")[-1]
    assert revoked.subject_person_id == person.id
    assert revoked.details["reason"] == "device_reported_not_me"
    assert revoked.details["count"] == 1
    assert audit_events(db, "device_reported_not_me")[-1].details["web_sessions"] == 1


def test_not_me_ends_a_session_the_device_stepped_up(
    app, client, db, settings, clock, person
) -> None:  # SEC-4 ADM-2
    intruder, intruder_link = phone_and_not_me_link(app, db, settings, clock, person)
    stepped_up, other = another_browser(app), another_browser(app)
    force_login(stepped_up, person)  # logged in with bank ID ...
    force_login(other, person)
    panel = start_step_up_by_app(stepped_up)  # ... and stepped up by the intruder's app
    number = status(stepped_up, panel.public_id)["number"]
    assert intruder.approve(panel.public_id, number).status_code == 200
    assert complete(stepped_up, panel).status_code == 303
    assert web_session(db, stepped_up).strong_auth_method == "app"

    report_not_me(app, intruder_link)

    assert not logged_in(stepped_up)
    assert logged_in(other)


def test_not_me_voids_an_approval_no_browser_has_picked_up(
    app, client, db, settings, clock, person
) -> None:  # SEC-4 WEB-2
    intruder, intruder_link = phone_and_not_me_link(app, db, settings, clock, person)
    browser = another_browser(app)
    panel = open_qr_login(browser)
    read = intruder.type_code(typed_code(browser, panel))
    number = status(browser, panel.public_id)["number"]
    nonce = read.json()["challenge"]["nonce"]
    assert intruder.approve(panel.public_id, number, nonce=nonce).status_code == 200

    report_not_me(app, intruder_link)

    r = complete(browser, panel)
    assert r.status_code == 410, r.text
    assert session_cookie(browser) is None
    assert status(browser, panel.public_id)["status"] == "rejected"
