"""The administrator sees a person's security events on the user's page (UX-8): a login refused
with "This wasn't me", the app paused and locked after wrong PINs, the app activated again, a
device removed — from the audit log, in the reader's language, at the company's local time.
What another company's administrator did to the person is not shown."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.devices.errors import DeviceLocked, PinWrong
from support import factories as f
from support.db import fresh
from support.devices import make_service, unlock
from support.qr import open_qr_login, phone_of, typed_code
from support.web import another_browser, force_login

ACCEPT = {"en": "en-GB,en;q=0.9", "fi": "fi-FI,fi;q=0.9", "sv": "sv-SE,sv;q=0.9"}
LABELS = {
    "en": ("Security events", "login rejected in app", "device locked"),
    "fi": (
        "Tietoturvatapahtumat",
        "Kirjautuminen hylätty sovelluksessa",
        "Sovellus lukittu väärien PIN-koodien jälkeen",
    ),
    "sv": ("Säkerhetshändelser", "Inloggningen avvisad i appen", "Appen låst efter fel PIN-koder"),
}


def section(html: str) -> str:
    start = html.index('data-testid="security-events"')
    return html[start : html.index("</section>", start)]


@pytest.mark.parametrize("lang", list(ACCEPT))
def test_the_user_page_lists_the_persons_security_events(
    app, kh, world: f.World, db, settings, clock, lang
):  # UX-8 ADM-8 I18N-1
    person = world.employee_a
    phone = phone_of(app, db, settings, clock, person)
    # "This wasn't me" on a login someone started.
    browser = another_browser(app)
    read = phone.type_code(typed_code(browser, open_qr_login(browser)))
    assert read.status_code == 200, read.text
    assert phone.reject(read.json()["approval_id"]).status_code == 200
    # Wrong PINs until the app is locked.
    service = make_service(db, app)
    for _ in range(9):
        clock.advance(timedelta(hours=2))
        with pytest.raises((PinWrong, DeviceLocked)):
            unlock(service, phone.sim, pin="000000")
        db.commit()
    last_event_at = clock.now()
    # Another company's administration of the person is theirs to read, not this company's.
    AuditLog(db, clock).record(
        AuditAction.DEVICE_REVOKED,
        company_id=world.other.id,
        actor_person_id=world.kh_other.id,
        subject_person_id=person.id,
        reason="removed_by_admin",
    )
    db.commit()
    fresh(db)
    force_login(kh, world.kh_a)  # hours went by

    r = kh.get(
        f"/c/{world.client_a.id}/users/{world.employee_a_membership.id}",
        headers={"accept": "text/html", "accept-language": ACCEPT[lang]},
    )
    assert r.status_code == 200, r.text
    events = section(r.text)
    heading, refused, locked = LABELS[lang]
    assert heading in events and refused in events and locked in events, events
    assert world.kh_other.full_name not in events
    assert "dev_" not in events  # device ids tell the reader nothing
    # The company's local time (Finnish, not UTC), the reader's way.
    # (The moment of the last event, read before the page: the minute may turn meanwhile.)
    local = last_event_at.astimezone(ZoneInfo("Europe/Helsinki"))
    shown = {f"{h}{sep}{local:%M}" for h in (str(local.hour), f"{local:%H}") for sep in ".:"}
    assert any(f" {t}</time>" in events for t in shown), events
