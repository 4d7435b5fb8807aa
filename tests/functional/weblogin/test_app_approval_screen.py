"""What the app's approval screen is told, through HTTP: the business application that asked
(UX-14), the browser and place in the phone's language (UX-17), and a login asked for on a
look-alike site, which cannot be approved at all (SEC-16)."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from portti_app.cli import answer_request
from portti_app.client import AppClient
from support.db import audit_events
from support.devices import PIN
from support.oidc import query_of, register, relying_party
from support.qr import (
    API,
    frame,
    number_shown,
    open_qr_login,
    problem_code,
    reference_app_state,
    scanned,
    status,
)
from support.web import local

LOOK_ALIKE = "https://portti-login.example"


def approval_in(phone: Any, approval_id: str, language: str) -> dict[str, Any]:
    r = phone.http.get(
        f"{API}/login-approvals/{approval_id}",
        headers={**phone.auth, "Accept-Language": language},
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def test_a_login_asked_for_by_a_business_application_names_it(
    browser, phone, db, settings, clock
):  # UX-14
    reg = register(db, clock, settings.secret)
    rp = relying_party(browser._transport, "http://testserver", reg)
    start = browser.get(local(rp.authorization_url()))
    assert start.status_code == 303, start.text
    next_ = query_of(start.headers["location"])["next"]
    asking = scanned(phone, db, settings, clock, open_qr_login(browser, next_))
    assert asking["client_name"] == "Numerot accounting"
    assert asking["service"] == "Portti"
    assert phone.pending()[0]["client_name"] == "Numerot accounting"


def test_a_login_on_portti_itself_or_with_a_made_up_request_names_no_application(
    browser, phone, db, settings, clock
):  # UX-14
    asking = scanned(phone, db, settings, clock, open_qr_login(browser))
    assert asking["client_name"] is None
    phone.reject(asking["approval_id"])
    made_up = open_qr_login(browser, "/oidc/continue?r=not-a-parked-request")
    assert scanned(phone, db, settings, clock, made_up)["client_name"] is None


def test_the_browser_and_place_are_in_the_phones_language(
    browser, phone, db, settings, clock
):  # UX-17
    asking = scanned(phone, db, settings, clock, open_qr_login(browser))
    assert (asking["browser"], asking["place"]) == ("Chrome on Windows", "This network")
    fi = approval_in(phone, asking["approval_id"], "fi")
    assert (fi["browser"], fi["place"]) == ("Chrome (Windows)", "Tämä verkko")
    sv = approval_in(phone, asking["approval_id"], "sv")
    assert (sv["browser"], sv["place"]) == ("Chrome på Windows", "Det här nätverket")


def test_a_login_asked_for_on_a_look_alike_site_cannot_be_approved(
    app, browser, phone, db, settings, clock
):  # SEC-16
    panel = open_qr_login(browser, headers={"Origin": LOOK_ALIKE, "Host": "portti-login.example"})
    asking = scanned(phone, db, settings, clock, panel)
    assert asking["origin"] == LOOK_ALIKE and asking["origin_matches"] is False
    number = number_shown(browser, panel)
    # The right number and the right PIN: still refused, and the login is over.
    r = phone.approve(panel.public_id, number, nonce=asking["challenge"]["nonce"])
    assert r.status_code == 403 and problem_code(r) == "origin_mismatch", r.text
    problem = r.json()
    assert problem["origin"] == LOOK_ALIKE and problem["service_origin"] == "http://testserver"
    assert LOOK_ALIKE in problem["detail"] and "user administrator" in problem["next_step"]
    assert status(browser, panel.public_id)["status"] == "rejected"
    [event] = [e for e in audit_events(db, "login_failed") if e.details.get("reason")]
    assert event.details["reason"] == "origin_mismatch"
    assert phone.pending() == []
    # The refusal was not a wrong PIN: the next login is approved with the same PIN.
    good = open_qr_login(browser)
    asking = scanned(phone, db, settings, clock, good)
    ok = phone.approve(good.public_id, number_shown(browser, good))
    assert ok.status_code == 200, ok.text


def test_a_login_from_a_page_that_gave_no_address_can_still_be_approved(
    browser, phone, db, settings, clock
):  # SEC-16
    """No ``Origin`` (a script, or a browser that withheld it): the app asks the person to
    confirm deliberately, and the server accepts the approval."""
    panel = open_qr_login(browser, headers={"Origin": "null"})
    asking = scanned(phone, db, settings, clock, panel)
    assert asking["origin"] is None and asking["origin_matches"] is False
    r = phone.approve(panel.public_id, number_shown(browser, panel))
    assert r.status_code == 200, r.text


def test_the_reference_client_never_approves_a_login_from_another_site(
    browser, phone, db, settings, clock, tmp_path, capsys
):  # SEC-16
    panel = open_qr_login(browser, headers={"Origin": LOOK_ALIKE, "Host": "portti-login.example"})
    state = reference_app_state(tmp_path / "app", "http://testserver", phone)
    with AppClient("http://testserver", state, http=phone.http) as app_client:
        asking = app_client.scan_qr(frame(db, settings, clock, panel))
        with pytest.raises(typer.Exit) as exited:
            answer_request(app_client, asking, number_shown(browser, panel), PIN, False)
    assert exited.value.exit_code == 1
    assert "cannot be approved" in " ".join(capsys.readouterr().err.split())
    assert status(browser, panel.public_id)["status"] == "rejected"
    assert not audit_events(db, "login_approved_in_app")


def test_the_reference_client_approves_a_login_without_an_address_only_when_told(
    browser, phone, db, settings, clock, tmp_path, capsys
):  # SEC-16
    panel = open_qr_login(browser, headers={"Origin": "null"})
    state = reference_app_state(tmp_path / "app", "http://testserver", phone)
    with AppClient("http://testserver", state, http=phone.http) as app_client:
        asking = app_client.scan_qr(frame(db, settings, clock, panel))
        number = number_shown(browser, panel)
        with pytest.raises(typer.Exit):
            answer_request(app_client, asking, number, PIN, False)
        assert "--i-opened-the-site" in capsys.readouterr().err
        assert status(browser, panel.public_id)["status"] == "scanned"  # still open
        answer_request(app_client, asking, number, PIN, False, opened_the_site=True)
    assert status(browser, panel.public_id)["status"] == "approved"
