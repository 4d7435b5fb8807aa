"""Browser sessions: listed and revocable by their owner, ended by admins, timing out (WEB-5)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from portti.weblogin.sessions import hash_token
from support.db import audit_events, snapshot
from support.web import (
    HTML,
    another_browser,
    api_headers,
    force_login,
    login,
    page_csrf,
    session_cookie,
)

SESSION_ROW = re.compile(r'action="/settings/sessions/([0-9a-f]{64})/revoke"')


def session_id(client) -> str:  # type: ignore[no-untyped-def]
    token = session_cookie(client)
    assert token
    return hash_token(token)


def logged_in(client) -> bool:  # type: ignore[no-untyped-def]
    r = client.get("/settings", headers=HTML)
    if r.status_code == 303:
        assert r.headers["location"] == "/login?next=/settings"
        return False
    assert r.status_code == 200, r.text
    return True


@pytest.fixture
def two_browsers(client, app, world):  # type: ignore[no-untyped-def]
    """Employee A logged in on two browsers."""
    other = another_browser(app)
    login(client, world.employee_a)
    login(other, world.employee_a)
    return client, other


def test_settings_lists_the_persons_own_sessions(two_browsers, app, world):  # WEB-5
    mine, other = two_browsers
    login(another_browser(app), world.kh_a)  # someone else's session is not listed
    r = mine.get("/settings", headers={**HTML, "user-agent": "Firefox test"})
    listed = SESSION_ROW.findall(r.text)
    assert sorted(listed) == sorted([session_id(mine), session_id(other)])
    assert r.text.count('<span class="tag">this browser</span>') == 1
    assert "End all other sessions" in r.text


CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("language", "summary", "log_out"),
    [
        ("en", "Chrome on Linux", "Log out"),
        ("fi", "Chrome (Linux)", "Kirjaudu ulos"),
        ("sv", "Chrome på Linux", "Logga ut"),
    ],
)
def test_settings_name_each_session_by_browser_and_system_as_the_app_does(
    client, world, language, summary, log_out
):  # UX-6 WEB-5
    """Not the raw User-Agent: the summary the app shows, in the reader's language; each
    button's accessible name starts with its visible label (WCAG 2.5.3)."""
    browser = client
    browser.headers["user-agent"] = CHROME_LINUX
    login(browser, world.kh_a)
    r = browser.get("/settings", headers={**HTML, "accept-language": language})
    assert r.status_code == 200, (r.status_code, r.headers.get("location"))
    sessions = r.text[r.text.index('id="sessions-heading"') :]
    assert f'<span title="{CHROME_LINUX}">{summary}</span>' in sessions
    assert f">{CHROME_LINUX}<" not in sessions
    button = re.search(r"<button type=\"submit\">(.*?)</button>", sessions, re.S)
    assert button is not None
    assert "aria-label" not in button.group(0)
    assert button.group(1).startswith(log_out + '<span class="visually-hidden">')


def test_owner_revokes_another_session_and_that_browser_is_logged_out(
    two_browsers, db, world
):  # WEB-5
    mine, other = two_browsers
    r = mine.post(
        f"/settings/sessions/{session_id(other)}/revoke",
        data={"csrf_token": page_csrf(mine)},
        headers=HTML,
    )
    assert r.status_code == 303 and r.headers["location"] == "/settings"
    assert not logged_in(other)
    assert logged_in(mine)
    [event] = audit_events(db, "session_revoked")
    assert (event.actor_person_id, event.subject_person_id) == (world.employee_a.id,) * 2


def test_end_all_other_sessions_keeps_only_this_one(two_browsers, app, world):  # WEB-5
    mine, other = two_browsers
    third = another_browser(app)
    login(third, world.employee_a)
    r = mine.post(
        "/settings/sessions/revoke-others", data={"csrf_token": page_csrf(mine)}, headers=HTML
    )
    assert r.status_code == 303
    assert not logged_in(other) and not logged_in(third)
    assert logged_in(mine)
    assert SESSION_ROW.findall(mine.get("/settings", headers=HTML).text) == [session_id(mine)]


