"""A phishing site relaying the QR login (SEC-13), performed through HTTP.

The attack: the phisher opens the real login page in a browser of their own, asks it for the code
to type, and shows that code (or the QR code) to the victim on their site; the victim types it
into their app and approves, and the phisher's browser is logged in. Against it:

- the code to type is not on the page until someone asks for it, and expires 30 seconds after;
- the app is shown the country of the browser that asked (from a MaxMind DB file) and the site
  the browser was on, flagged when it is not this service's address.

Every test here runs with a small GeoLite2-style database written by ``support.geoip``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from portti.config import Settings
from support.db import audit_events
from support.geoip import BRITISH_IP, NOT_IN_FILE_IP, SWEDISH_IP, write_country_database
from support.qr import (
    CHROME_ON_WINDOWS,
    TYPED_CODE,
    Panel,
    ask_for_typed_code,
    number_shown,
    open_qr_login,
    problem_code,
    scanned,
    status,
    tx_row,
    typed_code,
)

PHISHING_SITE = "https://portti-login.example"
ANY_CODE = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b")


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The suite's settings with a GeoIP database."""
    database = write_country_database(tmp_path / "geoip" / "countries.mmdb")
    return settings.model_copy(update={"geoip_database": database})


def browser_at(app, ip: str) -> TestClient:  # type: ignore[no-untyped-def]
    """A browser whose requests come from ``ip`` (only the ASGI scope says so: no traffic)."""
    return TestClient(
        app,
        base_url="http://testserver",
        follow_redirects=False,
        client=(ip, 50000),
        headers={"user-agent": CHROME_ON_WINDOWS},
    )


# -- the code to type -------------------------------------------------------------------------


def test_the_code_to_type_is_not_in_the_page_until_asked_for(browser, db):  # SEC-13 WEB-2
    panel = open_qr_login(browser)
    assert ANY_CODE.search(panel.html) is None
    assert TYPED_CODE.search(panel.html) is None
    assert ">Type a code instead</button>" in panel.html
    assert tx_row(db, panel.public_id).short_code_hash is None  # none exists to relay

    shown = ask_for_typed_code(browser, panel)
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    code = TYPED_CODE.search(shown.text)
    assert code, shown.text
    assert 'role="timer"' in shown.text and 'aria-label="Time left to type the code"' in shown.text
    assert 'data-seconds="30"' in shown.text and ">0:30</time>" in shown.text
    assert ">Show a new code</button>" in shown.text
    assert tx_row(db, panel.public_id).short_code_hash is not None


def test_a_relayed_code_older_than_30_seconds_is_refused(
    app, phone, db, settings, clock
):  # SEC-13 WEB-2
    phisher = browser_at(app, SWEDISH_IP)
    panel = open_qr_login(phisher)
    relayed = typed_code(phisher, panel)
    clock.advance(timedelta(seconds=30))  # the victim reads it off the phishing page and types it
    r = phone.type_code(relayed)
    assert r.status_code == 410 and problem_code(r) == "login_code_expired"
    assert "Show a new code" in r.json()["next_step"]
    assert status(phisher, panel.public_id)["status"] == "pending"  # nobody was asked to approve
    assert phone.pending() == []
    [event] = audit_events(db, "login_failed")
    assert event.details["reason"] == "code_expired"
    assert event.details["approval"] == panel.public_id


def test_a_code_typed_within_30_seconds_works(browser, phone, clock):  # SEC-13 WEB-2 UX-23
    panel = open_qr_login(browser)
    code = typed_code(browser, panel)
    # The test clock runs on real time too: leave a margin for a slow machine.
    clock.advance(timedelta(seconds=25))
    r = phone.type_code(code)
    assert r.status_code == 200, r.text
    assert r.json()["approval_id"] == panel.public_id
    assert status(browser, panel.public_id)["status"] == "scanned"
    # The page says what is true of a typed code as of a read one (nothing was "read").
    frame = browser.get(f"/login/qr/{panel.public_id}/frame")
    assert "The app has the code." in frame.text and "has read" not in frame.text


def test_show_a_new_code_replaces_the_old_one_at_once(browser, phone, clock):  # SEC-13 WEB-2
    panel = open_qr_login(browser)
    first = typed_code(browser, panel)
    clock.advance(timedelta(seconds=40))
    second = typed_code(browser, panel)
    assert second != first
    old = phone.type_code(first)
    assert old.status_code == 400 and problem_code(old) == "login_code_unknown"
    assert phone.type_code(second).status_code == 200


def test_the_code_never_outlives_the_login(browser, db, clock):  # SEC-13 WEB-1
    panel = open_qr_login(browser)
    clock.advance(timedelta(seconds=110))
    shown = ask_for_typed_code(browser, panel)
    assert 'data-seconds="10"' in shown.text
    tx = tx_row(db, panel.public_id)
    assert tx.short_code_expires_at == tx.expires_at


