"""The notices service renders and queues what people are told (APP-4)."""

from __future__ import annotations

from datetime import UTC, datetime

from portti.accounts.models import Account
from portti.devices.models import Device
from portti.devices.notices import DeviceNotices
from portti.infra.outbox import Outbox, outbox_box
from support import factories as f
from support.messages import queued


def test_device_bound_tells_an_address_once_whatever_its_case(db, app, settings, clock):  # APP-4
    person = f.person(db, "Maija", "Meikalainen")
    db.flush()
    notices = DeviceNotices(
        db,
        Outbox(db, clock, outbox_box(settings.secret)),
        app.state.runtime.templates.env,
        base_url="https://portti.example/",
    )
    device = Device(
        person_id=person.id,
        name="Pixel 8",
        platform="android",
        created_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
    )
    same = Account(email=person.email.upper())

    told = notices.device_bound(device, person, same, "tok")

    assert told == 1
    (mail,) = queued(db, settings.secret, channel="email")
    assert mail["to"] == person.email
    assert mail["kind"] == "new_device"
    assert "https://portti.example/devices/not-me/tok" in mail["text"]
    assert "https://portti.example/devices/not-me/tok" in mail["html"]
    assert "1.12.2026 11:30" in mail["text"]  # Finnish time, the reader's way
    assert '"Pixel 8"' in mail["text"]
