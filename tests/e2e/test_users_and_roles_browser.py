"""The foundation in a real browser: log in through the test identity provider, open Users and
roles, authenticate strongly, and add users with the wizard — a foreign person as a new user, and
an existing person into a second company by their Portti ID.

Elements are found only by their role and accessible name, or by their label, as a person or a
screen reader finds them: a step that cannot be done that way is a defect of the page.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portti.companies.models import Company, Membership
from portti.demo import PEOPLE
from portti.people.identity_numbers import make_hetu
from portti.people.models import Person, PersonIdentifier

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

FI_BANK = "Finnish bank ID or mobile certificate"
KH = "Kaisa Mäkinen"  # user administrator of Mäkinen Design Oy
KH_COMPANY = "Mäkinen Design Oy"
TPK = "Timo Tilinen"  # main user of the accounting office: Kahvila Aalto Oy, Rakennus Virtanen Oy
TPK_CLIENT = "Rakennus Virtanen Oy"
AINO = next(p for p in PEOPLE if p.key == "aino")  # a user of Kahvila Aalto Oy only
# A valid Swedish personnummer that no demo person has (Erik Andersson has 19811218-9876).
NEW_SWEDE = "900101-0017"
NEW_SWEDE_STORED = "199001010017"


def choose_test_identity(page: Page, who: str) -> None:
    """On the built-in test identity provider's page: pick a demo person and log in."""
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label(who).check()
    page.get_by_role("button", name="Log in", exact=True).click()


def log_in(page: Page, who: str) -> None:
    page.goto("/login")
    page.get_by_role("button", name=f"Log in with {FI_BANK}").click()
    choose_test_identity(page, who)


def open_users_and_roles(page: Page, company: str) -> None:
    """Through the company menu in the page header, as a person would."""
    menu = page.get_by_role("navigation", name="Company menu")
    # The menu is a <details>: its <summary> is a disclosure button to screen readers, but has
    # no ARIA role that Playwright can select by, so it is found by its text inside the landmark.
    menu.get_by_text(company, exact=True).click()
    menu.get_by_role("link", name="Users and roles").click()
    expect(page.get_by_role("heading", name="Users and roles", level=1)).to_be_visible()


def step_up(page: Page, who: str) -> None:
    """From Users and roles: the fresh strong authentication that adding users needs."""
    page.get_by_role("link", name="Authenticate to add users").click()
    expect(page.get_by_role("heading", name="Authenticate to add users")).to_be_visible()
    page.get_by_role("button", name=f"Authenticate with {FI_BANK}").click()
    choose_test_identity(page, who)
    expect(page.get_by_role("heading", name="Users and roles", level=1)).to_be_visible()
    expect(page.get_by_text("Strong authentication is valid for")).to_be_visible()


def company_today(db: Session, name: str) -> date:
    tz = db.scalars(select(Company.timezone).where(Company.name == name)).one()
    return datetime.now(ZoneInfo(tz)).date()


def finnish_date(d: date) -> str:
    return f"{d.day}.{d.month}.{d.year}"


def assert_png(path: Path) -> None:
    assert path.stat().st_size > 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# Whether an input's text fits in it: the text's width in its font against the room inside.
FITS = """e => {
  const style = getComputedStyle(e);
  const ctx = document.createElement("canvas").getContext("2d");
  ctx.font = style.font;
  const room = e.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return ctx.measureText(e.value).width <= room;
}"""


