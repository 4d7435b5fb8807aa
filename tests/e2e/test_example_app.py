"""examples/business_app.py, the business application `make run` starts beside Portti: a person
logs in to it through Portti with bank ID and sees their companies and roles; logging out at
Portti ends the application's session by back-channel logout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from portti.people.models import Person
from support.oidc import free_port, query_of, return_url
from support.web import csrf_from, local, login

pytestmark = [pytest.mark.e2e]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


def axe_serious(page) -> list[str]:  # type: ignore[no-untyped-def]
    """axe-core's serious and critical violations on the page (WCAG 2 A/AA, best practice)."""
    page.evaluate(AXE.read_text() + "\n;undefined")
    return page.evaluate(  # type: ignore[no-any-return]
        """async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a',
            'wcag21aa', 'best-practice']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id)"""
    )


@pytest.fixture
def example_app(live_server, tmp_path):  # type: ignore[no-untyped-def]
    port = free_port()
    here = f"http://127.0.0.1:{port}"
    reg = tmp_path / "client.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTTI_")} | {
        "PORTTI_MODE": "demo",
        "PORTTI_DATABASE_URL": live_server.database_url,
        "PORTTI_BASE_URL": live_server.url,
        "PORTTI_SECRET_KEY": live_server.secret_key,
    }
    done = subprocess.run(
        [sys.executable, "-m", "portti.cli", "clients", "register", "--name", "Example",
         "--redirect-uri", f"{here}/callback", "--post-logout-redirect-uri", f"{here}/",
         "--backchannel-logout-uri", f"{here}/backchannel-logout", "--json-out", str(reg)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # Its machine client: at start it creates its customer companies through the API (PRV-2).
    machine = tmp_path / "machine.json"
    done = subprocess.run(
        [sys.executable, "-m", "portti.cli", "clients", "register-machine", "--name", "Example",
         "--scope", "companies:write", "--all-companies", "--json-out", str(machine)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    log = (tmp_path / "example.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(EXAMPLES), "business_app:app",
         "--host", "127.0.0.1", "--port", str(port)],
        env=env | {"EXAMPLE_CLIENT": str(reg), "EXAMPLE_URL": here, "EXAMPLE_MACHINE": str(machine)},
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(here + "/").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield here, json.loads(reg.read_text())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_example_app_shows_company_and_roles_and_is_logged_out_by_portti(
    live_server, live_db, example_app
) -> None:  # WEB-4 WEB-5 OIDC-4 UX-21
    here, _ = example_app
    kaisa = live_db.scalars(select(Person).where(Person.given_name == "Kaisa")).one()
    identity = {
        "given_name": "Kaisa",
        "family_name": "Mäkinen",
        "country": "FI",
        "national_id": kaisa.identifiers[0].value,
    }
    app_browser = httpx.Client(base_url=here, follow_redirects=False, timeout=15)
    portti = httpx.Client(base_url=live_server.url, follow_redirects=False, timeout=15)
    to_portti = app_browser.get("/login")
    first = portti.get(local(to_portti.headers["location"]))
    callback = login(portti, identity, next_=query_of(first.headers["location"])["next"])  # type: ignore[arg-type]
    # The example is not a first-party application: Kaisa is asked once (OIDC-4).
    consent = portti.get(local(callback.headers["location"]))
    assert consent.status_code == 200 and "Allow Example?" in consent.text
    assert "Mäkinen Design Oy: Purchase invoice approver, User administrator" in consent.text
    back = return_url(
        portti.post(
            "/oidc/consent",
            data={
                "r": query_of(callback.headers["location"])["r"],
                "decision": "allow",
                "company_id": re.search(r'name="company_id" value="(\d*)"', consent.text).group(1),  # type: ignore[union-attr]
                "csrf_token": csrf_from(consent),
            },
        )
    )
    done = app_browser.get(local(back))
    assert done.status_code == 303, done.text
    home = app_browser.get("/")
    assert "Hello, Kaisa Mäkinen" in home.text
    assert "Mäkinen Design Oy: Purchase invoice approver, User administrator" in home.text
    # UX-21: a page with a language and a title, roles by name, in the browser's language.
    assert '<html lang="en">' in home.text and "<title>Numerot accounting</title>" in home.text
    in_swedish = app_browser.get("/", headers={"accept-language": "sv-SE,sv;q=0.9,en;q=0.5"})
    assert '<html lang="sv">' in in_swedish.text
    assert "<title>Numerot bokföring</title>" in in_swedish.text
    assert "Hej, Kaisa Mäkinen" in in_swedish.text
    assert "Mäkinen Design Oy: Godkännare av inköpsfakturor, Användaradministratör" in (
        in_swedish.text
    )
    in_finnish = app_browser.get("/", headers={"accept-language": "fi"})
    assert '<html lang="fi">' in in_finnish.text and "Yrityksesi ja roolisi" in in_finnish.text
    assert "Ostolaskujen hyväksyjä, Käyttäjähallinnoija" in in_finnish.text
    assert "user_admin" not in in_finnish.text + in_swedish.text + home.text

    # Logging out at Portti itself reaches the application over the back channel.
    settings = portti.get("/settings", headers={"accept": "text/html"})
    portti.post("/logout", data={"csrf_token": csrf_from(settings)})
    deadline = time.monotonic() + 10
    while "Log in with Portti" not in app_browser.get("/").text and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "Log in with Portti" in app_browser.get("/").text


@pytest.mark.browser
def test_in_a_browser_the_example_app_logs_in_through_portti(
    page, example_app
) -> None:  # WEB-4 OIDC-4 UX-14 UX-21
    """Chromium, with Portti's CSP enforced (the fixture fails on any violation): the last hop
    back to the application after Portti's own forms is the "Returning to …" page."""
    from playwright.sync_api import expect

    here, _ = example_app
    # Nothing the pages load is missing (a 404 is an error in the browser's console).
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("console", lambda m: failed.append(m.text) if m.type == "error" else None)
    page.goto(here + "/")
    assert axe_serious(page) == []
    page.get_by_role("link", name="Log in with Portti").click()
    # Portti's login page names the application the login is for (UX-14).
    expect(page.get_by_role("heading", name="Log in to Example", level=1)).to_be_visible()
    assert page.title() == "Log in to Example – Portti"
    page.get_by_role("button", name="Log in with Finnish bank ID or mobile certificate").click()
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label("Kaisa Mäkinen").check()
    page.get_by_role("button", name="Log in", exact=True).click()
    # OIDC-4: asked once, naming the application and the companies and roles it gets.
    expect(page.get_by_role("heading", name="Allow Example?")).to_be_visible()
    # The roles by name on Portti's page as on the application's.
    roles = "Mäkinen Design Oy: Purchase invoice approver, User administrator"
    expect(page.get_by_text(roles)).to_be_visible()
    page.get_by_role("button", name="Allow Example").click()
    expect(page.get_by_role("heading", name="Hello, Kaisa Mäkinen")).to_be_visible()
    expect(page.get_by_text(roles)).to_be_visible()
    assert page.title() == "Numerot accounting"
    assert axe_serious(page) == []
    # RP-initiated logout: back at the application, logged out of both.
    page.get_by_role("link", name="Log out").click()
    expect(page.get_by_role("link", name="Log in with Portti")).to_be_visible()
    page.goto("/settings")
    expect(page.get_by_role("heading", name="Log in to Portti")).to_be_visible()
    assert failed == []


@pytest.mark.browser
def test_in_a_browser_a_permission_is_revoked_in_basic_settings(
    page, example_app, tmp_path
) -> None:  # OIDC-4
    """Allowed once, listed in Portti's basic settings, revoked there: the application's session
    ends (back-channel logout) and the next login asks again."""
    from playwright.sync_api import expect

    here, _ = example_app

    def log_in_through_portti() -> None:
        page.goto(here + "/")
        page.get_by_role("link", name="Log in with Portti").click()
        page.get_by_role("button", name="Log in with Finnish bank ID or mobile certificate").click()
        page.get_by_label("Kaisa Mäkinen").check()
        page.get_by_role("button", name="Log in", exact=True).click()

    log_in_through_portti()
    page.get_by_role("button", name="Allow Example").click()
    expect(page.get_by_role("heading", name="Hello, Kaisa Mäkinen")).to_be_visible()

    page.goto("/settings")
    allowed = page.get_by_role("table", name="Applications you have allowed")
    expect(allowed.get_by_role("cell", name="Example", exact=True).first).to_be_visible()
    expect(allowed.get_by_text("companies and roles").first).to_be_visible()
    # (The module's other tests registered their own "Example" on the same server.)
    revoke = page.get_by_role("button", name="Revoke permission of Example")
    while revoke.count():
        revoke.first.click()
        page.wait_for_load_state()
    expect(
        page.get_by_text("You have not allowed any application to use your information.")
    ).to_be_visible()
    page.screenshot(path=str(tmp_path / "settings-permission-revoked.png"), full_page=True)

    # The application is told over the back channel (a worker, within a moment): its session
    # ends.
    deadline = time.monotonic() + 10
    page.goto(here + "/")
    while not page.get_by_role("link", name="Log in with Portti").is_visible():
        assert time.monotonic() < deadline, "the application was not logged out"
        page.wait_for_timeout(200)
        page.goto(here + "/")
    # The next login asks again (Kaisa is still logged in to Portti itself).
    page.get_by_role("link", name="Log in with Portti").click()
    expect(page.get_by_role("heading", name="Allow Example?")).to_be_visible()
    page.screenshot(path=str(tmp_path / "consent-page.png"), full_page=True)


def test_example_app_creates_its_customer_companies_through_the_api_at_start(
    live_db, example_app
) -> None:  # PRV-2
    from portti.audit.models import AuditEvent
    from portti.companies.models import Company

    deadline = time.monotonic() + 20
    companies: list[Company] = []
    while time.monotonic() < deadline:
        live_db.expire_all()
        companies = list(
            live_db.scalars(select(Company).where(Company.external_id.like("numerot-%")))
        )
        if len(companies) == 2:
            break
        time.sleep(0.2)
    assert {(c.external_id, c.name, c.default_language) for c in companies} == {
        ("numerot-1001", "Kirjanpito Koivu Oy", "fi"),
        ("numerot-1002", "Bokföring Björk Ab", "sv"),
    }
    created = live_db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "company_created", AuditEvent.actor_client_id.is_not(None)
        )
    ).all()
    assert len(created) == 2