def test_revoking_ones_own_session_logs_out(two_browsers):  # WEB-5
    mine, _ = two_browsers
    r = mine.post(
        f"/settings/sessions/{session_id(mine)}/revoke",
        data={"csrf_token": page_csrf(mine)},
        headers=HTML,
    )
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert not logged_in(mine)


def test_api_lists_and_revokes_sessions(two_browsers):  # WEB-5
    mine, other = two_browsers
    r = mine.get("/api/v1/me/sessions")
    assert r.status_code == 200
    by_id = {s["id"]: s for s in r.json()}
    assert set(by_id) == {session_id(mine), session_id(other)}
    assert by_id[session_id(mine)]["current"] is True
    assert by_id[session_id(other)]["current"] is False
    assert by_id[session_id(other)]["login_method"] == "oidc:fi_bank"
    r = mine.delete(f"/api/v1/me/sessions/{session_id(other)}", headers=api_headers(mine))
    assert r.status_code == 204
    assert other.get("/api/v1/me").status_code == 401
    assert [s["id"] for s in mine.get("/api/v1/me/sessions").json()] == [session_id(mine)]


def test_another_persons_session_cannot_be_revoked(two_browsers, app, world, db):  # WEB-5
    mine, _ = two_browsers
    theirs = another_browser(app)
    login(theirs, world.kh_a)
    before = snapshot(db)
    r = mine.delete(f"/api/v1/me/sessions/{session_id(theirs)}", headers=api_headers(mine))
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"
    r = mine.post(
        f"/settings/sessions/{session_id(theirs)}/revoke",
        data={"csrf_token": page_csrf(mine)},
        headers=HTML,
    )
    assert r.status_code == 404
    assert "No such session." in r.text
    assert snapshot(db) == before
    assert logged_in(theirs)


def test_admin_ends_a_members_sessions(client, app, world, db):  # WEB-5 ADM-9
    member = another_browser(app)
    login(member, world.employee_a)
    force_login(client, world.kh_a, stepped_up=True)  # a change: it needs the step-up (SEC-7)
    mid = world.employee_a_membership.id
    r = client.post(
        f"/c/{world.client_a.id}/users/{mid}/end-sessions",
        data={"csrf_token": page_csrf(client)},
        headers=HTML,
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/c/{world.client_a.id}/users/{mid}?sessions_ended=1"
    assert not logged_in(member)
    assert logged_in(client)
    [event] = audit_events(db, "session_revoked")
    assert (event.company_id, event.actor_person_id, event.subject_person_id) == (
        world.client_a.id,
        world.kh_a.id,
        world.employee_a.id,
    )
    page = client.get(r.headers["location"], headers=HTML)
    assert "The person's sessions were ended." in page.text


def test_idle_session_times_out_after_30_minutes(client, world, clock):  # WEB-5
    login(client, world.employee_a)
    clock.advance(timedelta(minutes=29))
    assert logged_in(client)
    clock.advance(timedelta(minutes=29))  # active a moment ago: still in
    assert logged_in(client)
    clock.advance(timedelta(minutes=31))
    assert not logged_in(client)
    assert client.get("/api/v1/me").status_code == 401


def test_session_ends_at_the_absolute_limit_however_active(client, world, clock):  # WEB-5
    login(client, world.employee_a)
    for _ in range(24):  # 24 × 29 min = 11 h 36 min, each step within the idle limit
        clock.advance(timedelta(minutes=29))
        assert logged_in(client)
    clock.advance(timedelta(minutes=25))  # 12 h 01 min after login
    assert not logged_in(client)


def test_logout_ends_the_session(client, world, db):  # WEB-5
    login(client, world.employee_a)
    r = client.post("/logout", data={"csrf_token": page_csrf(client)}, headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert not logged_in(client)
    [event] = audit_events(db, "logout")
    assert event.actor_person_id == world.employee_a.id