def test_kh_adds_swede_for_90_days(page, live_db, tmp_path):  # ADM-1 ADM-2 ADM-3 ADM-4 ADM-7 WEB-4
    log_in(page, KH)
    # Her only company: she lands on it without a choice.
    expect(page.get_by_role("heading", name=KH_COMPANY, level=1)).to_be_visible()

    open_users_and_roles(page, KH_COMPANY)
    users = page.get_by_role("table", name=f"Users of {KH_COMPANY}")
    expect(users.get_by_role("link", name="Tamm, Kadri")).to_be_visible()
    expect(users.get_by_role("link", name="Mäkinen, Kaisa")).to_be_visible()
    # Search as you type (htmx, under the Content-Security-Policy), then back to everyone.
    search = page.get_by_label("Search by name, e-mail or Portti ID", exact=True)
    search.fill("Tamm")
    expect(users.get_by_role("link", name="Mäkinen, Kaisa")).to_have_count(0)
    expect(users.get_by_role("link", name="Tamm, Kadri")).to_be_visible()
    expect(page).to_have_url(re.compile(r"[?&]q=Tamm"))
    search.fill("")
    expect(users.get_by_role("link", name="Mäkinen, Kaisa")).to_be_visible()
    # Changing users needs a strong authentication first: no way to add before it.
    expect(page.get_by_role("link", name="Add user", exact=True)).to_have_count(0)
    page.screenshot(path=tmp_path / "users-and-roles.png", full_page=True)
    assert_png(tmp_path / "users-and-roles.png")

    step_up(page, KH)
    page.get_by_role("link", name="Add user", exact=True).click()
    expect(page.get_by_role("heading", name="New user", level=1)).to_be_visible()

    # 1. Identification method, 2. identifying information
    page.get_by_label("Foreign identifier", exact=True).check()
    page.get_by_label("Foreign personal identity number", exact=True).check()
    page.get_by_label("Issuing country", exact=True).select_option(label="Sweden")
    page.get_by_label("Identity number or code", exact=True).fill(NEW_SWEDE)
    # 3. Already a Portti user? The warning is there before the admin commits.
    expect(page.get_by_text("the Portti ID cannot be given later")).to_be_visible()
    page.get_by_label("No, create a new user", exact=True).check()
    expect(page.get_by_label("Portti ID", exact=True)).to_be_hidden()
    # 4. Personal details
    page.get_by_label("Given name", exact=True).fill("Astrid")
    page.get_by_label("Family name", exact=True).fill("Lindqvist")
    page.get_by_label("E-mail", exact=True).fill("astrid.lindqvist@lindqvist-konsult.example.com")
    page.get_by_label("Mobile phone", exact=True).fill("+46 70 123 45 67")
    # 5. Roles, 6. validity
    page.get_by_role("checkbox", name="Bookkeeper", exact=True).check()
    expect(page.get_by_label("Valid from", exact=True)).to_be_hidden()
    page.get_by_label("Time-limited", exact=True).check()
    today = company_today(live_db, KH_COMPANY)
    until = today + timedelta(days=90)
    page.get_by_label("Valid from", exact=True).fill(today.isoformat())
    page.get_by_label("Valid until", exact=True).fill(until.isoformat())
    page.screenshot(path=tmp_path / "add-user-wizard.png", full_page=True)
    assert_png(tmp_path / "add-user-wizard.png")

    page.get_by_role("button", name="Add user", exact=True).click()

    expect(page.get_by_role("status")).to_contain_text("The user was added")
    expect(page.get_by_role("heading", name="Astrid Lindqvist", level=1)).to_be_visible()
    live_db.rollback()  # a new transaction sees what the server has committed since
    person = live_db.scalars(
        select(Person).join(PersonIdentifier).where(PersonIdentifier.value == NEW_SWEDE_STORED)
    ).one()
    identity = page.get_by_role("region", name="Identity")
    expect(identity).to_contain_text(person.portti_id)
    expect(identity).to_contain_text(f"{NEW_SWEDE_STORED} (Sweden)")
    # The person's e-mail reads whole in its input, not cut off.
    email = page.get_by_label("E-mail", exact=True)
    expect(email).to_have_value("astrid.lindqvist@lindqvist-konsult.example.com")
    assert email.evaluate(FITS), "the e-mail input cuts the address"
    assert person.phone == "+46701234567"
    [identifier] = person.identifiers
    assert (identifier.kind, identifier.country) == ("personal_number", "SE")
    membership = live_db.scalars(select(Membership).where(Membership.person_id == person.id)).one()
    assert membership.company.name == KH_COMPANY
    assert membership.role_codes == {"bookkeeper"}
    assert (membership.valid_from, membership.valid_until) == (today, until)

    # Back on the list, the new user is there with the validity window.
    page.get_by_role("link", name="Users and roles").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Lindqvist, Astrid"))
    expect(row).to_contain_text("Bookkeeper")
    expect(row).to_contain_text(person.portti_id)
    expect(row).to_contain_text(f"{finnish_date(today)}–{finnish_date(until)}")


