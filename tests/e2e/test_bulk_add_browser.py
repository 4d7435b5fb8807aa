"""Add users from a file in a real browser, in Finnish, on a phone (PRV-4): the KH downloads the
template, uploads a file with one bad row, reads the preview's errors in Finnish, adds the good
rows with "Lisää 2 käyttäjää", invites all who need the app and watches the invitations leave.
Every control is found by its Finnish role and name or label; every page fits 390 px without
sideways scrolling; each is saved under ``build/screens/csv/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from portti.companies.models import Company, Membership
from portti.i18n import translations
from portti.invitations.models import Invitation
from portti.people.models import Person
from support.browser import BROWSER_TIMEOUT_MS
from support.csv_users import estonian_code

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
SCREENS = ROOT / "build" / "screens" / "csv"
KH = "Kaisa Mäkinen"  # user administrator of Mäkinen Design Oy
KH_COMPANY = "Mäkinen Design Oy"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
WIDER = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def t(msgid: str) -> str:
    return translations("fi").gettext(msgid)


@pytest.fixture
def finnish_phone(browser: Browser, live_server) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """A phone-sized browser whose language is Finnish (Accept-Language: fi-FI)."""
    context = browser.new_context(base_url=live_server.url, locale="fi-FI", **PHONE)
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    errors: list[str] = []
    context.on("weberror", lambda e: errors.append(e.error.message))
    page = context.new_page()
    # A form answered with its errors (422) is logged by Chromium too: that is on purpose.
    page.on(
        "console",
        lambda m: (
            errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None
        ),
    )
    try:
        yield page
    finally:
        context.close()
    assert errors == []


def shot(page: Page, name: str, shots: list[str]) -> None:
    """Saves the page, and fails if it is wider than the phone."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    shots.append(name)
    page.screenshot(path=str(SCREENS / f"{len(shots):02d}-{name}.png"), full_page=True)
    assert page.evaluate(WIDER) <= 0, f"{name}: wider than 390 px"


def choose_test_identity(page: Page) -> None:
    expect(page.get_by_role("heading", name=t("Test identity provider"))).to_be_visible()
    page.get_by_label(KH).check()
    page.get_by_role("button", name=t("Log in"), exact=True).click()


