"""UX-8 in a real browser: the user administrator opens a member's page, sees the person's app
devices (name, added, last used, which company's invitation activated each) and removes a lost
phone after a step-up; the phone can no longer unlock or approve a login.

Elements are found by role and accessible name, or by label, as a person or a screen reader
finds them."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Page, expect
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portti.devices.models import Device
from portti.people.models import Person
from support.live_phone import bind_demo_device, unlocked_phone

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

FI_BANK = "Finnish bank ID or mobile certificate"
KH = "Kaisa Mäkinen"
KH_COMPANY = "Mäkinen Design Oy"


def choose_test_identity(page: Page, who: str) -> None:
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label(who).check()
    page.get_by_role("button", name="Log in", exact=True).click()


def test_ux8_the_kh_removes_a_members_lost_phone(
    page, live_server, live_db: Session, tmp_path: Path
):  # UX-8
    # Other tests on this server bind phones for Kadri too: this one starts from none.
    kadri = live_db.scalars(
        select(Person).where(Person.given_name == "Kadri", Person.family_name == "Tamm")
    ).one()
    live_db.execute(delete(Device).where(Device.person_id == kadri.id))
    live_db.commit()
    sim = bind_demo_device(live_server.database_url, live_server.secret_key, "Kadri", "Tamm")
    phone = unlocked_phone(live_server.url, sim)

    page.goto("/login")
    page.get_by_role("button", name=f"Log in with {FI_BANK}").click()
    choose_test_identity(page, KH)
    menu = page.get_by_role("navigation", name="Company menu")
    menu.get_by_text(KH_COMPANY, exact=True).click()
    menu.get_by_role("link", name="Users and roles").click()
    page.get_by_role("link", name="Authenticate to add users").click()
    page.get_by_role("button", name=f"Authenticate with {FI_BANK}").click()
    choose_test_identity(page, KH)
    expect(page.get_by_text("Strong authentication is valid for")).to_be_visible()

    users = page.get_by_role("table", name=f"Users of {KH_COMPANY}")
    users.get_by_role("link", name="Tamm, Kadri").click()
    expect(page.get_by_role("heading", name="Kadri Tamm", level=1)).to_be_visible()
    devices = page.get_by_role("table", name="Devices with the Portti app")
    expect(devices.get_by_role("cell", name="Kadri's phone (android)")).to_be_visible()
    expect(devices.get_by_role("columnheader", name="Last used")).to_be_visible()
    expect(page.get_by_text("Their Portti app gives access to this company.")).to_be_visible()
    page.screenshot(path=tmp_path / "member-devices.png", full_page=True)

    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    devices.get_by_role("button", name="Remove device “Kadri's phone”").click()
    expect(page.get_by_role("status").filter(has_text="Devices removed: 1")).to_be_visible()
    assert asked == ["Remove the device “Kadri's phone”?"]
    expect(page.get_by_role("table", name="Devices with the Portti app")).to_have_count(0)
    expect(page.get_by_text("Earlier devices (1)")).to_be_visible()
    page.screenshot(path=tmp_path / "member-devices-removed.png", full_page=True)

    live_db.expire_all()
    device = live_db.scalars(select(Device).where(Device.public_id == sim.public_id)).one()
    assert device.status == "revoked" and device.end_reason == "removed_by_admin"
    # The phone's app session ended with it, and it cannot unlock again.
    me = phone.http.get("/app-api/v1/me", headers=phone.auth)
    assert me.status_code == 401
    ch = phone.http.post(
        f"/app-api/v1/devices/{sim.public_id}/challenges", json={"purpose": "unlock"}
    )
    assert ch.status_code >= 400
