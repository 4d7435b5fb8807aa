"""Logging in on a computer by scanning the login page's QR code with the app (WEB-1, WEB-2),
the company choice after it (WEB-3), and "Authenticate to add users" by the app (ADM-2)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from portti.qrlogin.frames import QrFrames, render_qr_svg
from portti.weblogin.models import LoginTransaction, WebSession
from portti.weblogin.sessions import hash_token
from support import factories as f
from support.db import audit_actions, audit_events, fresh
from support.devices import PIN
from support.qr import (
    EventListener,
    Panel,
    Phone,
    complete,
    frame,
    number_shown,
    open_qr_login,
    phone_of,
    problem_code,
    reference_app_state,
    scanned,
    status,
    tx_row,
    typed_code,
)
from support.web import HTML, another_browser, login, page_csrf, session_cookie

# -- the QR code ---------------------------------------------------------------------------


def test_login_page_asks_for_a_qr_code_once_it_has_loaded(client):  # WEB-1
    page = client.get("/login", headers=HTML)
    assert 'hx-post="/login/qr"' in page.text and 'hx-trigger="load"' in page.text
    assert '<script type="module" src="/static/qr.js"></script>' in page.text
    assert "<script>" not in page.text  # CSP: script-src 'self', no inline scripts
    assert fresh_count(client) == 0  # showing the page starts nothing


def fresh_count(client) -> int:  # type: ignore[no-untyped-def]
    factory = client.app.state.runtime.session_factory
    with factory() as db:
        return int(db.scalar(select(func.count()).select_from(LoginTransaction)) or 0)


def test_qr_panel_is_an_accessible_inline_svg_with_a_code_to_type_on_request(browser):  # WEB-1
    panel = open_qr_login(browser)
    svg = re.search(r"<svg[^>]*>.*?</svg>", panel.html, re.S)
    assert svg, panel.html
    assert "<?xml" not in panel.html
    assert 'role="img"' in svg.group(0)
    assert 'aria-label="QR code for logging in with the Portti app"' in svg.group(0)
    assert "<title>QR code for logging in with the Portti app</title>" in svg.group(0)
    assert f'hx-post="/login/qr/{panel.public_id}/code"' in panel.html
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", typed_code(browser, panel))
    assert 'hx-get="/login/qr/' in panel.html and 'hx-trigger="every 1s"' in panel.html


def test_binding_cookie_is_httponly_lax_and_for_this_transaction_only(browser):  # WEB-2
    page = browser.get("/login", headers=HTML)
    from support.web import csrf_from

    r = browser.post("/login/qr", data={"next": "/"}, headers={"X-CSRF-Token": csrf_from(page)})
    panel = Panel.parse(r.text)
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("portti_qr=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert f"Path=/login/qr/{panel.public_id}" in cookie


def test_qr_code_changes_every_second_and_encodes_the_current_frame(
    browser, db, settings, clock
):  # WEB-1
    panel = open_qr_login(browser)
    first = browser.get(f"/login/qr/{panel.public_id}/frame")
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    assert first.text == render_qr_svg(frame(db, settings, clock, panel))
    clock.advance(timedelta(seconds=1))
    second = browser.get(f"/login/qr/{panel.public_id}/frame")
    assert second.text != first.text
    assert second.text == render_qr_svg(frame(db, settings, clock, panel))


def test_frame_payload_is_versioned_and_carries_a_time_based_mac(
    browser, db, settings, clock
):  # WEB-1
    panel = open_qr_login(browser)
    payload = frame(db, settings, clock, panel)
    version, public_id, elapsed, mac = payload.split(".")
    assert version == "portti1" and public_id == panel.public_id
    assert re.fullmatch(r"[0-9a-f]{16}", mac)
    assert QrFrames(settings.secret).payload(public_id, int(elapsed) + 1) != payload


def test_a_frame_replayed_10_seconds_later_is_refused(browser, phone, db, settings, clock):  # WEB-1
    panel = open_qr_login(browser)
    photographed = frame(db, settings, clock, panel)
    clock.advance(timedelta(seconds=10))
    r = phone.scan(photographed)
    assert r.status_code == 400 and problem_code(r) == "qr_stale"
    assert status(browser, panel.public_id)["status"] == "pending"
    # What the page shows now still works.
    assert phone.scan(frame(db, settings, clock, panel)).status_code == 200


def test_a_frame_a_few_seconds_old_is_accepted_and_one_older_is_not(
    browser, phone, db, settings, clock
):  # WEB-1
    panel = open_qr_login(browser)
    clock.advance(timedelta(seconds=20))
    too_old = frame(db, settings, clock, panel, seconds_ago=6)
    assert problem_code(phone.scan(too_old)) == "qr_stale"
    slow_camera = frame(db, settings, clock, panel, seconds_ago=5)
    assert phone.scan(slow_camera).status_code == 200


@pytest.mark.parametrize(
    "mangle",
    [
        lambda p: p[:-1] + ("0" if p[-1] != "0" else "1"),  # a forged MAC
        lambda p: "portti1.AAAAAAAAAAAAAAAAAAAAAA." + p.split(".", 2)[2],  # unknown id
        lambda p: "https://example.com/" + p,
        lambda p: "",
    ],
)
def test_a_forged_or_foreign_code_is_refused_without_saying_why(
    mangle, browser, phone, db, settings, clock
):  # WEB-1
    panel = open_qr_login(browser)
    r = phone.scan(mangle(frame(db, settings, clock, panel)))
    assert r.status_code in (400, 422)
    if r.status_code == 400:
        assert problem_code(r) == "qr_invalid"
    assert status(browser, panel.public_id)["status"] == "pending"


def test_only_the_browser_that_shows_the_code_may_watch_it(browser, app):  # WEB-2
    panel = open_qr_login(browser)
    stranger = another_browser(app)
    for path in ("frame", "status", "events"):
        r = stranger.get(f"/login/qr/{panel.public_id}/{path}")
        assert r.status_code == 404, path


# -- logging in ------------------------------------------------------------------------------


def test_scan_tells_the_app_what_is_asking_and_the_browser_the_number(
    browser, phone, db, settings, clock
):  # WEB-2
    panel = open_qr_login(browser)
    assert status(browser, panel.public_id)["number"] is None  # nothing to pick before a scan
    asking = scanned(phone, db, settings, clock, panel)
    assert asking["approval_id"] == panel.public_id
    assert asking["purpose"] == "login"
    assert asking["service"] == "Portti"
    assert asking["browser"] == "Chrome on Windows"
    assert asking["place"] == "This network"
    assert asking["status"] == "scanned"
    number = number_shown(browser, panel)
    assert len(asking["numbers"]) == 3 and number in asking["numbers"]
    assert len(set(asking["numbers"])) == 3
    assert all(10 <= n <= 99 for n in asking["numbers"])
    # The QR code stops changing once read (htmx stops polling on 286).
    r = browser.get(f"/login/qr/{panel.public_id}/frame")
    assert r.status_code == 286 and "The app has the code." in r.text


def test_approval_with_pin_logs_in_only_the_browser_that_showed_the_code(
    browser, phone, db, settings, clock, kadri
):  # WEB-1, WEB-2, WEB-3
    panel = open_qr_login(browser)
    scanned(phone, db, settings, clock, panel)
    r = phone.approve(panel.public_id, number_shown(browser, panel))
    assert r.status_code == 200, r.text
    assert r.json() == {"approval_id": panel.public_id, "status": "approved"}
    assert status(browser, panel.public_id)["status"] == "approved"

    done = complete(browser, panel)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/companies"
    token = session_cookie(browser)
    assert token
    ws = fresh(db).get(WebSession, hash_token(token))
    assert ws is not None and ws.person_id == kadri.id and ws.login_method == "app_qr"
    assert ws.strong_auth_at is None  # ADM-2: a login is not a step-up
    # WEB-3: her one valid company is chosen for her, and the page shows who is logged in.
    home = browser.get("/companies", headers=HTML)
    assert home.status_code == 303 and home.headers["location"] == "/home"
    page = browser.get("/home", headers=HTML)
    assert "Kadri Tamm" in page.text and "Tamm Konsult Oy" in page.text
    assert tx_row(db, panel.public_id).status == "completed"
    actions = audit_actions(db, subject_person_id=kadri.id)
    assert actions[-3:] == ["login_qr_scanned", "login_approved_in_app", "login_succeeded"]
    assert audit_events(db, "login_succeeded")[-1].details["method"] == "app_qr"


def test_another_browser_without_the_cookie_cannot_complete(
    browser, app, phone, db, settings, clock, kadri
):  # WEB-2
    panel = open_qr_login(browser)
    scanned(phone, db, settings, clock, panel)
    assert phone.approve(panel.public_id, number_shown(browser, panel)).status_code == 200
    thief = another_browser(app)
    thief.get("/login", headers=HTML)
    stolen = Panel(panel.public_id, thief.get("/login", headers=HTML).text)
    r = complete(thief, stolen)
    assert r.status_code == 403 and "browser that showed the QR code" in r.text
    assert session_cookie(thief) is None
    failed = audit_events(db, "login_failed")[-1]
    assert failed.details["reason"] == "browser_mismatch"
    # The browser that showed it still gets its session.
    assert complete(browser, panel).status_code == 303 and session_cookie(browser)


def test_completing_twice_is_refused(browser, phone, db, settings, clock):  # WEB-2
    panel = open_qr_login(browser)
    scanned(phone, db, settings, clock, panel)
    phone.approve(panel.public_id, number_shown(browser, panel))
    binding = browser.cookies.get("portti_qr", path=f"/login/qr/{panel.public_id}")
    assert complete(browser, panel).status_code == 303
    browser.cookies.set("portti_qr", binding, path=f"/login/qr/{panel.public_id}")
    again = browser.post(
        f"/login/qr/{panel.public_id}/complete",
        data={"csrf_token": page_csrf(browser)},
        headers={"accept": "application/json"},
    )
    assert again.status_code == 409 and problem_code(again) == "approval_used"


def test_a_second_approval_of_the_same_login_is_refused(
    browser, phone, db, settings, clock
):  # WEB-2
    panel = open_qr_login(browser)
    scanned(phone, db, settings, clock, panel)
    number = number_shown(browser, panel)
    assert phone.approve(panel.public_id, number).status_code == 200
    again = phone.approve(panel.public_id, number)
    assert again.status_code == 409 and problem_code(again) == "approval_used"


def test_biometrics_approve_too(browser, app, db, settings, clock, kadri):  # WEB-2
    phone = phone_of(app, db, settings, clock, kadri, biometrics=True)
    panel = open_qr_login(browser)
    scanned(phone, db, settings, clock, panel)
    r = phone.approve(panel.public_id, number_shown(browser, panel), biometric=True)
    assert r.status_code == 200, r.text


def test_a_wrong_pin_is_counted_and_the_login_still_waits(
    browser, phone, db, settings, clock
):  # WEB-2, APP-4
    panel = open_qr_login(browser)
    scanned(phone, db, settings, clock, panel)
    number = number_shown(browser, panel)
    wrong = phone.approve(panel.public_id, number, pin="975310")
    assert wrong.status_code == 400 and problem_code(wrong) == "pin_wrong"
    assert audit_events(db, "pin_failed")[-1].details["purpose"] == "approve_login"
    assert status(browser, panel.public_id)["status"] == "scanned"
    assert phone.approve(panel.public_id, number).status_code == 200


def test_a_signature_for_another_login_does_not_approve_this_one(
    browser, app, phone, db, settings, clock
):  # WEB-2, APP-4
    panel = open_qr_login(browser)
    scanned(phone, db, settings, clock, panel)
    ch = phone.http.post(
        f"/app-api/v1/devices/{phone.sim.public_id}/challenges",
        json={"purpose": "approve_login", "context": "some-other-login"},
    ).json()
    r = phone.http.post(
        f"/app-api/v1/login-approvals/{panel.public_id}/approve",
        json={
            "nonce": ch["nonce"],
            "signature": phone.sim.sign("approve_login", ch["nonce"], "some-other-login"),
            "pin": phone.pin,
            "number": number_shown(browser, panel),
        },
        headers=phone.auth,
    )
    assert r.status_code == 400 and problem_code(r) == "nonce_invalid"
    assert status(browser, panel.public_id)["status"] == "scanned"


def test_the_wrong_number_refuses_the_login_and_ends_it(
    browser, phone, db, settings, clock, kadri
):  # WEB-2
    panel = open_qr_login(browser)
    asking = scanned(phone, db, settings, clock, panel)
    number = number_shown(browser, panel)
    wrong = next(n for n in asking["numbers"] if n != number)
    r = phone.approve(panel.public_id, wrong)
    assert r.status_code == 403 and problem_code(r) == "number_mismatch"
    shown = status(browser, panel.public_id)
    assert shown["status"] == "rejected" and shown["reason"] == "number_mismatch"
    retry = phone.approve(panel.public_id, number)
    assert retry.status_code == 410 and problem_code(retry) == "login_ended"
    assert complete(browser, panel).status_code == 410
    assert audit_events(db, "login_failed")[-1].details["reason"] == "number_mismatch"


def test_this_wasnt_me_refuses_the_login_and_is_audited(
    browser, phone, db, settings, clock, kadri
):  # WEB-2
    panel = open_qr_login(browser)
    scanned(phone, db, settings, clock, panel)
    r = phone.reject(panel.public_id)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    shown = status(browser, panel.public_id)
    assert shown == {"status": "rejected", "number": None, "reason": "not_me", "expires_in": 0}
    assert complete(browser, panel).status_code == 410
    event = audit_events(db, "login_rejected_in_app")[-1]
    assert event.subject_person_id == kadri.id
    assert event.details["approval"] == panel.public_id
    assert event.details["browser"] == "Chrome on Windows"
    assert event.details["ip"] == "192.168.1.20"


def test_the_login_expires_after_2_minutes(browser, phone, db, settings, clock):  # WEB-1
    panel = open_qr_login(browser)
    clock.advance(timedelta(seconds=119))
    assert status(browser, panel.public_id)["status"] == "pending"
    clock.advance(timedelta(seconds=1))
    assert status(browser, panel.public_id)["status"] == "expired"
    r = phone.scan(frame(db, settings, clock, panel))
    assert r.status_code == 410 and problem_code(r) == "login_expired"
    assert browser.get(f"/login/qr/{panel.public_id}/frame").status_code == 286
    assert 'data-qr-restart hidden hx-post="/login/qr"' in panel.html  # "Get a new code"


def test_a_scanned_login_not_approved_in_2_minutes_expires(
    browser, phone, db, settings, clock
):  # WEB-1
    panel = open_qr_login(browser)
    scanned(phone, db, settings, clock, panel)
    number = number_shown(browser, panel)
    clock.advance(timedelta(minutes=2))
    r = phone.approve(panel.public_id, number)
    assert r.status_code == 410 and problem_code(r) == "login_expired"
    assert tx_row(db, panel.public_id).status == "expired"


def test_a_person_has_one_pending_approval_at_a_time(
    browser, app, phone, db, settings, clock, kadri
):  # WEB-2
    first = open_qr_login(browser)
    scanned(phone, db, settings, clock, first)
    second_browser = another_browser(app)
    second = open_qr_login(second_browser)
    scanned(phone, db, settings, clock, second)
    shown = status(browser, first.public_id)
    assert shown["status"] == "rejected" and shown["reason"] == "replaced"
    open_ones = fresh(db).scalar(
        select(func.count())
        .select_from(LoginTransaction)
        .where(
            LoginTransaction.person_id == kadri.id,
            LoginTransaction.status.in_(["pending", "scanned"]),
        )
    )
    assert open_ones == 1
    assert [a["approval_id"] for a in phone.pending()] == [second.public_id]
    old = phone.approve(first.public_id, 10)
    assert old.status_code == 410 and problem_code(old) == "login_ended"


def test_a_code_read_by_one_app_cannot_be_taken_over_by_another(
    browser, app, phone, db, settings, clock
):  # WEB-2
    panel = open_qr_login(browser)
    scanned(phone, db, settings, clock, panel)
    other = phone_of(app, db, settings, clock, f.person(db, "Olli", "Other"))
    r = other.scan(frame(db, settings, clock, panel))
    assert r.status_code == 409 and problem_code(r) == "login_already_scanned"
    steal = other.approve(panel.public_id, number_shown(browser, panel))
    assert steal.status_code == 404 and problem_code(steal) == "approval_unknown"


def test_the_code_can_be_typed_instead_of_scanned(browser, phone):  # WEB-2
    panel = open_qr_login(browser)
    code = typed_code(browser, panel)
    typed = code.lower().replace("-", " ").replace("1", "l").replace("0", "o")
    r = phone.type_code(typed)
    assert r.status_code == 200, r.text
    assert r.json()["approval_id"] == panel.public_id
    assert status(browser, panel.public_id)["status"] == "scanned"


def test_wrong_typed_codes_are_refused_and_limited(browser, phone):  # WEB-2
    open_qr_login(browser)
    codes = [phone.type_code("ZZZZ-ZZZZ") for _ in range(11)]
    assert {problem_code(r) for r in codes[:10]} == {"login_code_unknown"}
    assert codes[10].status_code == 429
    assert phone.type_code("not a code at all").status_code in (400, 429)


def test_a_locked_app_cannot_scan(browser, phone, db, settings, clock):  # WEB-2, APP-6
    panel = open_qr_login(browser)
    phone.http.post("/app-api/v1/session/lock", headers=phone.auth)
    r = phone.scan(frame(db, settings, clock, panel))
    assert r.status_code == 401 and problem_code(r) == "app_locked"


# -- server push ---------------------------------------------------------------------------


def test_the_browser_hears_the_scan_and_the_approval_at_once(
    browser, phone, db, settings, clock
):  # WEB-1
    panel = open_qr_login(browser)
    listener = EventListener(browser, panel.public_id).start()
    listener.wait_for("pending")
    assert listener.status_code == 200
    assert listener.content_type and listener.content_type.startswith("text/event-stream")
    scanned(phone, db, settings, clock, panel)
    _, event = listener.wait_for("scanned", timeout=2)
    assert event["number"] == number_shown(browser, panel)
    sent = time.perf_counter()
    assert phone.approve(panel.public_id, event["number"]).status_code == 200
    heard, _ = listener.wait_for("approved", timeout=2)
    assert heard - sent < 1.0
    listener.join()
    assert listener.statuses() == ["pending", "scanned", "approved"]  # then the stream ends


def test_the_event_stream_rereads_the_database_when_an_event_is_lost(
    browser, app, phone, db, settings, clock
):  # WEB-1, OPS-2
    """As when the approval went through another instance and its message never arrived."""

    class Deaf:
        def publish_threadsafe(self, channel: str, message: str) -> None:
            pass

    listener = None
    panel = open_qr_login(browser)
    listener = EventListener(browser, panel.public_id).start()
    listener.wait_for("pending")
    real = app.state.runtime.events
    app.state.runtime.events = Deaf()
    try:
        scanned(phone, db, settings, clock, panel)
        number = number_shown(browser, panel)
    finally:
        app.state.runtime.events = real
    # The re-check, every settings.qr_recheck_seconds (0.2 s here).
    _, event = listener.wait_for("scanned", timeout=2)
    assert event["number"] == number


# -- step-up by the app (ADM-2) ---------------------------------------------------------------


@pytest.fixture
def kh_phone(app, db, settings, clock, world) -> Phone:  # type: ignore[no-untyped-def]
    return phone_of(app, db, settings, clock, world.kh_a)


def start_app_step_up(client: TestClient, next_: str = "/c/1/users") -> Panel:
    page = client.get(f"/step-up?next={next_}", headers=HTML)
    assert page.status_code == 200
    assert 'hx-post="/login/qr/step-up"' in page.text
    assert "Authenticate with the Portti app" in page.text
    r = client.post(
        "/login/qr/step-up",
        data={"next": next_},
        headers={"X-CSRF-Token": page_csrf(client, f"/step-up?next={next_}"), **HTML},
    )
    assert r.status_code == 200, r.text
    return Panel.parse(r.text)


def test_step_up_by_app_push_records_a_fresh_strong_authentication(
    client, kh_phone, world, db
):  # ADM-2 SEC-11
    assert login(client, world.kh_a).status_code == 303
    before = session_cookie(client)
    panel = start_app_step_up(client)
    shown = status(client, panel.public_id)
    assert shown["status"] == "pending" and shown["number"] is not None  # at once: push
    waiting = kh_phone.pending()
    assert [w["approval_id"] for w in waiting] == [panel.public_id]
    assert waiting[0]["purpose"] == "step_up"
    assert shown["number"] in waiting[0]["numbers"]
    r = kh_phone.approve(panel.public_id, shown["number"])
    assert r.status_code == 200, r.text
    done = complete(client, panel)
    assert done.status_code == 303 and done.headers["location"] == "/c/1/users"
    ws = fresh(db).get(WebSession, hash_token(session_cookie(client) or ""))
    assert ws is not None and ws.strong_auth_method == "app" and ws.strong_auth_at is not None
    # The step-up rotated the session: the token from before it no longer works.
    assert before and session_cookie(client) != before
    old = fresh(db).get(WebSession, hash_token(before))
    assert old is not None and old.revoked_at is not None
    event = audit_events(db, "step_up_succeeded")[-1]
    assert event.details["method"] == "app" and event.actor_person_id == world.kh_a.id


def test_step_up_qr_can_be_scanned_by_the_persons_own_app_only(
    client, app, kh_phone, world, db, settings, clock
):  # ADM-2
    login(client, world.kh_a)
    panel = start_app_step_up(client)
    someone = phone_of(app, db, settings, clock, world.employee_a)
    r = someone.scan(frame(db, settings, clock, panel))
    assert r.status_code == 404 and problem_code(r) == "approval_unknown"
    assert someone.pending() == []
    stolen = someone.approve(panel.public_id, status(client, panel.public_id)["number"])
    assert stolen.status_code == 404
    asking = kh_phone.scan(frame(db, settings, clock, panel)).json()
    assert asking["purpose"] == "step_up"
    assert (
        kh_phone.approve(panel.public_id, status(client, panel.public_id)["number"]).status_code
        == 200
    )


def test_step_up_is_for_the_session_that_asked(client, app, kh_phone, world, db):  # ADM-2
    login(client, world.kh_a)
    panel = start_app_step_up(client)
    kh_phone.approve(panel.public_id, status(client, panel.public_id)["number"])
    # The same person in another browser, holding this browser's cookie too, gets nothing.
    other = another_browser(app)
    login(other, world.kh_a)
    binding = client.cookies.get("portti_qr", path=f"/login/qr/{panel.public_id}")
    other.cookies.set("portti_qr", binding, path=f"/login/qr/{panel.public_id}")
    r = other.post(
        f"/login/qr/{panel.public_id}/complete",
        data={"csrf_token": page_csrf(other)},
        headers=HTML,
    )
    assert r.status_code == 403
    ws = fresh(db).get(WebSession, hash_token(session_cookie(other) or ""))
    assert ws is not None and ws.strong_auth_at is None
    assert audit_events(db, "step_up_failed")[-1].details["reason"] == "session_mismatch"


def test_step_up_without_an_app_says_so(client, world):  # ADM-2
    login(client, world.kh_a)
    page = client.get("/step-up?next=/", headers=HTML)
    r = client.post(
        "/login/qr/step-up",
        data={"next": "/"},
        headers={"X-CSRF-Token": page_csrf(client, "/step-up?next=/")},
    )
    assert r.status_code == 200 and "no Portti app in use" in r.text
    assert page.status_code == 200


def test_step_up_needs_a_logged_in_session(client):  # ADM-2
    page = client.get("/login", headers=HTML)
    from support.web import csrf_from

    r = client.post(
        "/login/qr/step-up",
        data={"next": "/"},
        headers={"X-CSRF-Token": csrf_from(page), "accept": "application/json"},
    )
    assert r.status_code == 401


def test_the_app_api_is_documented_with_operation_ids(client):  # WEB-2
    spec = client.get("/api/openapi.json").json()
    ops = {
        op["operationId"]
        for path, item in spec["paths"].items()
        if path.startswith("/app-api/v1/login-approvals")
        for op in item.values()
    }
    assert ops == {
        "scan_login_qr",
        "enter_login_code",
        "list_pending_approvals",
        "get_login_approval",
        "approve_login",
        "reject_login",
    }


def test_the_database_holds_to_one_open_approval_per_person(db, kadri):  # WEB-2
    """Even if two requests raced past the service's check."""
    from datetime import UTC, datetime

    from sqlalchemy.exc import IntegrityError

    now = datetime.now(UTC)

    def row(n: int, status_: str) -> LoginTransaction:
        return LoginTransaction(
            public_id=f"race{n}" + "x" * 16,
            status=status_,
            browser_binding_hash="0" * 64,
            short_code_hash=f"{n}" * 64,
            number=42,
            number_choices="17,42,86",
            person_id=kadri.id,
            created_at=now,
            expires_at=now + timedelta(minutes=2),
        )

    db.add_all([row(1, "scanned"), row(2, "approved"), row(3, "rejected")])
    db.commit()
    db.add(row(4, "pending"))
    with pytest.raises(IntegrityError):
        db.commit()
    db.rollback()


