"""A forgotten PIN: the app is activated again with the account on the same phone, and the new
device replaces the one whose PIN was forgotten (UX-9). The old device ends at once: it can no
longer approve a login nor be unlocked; the person is told in the new-device e-mail, the event
is in the audit log, and their administrator sees it on the user's page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from portti.devices.models import Device
from support.activation import AppActivation, account_in_db
from support.db import audit_events, fresh
from support.messages import queued
from support.qr import open_qr_login, phone_of, typed_code
from support.web import HTML, another_browser


def status_of(db: Any, public_id: str) -> tuple[str, str | None]:
    fresh(db)
    d = db.scalars(select(Device).where(Device.public_id == public_id)).one()
    return d.status, d.end_reason


def reactivate(app: Any, db: Any, settings: Any, clock: Any, person: Any, replaces: str | None):
    creds = account_in_db(db, app, person)
    again = AppActivation(another_browser(app))
    r = again.start_with_account(creds.login_body(clock))
    assert r.status_code == 201, r.text
    if r.json()["step"] == "terms":
        assert again.accept_terms().status_code == 200
    bound = again.bind(name="Phone again", replaces=replaces)
    assert bound.status_code == 201, bound.text
    return again


def test_reactivating_after_a_forgotten_pin_ends_the_old_device(
    app, kh, world, db, settings, clock
):  # UX-9 APP-7 SEC-4
    person = world.employee_a
    old = phone_of(app, db, settings, clock, person)
    reactivate(app, db, settings, clock, person, replaces=old.sim.public_id)

    assert status_of(db, old.sim.public_id) == ("revoked", "replaced")
    # The old phone approves nothing more, and cannot even be unlocked.
    browser = another_browser(app)
    refused = old.type_code(typed_code(browser, open_qr_login(browser)))
    assert refused.status_code == 401, refused.text
    ch = old.http.post(
        f"/app-api/v1/devices/{old.sim.public_id}/challenges", json={"purpose": "unlock"}
    )
    assert ch.status_code >= 400, ch.text

    # Audited; the person is told in the new-device e-mail, naming the device replaced.
    [event] = audit_events(db, "device_replaced")
    assert event.subject_person_id == person.id and event.details["device"] == old.sim.public_id
    mails = [
        m
        for m in queued(db, settings.secret, channel="email", to=person.email)
        if m["kind"] == "new_device"
    ]
    assert "It replaces the device “Maija's phone”" in mails[-1]["text"], mails[-1]["text"]
    # The administrator reads it on the user's page, among the person's security events.
    page = kh.get(
        f"/c/{world.client_a.id}/users/{world.employee_a_membership.id}", headers=HTML
    ).text
    assert "Security events" in page and "device replaced" in page


def test_a_device_of_someone_else_is_not_replaced(app, world, db, settings, clock):  # UX-9
    other = phone_of(app, db, settings, clock, world.employee_other)
    reactivate(app, db, settings, clock, world.employee_a, replaces=other.sim.public_id)
    assert status_of(db, other.sim.public_id) == ("active", None)
    assert not audit_events(db, "device_replaced")


def test_a_second_phone_without_replacing_leaves_the_first(
    app, world, db, settings, clock
):  # APP-7
    first = phone_of(app, db, settings, clock, world.employee_a)
    reactivate(app, db, settings, clock, world.employee_a, replaces=None)
    assert status_of(db, first.sim.public_id) == ("active", None)
