"""The admin's flow in Swedish in a real browser (I18N-1): a browser set to Swedish gets the
seed's Swedish terms — Användare och roller, Autentisera för att lägga till användare, Lägg till
användare, Bjud in användaren … — and every step is found by its Swedish role and name or
label, as a Swedish-speaking admin or their screen reader finds it. The invitation goes out in
Swedish because the admin chose it on the invite page.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from portti.infra.outbox import OutboxMessage
from portti.invitations.models import Invitation
from portti.people.models import Person, PersonIdentifier

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

KH = "Kaisa Mäkinen"  # user administrator of Mäkinen Design Oy
KH_COMPANY = "Mäkinen Design Oy"
FI_BANK_SV = "finska bankkoder eller mobilcertifikat"  # lower case mid-sentence (UX-18)
# A valid Swedish personnummer that no demo person or other test has.
NEW_SWEDE = "850709-9805"
NEW_SWEDE_STORED = "198507099805"


@pytest.fixture
def swedish_page(browser: Browser, live_server) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """A browser whose language is Swedish: it sends Accept-Language: sv-SE."""
    context = browser.new_context(base_url=live_server.url, locale="sv-SE")
    errors: list[str] = []
    context.on("weberror", lambda e: errors.append(e.error.message))
    try:
        yield context.new_page()
    finally:
        context.close()
    assert errors == []


def choose_test_identity(page: Page, who: str) -> None:
    """The built-in test identity provider stands in for a bank, in the browser's language."""
    expect(page.get_by_role("heading", name="Testidentitetsleverantör")).to_be_visible()
    page.get_by_label(who).check()
    page.get_by_role("button", name="Logga in", exact=True).click()


def test_kh_walks_the_admin_flow_in_swedish(swedish_page: Page, live_db) -> None:  # type: ignore[no-untyped-def]  # I18N-1 ADM-2 ADM-3 INV-1
    page = swedish_page
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    expect(page.get_by_role("heading", name="Logga in i Portti", level=1)).to_be_visible()
    page.get_by_role("button", name=f"Logga in med {FI_BANK_SV}").click()
    choose_test_identity(page, KH)
    expect(page.get_by_role("heading", name=KH_COMPANY, level=1)).to_be_visible()

    # Företagsmenyn > Användare och roller
    menu = page.get_by_role("navigation", name="Företagsmenyn")
    menu.get_by_text(KH_COMPANY, exact=True).click()
    menu.get_by_role("link", name="Användare och roller").click()
    expect(page.get_by_role("heading", name="Användare och roller", level=1)).to_be_visible()
    expect(page.get_by_role("table", name=f"Användare i {KH_COMPANY}")).to_be_visible()
    expect(page.get_by_role("link", name="Lägg till användare", exact=True)).to_have_count(0)

    # Autentisera för att lägga till användare
    page.get_by_role("link", name="Autentisera för att lägga till användare").click()
    expect(
        page.get_by_role("heading", name="Autentisera för att lägga till användare")
    ).to_be_visible()
    page.get_by_role("button", name=f"Autentisera med {FI_BANK_SV}").click()
    choose_test_identity(page, KH)
    expect(page.get_by_role("heading", name="Användare och roller", level=1)).to_be_visible()
    expect(page.get_by_text("Den starka autentiseringen är giltig i")).to_be_visible()

    # Lägg till användare: the wizard in the seed's order, in Swedish.
    page.get_by_role("link", name="Lägg till användare", exact=True).click()
    expect(page.get_by_role("heading", name="Ny användare", level=1)).to_be_visible()
    page.get_by_label("Utländsk identifiering", exact=True).check()
    page.get_by_label("Utländskt personnummer", exact=True).check()
    country = page.get_by_label("Land som utfärdat identifieringen", exact=True)
    # In the Swedish alphabet: å, ä, ö after z (not in English or byte order).
    names = [n.strip() for n in country.locator("option").all_inner_texts() if n.strip()]
    assert names.index("Zimbabwe") < names.index("Åland") < names.index("Österrike"), names
    assert names[-2:] == ["Österrike", "Östtimor"], names[-3:]
    country.select_option(label="Sverige")
    page.get_by_label("Identitetsnummer eller kod", exact=True).fill(NEW_SWEDE)
    expect(page.get_by_text("Portti-ID:t kan inte anges senare")).to_be_visible()
    page.get_by_label("Nej, skapa en ny användare", exact=True).check()
    page.get_by_label("Förnamn", exact=True).fill("Ingrid")
    page.get_by_label("Efternamn", exact=True).fill("Sjöberg")
    page.get_by_label("E-post", exact=True).fill("ingrid.sjoberg@example.se")
    page.get_by_label("Mobiltelefon", exact=True).fill("+46 70 765 43 21")
    page.get_by_role("checkbox", name="Bokförare", exact=True).check()
    expect(page.get_by_label("Giltig tills vidare", exact=True)).to_be_checked()
    page.get_by_role("button", name="Lägg till användare", exact=True).click()

    expect(page.get_by_role("status")).to_contain_text(f"Användaren lades till i {KH_COMPANY}")
    expect(page.get_by_role("heading", name="Ingrid Sjöberg", level=1)).to_be_visible()
    expect(page.get_by_role("region", name="Identitet")).to_contain_text(
        f"{NEW_SWEDE_STORED} (Sverige)"
    )

    # Bjud in användaren att logga in med mobilappen
    page.get_by_role("link", name="Bjud in användaren att logga in med mobilappen").click()
    expect(
        page.get_by_role("heading", name="Bjud in användaren att logga in med mobilappen")
    ).to_be_visible()
    language = page.get_by_label("Kallelsens språk", exact=True)
    expect(language).to_have_value("en")  # English unless the admin chooses, as in the seed
    language.select_option(label="svenska")
    page.get_by_label("Jag har bekräftat personens identitet", exact=True).check()
    page.get_by_role("button", name="Skicka kallelse").click()

    expect(page.get_by_role("status").first).to_contain_text(
        "Kallelsen skickades till ingrid.sjoberg@example.se"
    )
    expect(page.get_by_role("button", name="Avbryt kallelse")).to_be_visible()
    expect(page.get_by_test_id("invitation-status")).to_have_text("Skickad")

    live_db.rollback()  # a new transaction sees what the server has committed since
    person = live_db.scalars(
        select(Person).join(PersonIdentifier).where(PersonIdentifier.value == NEW_SWEDE_STORED)
    ).one()
    invitation = live_db.scalars(select(Invitation).where(Invitation.person_id == person.id)).one()
    assert invitation.language == "sv"
    mail = live_db.scalars(
        select(OutboxMessage).where(
            OutboxMessage.person_id == person.id, OutboxMessage.kind == "invitation"
        )
    ).one()
    assert mail.subject == (f"{KH} bjuder in dig att logga in i {KH_COMPANY} med Portti-appen")