def test_only_the_browser_showing_the_qr_code_gets_a_code_to_type(
    browser, app, phone, db, settings, clock
):  # SEC-13 WEB-2
    panel = open_qr_login(browser)
    stranger = browser_at(app, BRITISH_IP)
    page = stranger.get("/login", headers={"accept": "text/html"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    r = stranger.post(
        f"/login/qr/{panel.public_id}/code",
        headers={"X-CSRF-Token": token.group(1), "HX-Request": "true"},
    )
    assert r.status_code == 404
    # Once the app has read the QR code, the page offers no code any more.
    scanned(phone, db, settings, clock, panel)
    after = ask_for_typed_code(browser, panel)
    assert after.status_code == 200 and "The app has the code." in after.text
    assert TYPED_CODE.search(after.text) is None


def test_asking_for_codes_is_limited(browser):  # SEC-13
    panel = open_qr_login(browser)
    answers = [ask_for_typed_code(browser, panel).status_code for _ in range(11)]
    assert answers[:10] == [200] * 10 and answers[10] == 429


# -- what the app shows --------------------------------------------------------------------------


def test_the_app_shows_the_country_of_a_relaying_browser(
    app, phone, db, settings, clock
):  # SEC-13 WEB-2
    phisher = browser_at(app, SWEDISH_IP)
    panel = open_qr_login(phisher)
    asking = scanned(phone, db, settings, clock, panel)
    assert asking["place"] == "Sweden" and asking["country"] == "SE"
    # The same in the list of what waits, and in the approval itself.
    assert phone.pending()[0]["place"] == "Sweden"
    one = phone.http.get(f"/app-api/v1/login-approvals/{panel.public_id}", headers=phone.auth)
    assert one.json()["place"] == "Sweden"


def test_an_address_not_in_the_file_is_unknown_and_a_local_one_this_network(
    app, phone, db, settings, clock
):  # SEC-13 WEB-2
    far = browser_at(app, NOT_IN_FILE_IP)
    asking = scanned(phone, db, settings, clock, open_qr_login(far))
    assert asking["place"] == "Unknown" and asking["country"] is None
    phone.reject(asking["approval_id"])
    near = browser_at(app, "192.168.1.20")
    asking = scanned(phone, db, settings, clock, open_qr_login(near))
    assert asking["place"] == "This network" and asking["country"] is None


def test_the_app_shows_the_site_the_browser_was_on(
    browser, phone, db, settings, clock
):  # SEC-13 WEB-2
    panel = open_qr_login(browser)
    asking = scanned(phone, db, settings, clock, panel)
    assert asking["origin"] == "http://testserver"
    assert asking["service_origin"] == "http://testserver"
    assert asking["origin_matches"] is True


def test_a_login_relayed_through_a_phishing_site_shows_its_address_and_is_flagged(
    app, phone, db, settings, clock
):  # SEC-13 WEB-2
    """A reverse proxy on the phishing site's name passes the victim's browser's requests on
    with its own Host: the Origin the browser sent is the phishing site's, and the app says so."""
    victim_browser = browser_at(app, BRITISH_IP)
    panel = open_qr_login(
        victim_browser, headers={"Origin": PHISHING_SITE, "Host": "portti-login.example"}
    )
    asking = scanned(phone, db, settings, clock, panel)
    assert asking["origin"] == PHISHING_SITE
    assert asking["service_origin"] == "http://testserver"
    assert asking["origin_matches"] is False
    assert asking["place"] == "United Kingdom" and asking["country"] == "GB"
    # The scan's audit row keeps the site too.
    [event] = audit_events(db, "login_qr_scanned")
    assert event.details["origin"] == PHISHING_SITE
    # The person says "This wasn't me": the relayed login ends.
    assert phone.reject(panel.public_id).json()["status"] == "rejected"


def test_a_request_from_another_site_than_the_host_it_names_is_refused(app):  # SEC-13
    """What a relay cannot do: name a foreign Origin to a server it reaches under the service's
    own name (the CSRF check refuses it, and nothing is started)."""
    browser = browser_at(app, BRITISH_IP)
    page = browser.get("/login", headers={"accept": "text/html"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    r = browser.post(
        "/login/qr",
        data={"next": "/"},
        headers={"X-CSRF-Token": token.group(1), "HX-Request": "true", "Origin": PHISHING_SITE},
    )
    assert r.status_code == 403


def test_a_start_without_an_origin_is_shown_as_an_unknown_site(
    browser, phone, db, settings, clock
):  # SEC-13 WEB-2
    page = browser.get("/login", headers={"accept": "text/html"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    r = browser.post(
        "/login/qr", data={"next": "/"}, headers={"X-CSRF-Token": token.group(1)}
    )  # a script, not a page: no Origin
    assert r.status_code == 200
    public_id = re.search(r'data-status="/login/qr/([A-Za-z0-9_-]+)/status"', r.text)
    assert public_id
    tx = tx_row(db, public_id.group(1))
    assert tx.origin is None
    asking = scanned(phone, db, settings, clock, Panel.parse(r.text))
    assert asking["origin"] is None and asking["origin_matches"] is False


def test_a_login_by_typed_code_shows_the_site_and_country_too(
    app, phone, db, clock
):  # SEC-13 WEB-2
    phisher = browser_at(app, SWEDISH_IP)
    panel = open_qr_login(phisher)
    r = phone.type_code(typed_code(phisher, panel))
    assert r.status_code == 200, r.text
    asking = r.json()
    assert asking["place"] == "Sweden" and asking["origin"] == "http://testserver"
    assert phone.approve(panel.public_id, number_shown(phisher, panel)).status_code == 200