def test_tpk_adds_an_existing_person_to_a_client_by_portti_id(page, live_db):  # ADM-2 ADM-3 ADM-5
    hetu = AINO.value
    aino = live_db.scalars(
        select(Person).join(PersonIdentifier).where(PersonIdentifier.value == hetu)
    ).one()

    log_in(page, TPK)
    # The office and its two clients: he chooses where to go.
    expect(page.get_by_role("heading", name="Choose company")).to_be_visible()
    page.get_by_label(TPK_CLIENT).check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name=TPK_CLIENT, level=1)).to_be_visible()

    open_users_and_roles(page, TPK_CLIENT)
    expect(page.get_by_role("link", name="Laine, Aino")).to_have_count(0)
    step_up(page, TPK)
    page.get_by_role("link", name="Add user", exact=True).click()

    expect(page.get_by_label("Finnish personal identity code", exact=True)).to_be_checked()
    page.get_by_label("Identity number or code", exact=True).fill(hetu)
    page.get_by_label("Yes, the person already has a Portti ID", exact=True).check()
    # The personal details are the existing person's: the wizard does not ask for them.
    expect(page.get_by_label("Given name", exact=True)).to_be_hidden()
    page.get_by_label("Portti ID", exact=True).fill(aino.portti_id)
    page.get_by_role("checkbox", name="Bookkeeper", exact=True).check()
    page.get_by_role("button", name="Add user", exact=True).click()

    expect(page.get_by_role("status")).to_contain_text(f"The user was added to {TPK_CLIENT}")
    expect(page.get_by_role("heading", name="Aino Laine", level=1)).to_be_visible()
    expect(page.get_by_role("region", name="Identity")).to_contain_text(aino.portti_id)

    live_db.rollback()  # a new transaction sees what the server has committed since
    same_hetu = (
        select(func.count())
        .select_from(PersonIdentifier)
        .where(PersonIdentifier.kind == "fi_hetu", PersonIdentifier.value == hetu)
    )
    assert live_db.scalar(same_hetu) == 1
    companies = live_db.scalars(
        select(Company.name).join(Membership).where(Membership.person_id == aino.id)
    ).all()
    assert sorted(companies) == ["Kahvila Aalto Oy", TPK_CLIENT]


def test_wizard_explains_a_wrong_hetu_check_character(page, live_db, tmp_path):  # ADM-3 ADM-4
    valid = make_hetu(date(1995, 5, 17), 123)
    wrong = valid[:-1] + ("A" if valid[-1] != "A" else "B")
    log_in(page, KH)
    open_users_and_roles(page, KH_COMPANY)
    step_up(page, KH)
    page.get_by_role("link", name="Add user", exact=True).click()

    page.get_by_label("Identity number or code", exact=True).fill(wrong)
    page.get_by_label("Given name", exact=True).fill("Veera")
    page.get_by_label("Family name", exact=True).fill("Virheellinen")
    page.get_by_label("E-mail", exact=True).fill("veera@example.com")
    page.get_by_label("Mobile phone", exact=True).fill("+358 40 123 4567")
    page.get_by_role("checkbox", name="Bookkeeper", exact=True).check()
    page.get_by_role("button", name="Add user", exact=True).click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(re.compile("check character", re.IGNORECASE))
    field = page.get_by_label("Identity number or code", exact=True)
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(re.compile("check character", re.IGNORECASE))
    # What was typed stays, so it can be corrected.
    expect(field).to_have_value(wrong)
    expect(page.get_by_label("Given name", exact=True)).to_have_value("Veera")
    page.screenshot(path=tmp_path / "add-user-wizard-error.png", full_page=True)
    assert_png(tmp_path / "add-user-wizard-error.png")
    live_db.rollback()  # a new transaction sees what the server has committed since
    assert live_db.scalar(select(Person.id).where(Person.family_name == "Virheellinen")) is None