def test_kh_adds_users_from_a_file_and_invites_them_in_finnish_on_a_phone(
    finnish_phone: Page, live_db, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]  # PRV-4 I18N-1 UX-20 INV-1
    page = finnish_phone
    shots: list[str] = []
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "fi")
    page.get_by_role("button", name=t("Log in with Finnish bank ID or mobile certificate")).click()
    choose_test_identity(page)
    menu = page.get_by_role("navigation", name=t("Company menu"))
    menu.get_by_text(KH_COMPANY, exact=True).click()
    menu.get_by_role("link", name="Käyttäjät ja roolit").click()
    page.get_by_role("link", name=t("Authenticate to add users")).click()
    page.get_by_role(
        "button", name=t("Authenticate with Finnish bank ID or mobile certificate")
    ).click()
    choose_test_identity(page)
    expect(page.get_by_role("heading", name="Käyttäjät ja roolit", level=1)).to_be_visible()

    page.get_by_role("link", name="Lisää käyttäjiä tiedostosta").click()
    expect(page.get_by_role("heading", name="Lisää käyttäjiä tiedostosta", level=1)).to_be_visible()
    shot(page, "upload", shots)

    # The template: Finnish headers and the company's role names in Finnish.
    with page.expect_download() as download:
        page.get_by_role("link", name="Lataa tiedostopohja (CSV)").click()
    template = Path(download.value.path()).read_text(encoding="utf-8-sig")
    header, example = template.splitlines()[:2]
    assert header.startswith("Etunimi;Sukunimi;Henkilötunnus tai muu tunniste;Myöntänyt maa")
    assert "Kirjaaja" in example and "Raportointi" in example

    # A file made from the template: two good rows, one with a role nobody has.
    rows = [
        f"Mari;Selainkoe;{estonian_code()};EE;;;mari.selainkoe@example.com;+372 5123 4567;Kirjaaja;;",
        f"Jaan;Selainkoe;{estonian_code()};EE;;;jaan.selainkoe@example.com;+372 5123 4568;"
        "Kirjaaja, Raportointi;1.1.2026;31.12.2030",
        f"Liis;Selainkoe;{estonian_code()};EE;;;liis.selainkoe@example.com;+372 5123 4569;Astronautti;;",
    ]
    users = tmp_path / "kayttajat.csv"
    users.write_text("\ufeff" + "\r\n".join([header, *rows]) + "\r\n", encoding="utf-8")
    page.get_by_label("Käyttäjätiedosto (CSV)").set_input_files(str(users))
    page.get_by_role("button", name="Esikatsele käyttäjät").click()

    # The preview: the error in Finnish, nothing added yet.
    expect(page.get_by_role("heading", name="Tarkista käyttäjät ennen lisäämistä")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Tiedostossa on 3 käyttäjää.")
    errors = page.get_by_role("table", name="Virheelliset rivit")
    expect(errors).to_contain_text("Tuntemattomat roolit: ”Astronautti”")
    expect(errors).to_contain_text("Liis Selainkoe")
    # Each row's e-mail and phone, which its invitation goes to, on the phone's width too.
    expect(page.get_by_text("jaan.selainkoe@example.com", exact=True)).to_be_visible()
    expect(page.get_by_text("+372 5123 4568", exact=True)).to_be_visible()
    shot(page, "preview-with-errors", shots)
    live_db.expire_all()
    assert live_db.scalars(select(Person).where(Person.family_name == "Selainkoe")).all() == []

    page.get_by_role("button", name="Lisää 2 käyttäjää").click()
    expect(page.get_by_role("heading", name="Tiedostosta lisätyt käyttäjät")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("2 käyttäjää lisättiin.")
    shot(page, "added", shots)
    company = live_db.scalars(select(Company).where(Company.name == KH_COMPANY)).one()
    live_db.expire_all()
    added = live_db.scalars(
        select(Membership)
        .join(Person)
        .where(Membership.company_id == company.id, Person.family_name == "Selainkoe")
    ).all()
    assert sorted(m.person.given_name for m in added) == ["Jaan", "Mari"]

    # Invite all who need the app: refused without the tick, then sent.
    invite = page.get_by_role("button", name="Kutsu 2 käyttäjää")
    invite.click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Vahvista rastittamalla ruutu, että olet varmistanut näiden henkilöiden henkilöllisyyden."
    )
    shot(page, "invite-needs-the-tick", shots)
    page.get_by_label("Olen varmistanut näiden henkilöiden henkilöllisyyden").check()
    # The company's default language is preselected (English for the demo company): the
    # e-mails then read as the other tests on this server expect in the dev mailbox.
    expect(page.get_by_label(t("Language of the invitation"))).to_have_value("en")
    page.get_by_role("button", name="Kutsu 2 käyttäjää").click()
    expect(page.get_by_role("heading", name="Kutsut", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("2 kutsua lähetettiin.")
    # The progress follows the outbox: both e-mails leave (the page polls every 2 s).
    expect(page.get_by_text("2/2 kutsusähköpostia toimitettu")).to_be_visible(timeout=30_000)
    expect(
        page.get_by_role("progressbar", name="2/2 kutsusähköpostia toimitettu")
    ).to_have_attribute("value", "2")
    shot(page, "invitations-delivered", shots)
    live_db.expire_all()
    invitations = live_db.scalars(
        select(Invitation).where(Invitation.person_id.in_([m.person_id for m in added]))
    ).all()
    assert len(invitations) == 2 and {i.language for i in invitations} == {"en"}
    # The page after the sending is a GET (POST-redirect-GET): a reload sends nothing again.
    assert "/users/import/invitations?since=" in page.url
    page.reload()
    expect(page.get_by_text("2/2 kutsusähköpostia toimitettu")).to_be_visible()
    live_db.expire_all()
    again = live_db.scalars(
        select(Invitation).where(Invitation.person_id.in_([m.person_id for m in added]))
    ).all()
    assert sorted(i.id for i in again) == sorted(i.id for i in invitations)
    assert {i.status for i in again} == {"sent"}
    page.get_by_role("link", name=t("Back to Users and roles")).click()
    expect(page.get_by_role("heading", name="Käyttäjät ja roolit", level=1)).to_be_visible()
