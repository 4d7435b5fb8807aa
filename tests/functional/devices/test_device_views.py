"""Devices in the browser: the list in basic settings, removing a device, and the "This wasn't
me" link of the new-device e-mail (WEB-5, APP-8, OPS-4)."""

from __future__ import annotations

import re

import pytest

from portti.devices.models import Device, DeviceStatus
from support.db import audit_events, fresh
from support.devices import bind, make_service
from support.messages import queued
from support.web import HTML, another_browser, csrf_from, login, page_csrf

REMOVE = re.compile(r'action="/settings/devices/(dev_[A-Za-z0-9_-]+)/revoke"')


@pytest.fixture
def web(app):  # type: ignore[no-untyped-def]
    return app


@pytest.fixture
def service(db, app, settings):  # type: ignore[no-untyped-def]
    return make_service(db, app)


def device_row(db, device_id: int) -> Device:  # type: ignore[no-untyped-def]
    fresh(db)
    row = db.get(Device, device_id)
    assert row is not None
    return row


def test_settings_lists_the_persons_devices_with_remove_buttons(
    web, client, db, service, world, clock
):  # WEB-5 APP-8
    phone, _, _ = bind(service, db, world.employee_a, clock, name="Eero's phone")
    tablet, _, _ = bind(service, db, world.employee_a, clock, name="Eero's tablet")
    bind(service, db, world.kh_a, clock, name="Kaisa's phone")
    service.revocation.revoke(
        world.employee_a.id,
        tablet.public_id,
        actor_person_id=world.employee_a.id,
        reason="revoked_by_owner",
    )
    db.commit()
    login(client, world.employee_a)
    page = client.get("/settings", headers=HTML)
    assert page.status_code == 200, page.text
    assert "Devices with the Portti app" in page.text
    assert REMOVE.findall(page.text) == [phone.public_id]  # the removed one is history only
    assert 'aria-label="Remove device “Eero&#39;s phone”"' in page.text
    assert "Earlier devices (1)" in page.text and "Removed" in page.text
    assert "Kaisa" not in page.text


def test_owner_removes_a_device_from_settings(
    web, client, db, service, world, clock
):  # WEB-5 APP-8
    phone, _, _ = bind(service, db, world.employee_a, clock)
    login(client, world.employee_a)
    r = client.post(
        f"/settings/devices/{phone.public_id}/revoke",
        data={"csrf_token": page_csrf(client)},
        headers=HTML,
    )
    assert r.status_code == 303 and r.headers["location"] == "/settings"
    row = device_row(db, phone.id)
    assert row.status == DeviceStatus.REVOKED and row.end_reason == "revoked_by_owner"
    [event] = audit_events(db, "device_revoked")
    assert (event.actor_person_id, event.subject_person_id) == (world.employee_a.id,) * 2


def test_another_persons_device_cannot_be_removed(
    web, client, db, service, world, clock
):  # WEB-5 OPS-4
    theirs, _, _ = bind(service, db, world.kh_a, clock)
    login(client, world.employee_a)
    r = client.post(
        f"/settings/devices/{theirs.public_id}/revoke",
        data={"csrf_token": page_csrf(client)},
        headers=HTML,
    )
    assert r.status_code == 404
    assert device_row(db, theirs.id).status == DeviceStatus.ACTIVE
    assert audit_events(db, "device_revoked") == []


def test_removing_needs_the_csrf_token_and_a_login(
    web, client, app, db, service, world, clock
):  # WEB-5 OPS-4
    phone, _, _ = bind(service, db, world.employee_a, clock)
    login(client, world.employee_a)
    r = client.post(f"/settings/devices/{phone.public_id}/revoke", data={}, headers=HTML)
    assert r.status_code == 403
    stranger = another_browser(app)
    token = csrf_from(stranger.get("/login", headers=HTML))
    r = stranger.post(
        f"/settings/devices/{phone.public_id}/revoke", data={"csrf_token": token}, headers=HTML
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert device_row(db, phone.id).status == DeviceStatus.ACTIVE


def not_me_link(db, settings, person) -> str:  # type: ignore[no-untyped-def]
    [mail] = queued(db, settings.secret, channel="email", to=person.email)
    m = re.search(r"http://testserver(/devices/not-me/[A-Za-z0-9_-]+)", mail["text"])
    assert m, mail["text"]
    return m.group(1)


def test_not_me_page_explains_and_changes_nothing(
    web, app, db, service, settings, world, clock
):  # APP-8 OPS-4
    phone, _, _ = bind(service, db, world.employee_a, clock, name="Unknown Pixel")
    browser = another_browser(app)  # not logged in: the link comes from an e-mail
    page = browser.get(not_me_link(db, settings, world.employee_a), headers=HTML)
    assert page.status_code == 200, page.text
    assert "Was this you?" in page.text and "Unknown Pixel" in page.text
    assert '<button type="submit" class="danger">Revoke this device</button>' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert device_row(db, phone.id).status == DeviceStatus.ACTIVE


def test_not_me_button_revokes_and_says_to_contact_the_administrator(
    web, app, db, service, settings, world, clock
):  # APP-8 WEB-5
    phone, _, _ = bind(service, db, world.employee_a, clock)
    browser = another_browser(app)
    link = not_me_link(db, settings, world.employee_a)
    page = browser.get(link, headers=HTML)
    r = browser.post(link, data={"csrf_token": csrf_from(page)}, headers=HTML)
    assert r.status_code == 200, r.text
    assert "The device has been revoked" in r.text and "user administrator" in r.text
    row = device_row(db, phone.id)
    assert row.status == DeviceStatus.REVOKED and row.end_reason == "not_me"
    assert [e.action for e in audit_events(db, "device_reported_not_me")] == [
        "device_reported_not_me"
    ]
    # the link works once
    assert browser.get(link, headers=HTML).status_code == 404
    assert browser.post(link, data={"csrf_token": csrf_from(page)}, headers=HTML).status_code in (
        403,
        404,
    )


def test_not_me_post_needs_the_csrf_token(
    web, app, db, service, settings, world, clock
):  # APP-8 OPS-4
    phone, _, _ = bind(service, db, world.employee_a, clock)
    browser = another_browser(app)
    link = not_me_link(db, settings, world.employee_a)
    assert browser.post(link, data={}, headers=HTML).status_code == 403
    assert device_row(db, phone.id).status == DeviceStatus.ACTIVE


def test_unknown_not_me_link_is_not_found(web, client):  # APP-8 OPS-4
    assert client.get("/devices/not-me/made-up-token", headers=HTML).status_code == 404
    assert client.get("/devices/not-me/" + "x" * 300, headers=HTML).status_code == 404
