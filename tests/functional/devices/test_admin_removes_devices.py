"""UX-8: a lost phone is ended by the administrator. The member's page lists the person's
devices (name, added, last used, which company's invitation activated each); a KH, TPK or
Support with the person in reach removes one or all, after a step-up; it is audited and the
person is told by e-mail in their language. A removed device approves no QR login."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from portti.devices.models import Device
from portti.people.models import Person
from support import factories as f
from support.db import audit_events, fresh
from support.messages import queued
from support.qr import Phone, log_in_by_app, open_qr_login, phone_of, typed_code
from support.web import HTML, another_browser, force_login, is_logged_in, page_csrf


@pytest.fixture
def lost(app, db, settings, clock, world) -> tuple[Person, Phone]:  # type: ignore[no-untyped-def]
    """The employee of client A, with the app on a phone (which is then lost)."""
    person = world.employee_a
    person.language = "fi"
    db.commit()
    return person, phone_of(app, db, settings, clock, person)


def user_page(admin: TestClient, world: f.World) -> str:
    url = f"/c/{world.client_a.id}/users/{world.employee_a_membership.id}"
    r = admin.get(url, headers=HTML)
    assert r.status_code == 200, r.text
    return r.text


def remove_all(admin: TestClient, world: f.World) -> Any:
    url = f"/c/{world.client_a.id}/users/{world.employee_a_membership.id}"
    return admin.post(
        f"{url}/devices/remove-all",
        data={"csrf_token": page_csrf(admin, url)},
        headers=HTML,
    )


def device_of(db: Any, phone: Phone) -> Device:
    fresh(db)
    return db.scalars(select(Device).where(Device.public_id == phone.sim.public_id)).one()


def test_ux8_the_admin_sees_the_persons_devices(kh, world, lost, db):  # UX-8 SEC-14
    _, phone = lost
    page = user_page(kh, world)
    assert "Devices with the Portti app" in page
    assert "Maija&#39;s phone" in page or "Maija's phone" in page
    assert "Client A Oy" in page  # the company the device lets the person into
    assert 'aria-label="Remove device “Maija&#39;s phone”"' in page or "Remove device" in page
    assert "Remove all devices" in page
    api = kh.get(
        f"/api/v1/companies/{world.client_a.id}/members/{world.employee_a_membership.id}/devices"
    )
    assert api.status_code == 200, api.text
    body = api.json()
    assert body["reaches_company"] is True
    [d] = body["devices"]
    assert d["device_id"] == phone.sim.public_id and d["status"] == "active"
    assert d["carries_company"] is True and d["created_at"]
    assert [c["company_id"] for c in d["companies"]] == [world.client_a.id]


def test_ux8_a_removed_phone_can_no_longer_approve_a_qr_login(
    app, kh, world, lost, db, settings
):  # UX-8
    person, phone = lost
    # The lost phone had logged someone in on a computer.
    thief = another_browser(app)
    assert log_in_by_app(thief, phone).status_code == 303
    assert is_logged_in(thief)

    r = remove_all(kh, world)
    assert r.status_code == 303, r.text
    assert "devices_removed=1" in r.headers["location"]
    page = kh.get(r.headers["location"].split("#")[0], headers=HTML).text
    assert "Devices removed: 1" in page and "Earlier devices (1)" in page

    assert device_of(db, phone).status == "revoked"
    # What it let in has ended, and it approves nothing more.
    assert not is_logged_in(thief)
    again = another_browser(app)
    refused = phone.type_code(typed_code(again, open_qr_login(again)))
    assert refused.status_code == 401, refused.text
    ch = phone.http.post(
        f"/app-api/v1/devices/{phone.sim.public_id}/challenges", json={"purpose": "unlock"}
    )
    assert ch.status_code >= 400  # not even a new unlock
    # Audited as the admin's act, in the company; the person is told, in Finnish.
    event = audit_events(db, "device_revoked")[-1]
    assert event.actor_person_id == world.kh_a.id and event.company_id == world.client_a.id
    assert event.details["reason"] == "removed_by_admin"
    [mail] = [
        m
        for m in queued(db, settings.secret, channel="email", to=person.email)
        if m["kind"] == "devices_removed"
    ]
    assert mail["subject"] == "Laitteesi poistettiin Porttista"
    assert "Maija's phone" in mail["text"] and "Client A Oy" in mail["text"]


def test_ux8_removing_one_device_by_json_leaves_the_other(
    app, kh, world, lost, db, settings, clock
):  # UX-8
    person, phone = lost
    second = phone_of(app, db, settings, clock, person)
    url = (
        f"/api/v1/companies/{world.client_a.id}/members/{world.employee_a_membership.id}"
        f"/devices/{phone.sim.public_id}"
    )
    r = kh.delete(url, headers={"X-CSRF-Token": page_csrf(kh)})
    assert r.status_code == 200 and r.json() == {"devices_removed": 1}, r.text
    assert device_of(db, phone).status == "revoked"
    assert device_of(db, second).status == "active"
    missing = kh.delete(
        url.rsplit("/", 1)[0] + "/dev_nope", headers={"X-CSRF-Token": page_csrf(kh)}
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_ux8_removing_needs_a_step_up(client, world, lost, db):  # UX-8 ADM-2
    _, phone = lost
    force_login(client, world.kh_a, stepped_up=False)
    page = user_page(client, world)
    assert "Remove all devices" in page  # offered, but disabled until the step-up
    r = client.delete(
        f"/api/v1/companies/{world.client_a.id}/members/{world.employee_a_membership.id}/devices",
        headers={"X-CSRF-Token": page_csrf(client)},
    )
    assert r.status_code == 403 and r.json()["code"] == "step_up_required"
    assert device_of(db, phone).status == "active"


def test_ux8_a_kh_cannot_remove_the_devices_of_someone_also_elsewhere_refused(
    app, kh, world, lost, db
):  # UX-8 SEC-1
    person, phone = lost
    f.member(db, person, world.other, ["bookkeeper"])
    db.commit()
    page = user_page(kh, world)
    assert "Remove all devices" not in page
    assert "Only customer service" in page
    r = remove_all(kh, world)
    assert r.status_code == 403
    assert device_of(db, phone).status == "active"
    denied = audit_events(db, "access_denied")[-1]
    assert denied.details["operation"] == "remove_devices"
    # Support may.
    support = another_browser(app)
    force_login(support, world.support, stepped_up=True)
    assert remove_all(support, world).status_code == 303
    assert device_of(db, phone).status == "revoked"


def test_ux11_a_just_sent_invitation_is_what_the_page_says(kh, world, db):  # UX-11 INV-1
    """No app yet, and an invitation on its way: the page does not tell the admin to invite."""
    person = world.employee_a
    person.email, person.phone = "eero.employee@example.org", "+358401234567"
    db.commit()
    before = user_page(kh, world)
    assert "They have no Portti app in use. Send an invitation" in before
    r = kh.post(
        f"/api/v1/companies/{world.client_a.id}/members/{world.employee_a_membership.id}"
        "/invitation",
        json={"identity_verified": True},
        headers={"X-CSRF-Token": page_csrf(kh)},
    )
    assert r.status_code == 201, r.text
    after = user_page(kh, world)
    assert "Send an invitation" not in after
    assert "An invitation to the Portti app has been sent and is still valid" in after
    api = kh.get(
        f"/api/v1/companies/{world.client_a.id}/members/{world.employee_a_membership.id}/devices"
    ).json()
    assert api["summary"].startswith("An invitation to the Portti app has been sent")