def test_the_reference_client_reads_the_code_and_approves(
    browser, phone, db, settings, clock, tmp_path
):  # WEB-2, APP-10
    from portti_app.client import AppClient

    panel = open_qr_login(browser)
    state = reference_app_state(tmp_path / "app", "http://testserver", phone)
    with AppClient("http://testserver", state, http=phone.http) as app_client:
        asking = app_client.scan_qr(frame(db, settings, clock, panel))
        assert asking["service"] == "Portti" and asking["purpose"] == "login"
        assert [a["approval_id"] for a in app_client.pending_approvals()] == [panel.public_id]
        done = app_client.approve_login(asking["approval_id"], number_shown(browser, panel), PIN)
        assert done["status"] == "approved"
    assert complete(browser, panel).status_code == 303


def test_the_scan_answers_with_a_challenge_so_approving_is_one_request(
    browser, phone, db, settings, clock
):  # WEB-2
    panel = open_qr_login(browser)
    asking = scanned(phone, db, settings, clock, panel)
    nonce = asking["challenge"]["nonce"]
    number = number_shown(browser, panel)
    assert phone.approve(panel.public_id, number, nonce=nonce).status_code == 200
    # Single use, like every challenge.
    again = phone.approve(panel.public_id, number, nonce=nonce)
    assert again.status_code in (400, 409)
