"""Logging in through an identity provider, choosing a company, and the step-up."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from portti.app import create_app
from portti.config import OidcProviderSettings
from portti.strongauth.oidc.jwks import JwksCache
from portti.weblogin.models import WebSession
from support import factories as f
from support import wizard
from support.db import audit_events, counts, fresh, snapshot
from support.qr import phone_of
from support.web import (
    HTML,
    another_browser,
    api_headers,
    authorize_at_test_idp,
    force_login,
    identity_of,
    login,
    page_csrf,
    recode_test_idp_callback,
    session_cookie,
    start_login,
    start_step_up,
    step_up,
)

CHOICE = re.compile(r'name="company_id" id="company-(\d+)"')


# -- login ----------------------------------------------------------------------------------


def test_unknown_person_gets_a_clear_message_and_no_session(client, db):  # WEB-4
    stranger = {
        "given_name": "Tuntematon",
        "family_name": "Henkilö",
        "country": "FI",
        "national_id": wizard.new_hetu(),
    }
    r = login(client, stranger)
    assert r.status_code == 403
    assert "You are not a user of any company in Portti." in r.text
    assert session_cookie(client) is None
    assert counts(db)["web_sessions"] == 0
    [event] = audit_events(db, "login_failed")
    assert event.details["reason"] == "unknown_person"
    assert client.get("/settings", headers=HTML).status_code == 303


def test_login_writes_login_succeeded_and_lands_on_company_choice(client, world, db):  # WEB-4
    r = login(client, world.employee_a)
    assert r.status_code == 303 and r.headers["location"] == "/companies"
    [event] = audit_events(db, "login_succeeded")
    assert (event.actor_person_id, event.subject_person_id) == (world.employee_a.id,) * 2
    assert event.details["method"] == "oidc:fi_bank"
    assert event.ip


def test_login_keeps_the_page_asked_for(client, world):  # WEB-4
    r = login(client, world.kh_a, next_=f"/c/{world.client_a.id}/users?status=all")
    assert r.headers["location"] == f"/c/{world.client_a.id}/users?status=all"
    r = login(client, world.kh_a, next_="https://evil.example/phish")
    assert r.headers["location"] == "/phish"


@pytest.mark.parametrize(
    "next_",
    ["//evil.example/phish", "/\\evil.example/phish", "/\\/evil.example", "\\\\evil.example"],
)
def test_login_never_returns_to_another_site(client, world, next_):  # WEB-4 OPS-4
    """Browsers read a backslash as a slash: "/\\evil.example" is "//evil.example"."""
    r = login(client, world.kh_a, next_=next_)
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith("/") and location[1:2] not in ("/", "\\"), location
    r = client.get(f"/step-up?next={next_}", headers=HTML)
    assert 'href="/\\' not in r.text and 'href="//' not in r.text


def test_a_person_whose_only_membership_ended_has_no_valid_user_rights(
    client, db, today
):  # WEB-3 ADM-7
    c = f.company(db, "Ended Oy")
    p = f.person(db, "Entinen", "Työntekijä")
    f.member(db, p, c, valid_from=today - timedelta(days=60), valid_until=today - timedelta(1))
    db.commit()
    assert login(client, p).status_code == 303
    r = client.get("/companies", headers=HTML)
    assert r.status_code == 200
    assert "You have no valid user rights in any company." in r.text
    assert not CHOICE.findall(r.text)
    yesterday = (today - timedelta(days=1)).strftime("%-d.%-m.%Y")
    assert f"Ended Oy: ended {yesterday}" in r.text and "valid from" not in r.text
    assert client.get("/home", headers=HTML).headers["location"] == "/companies"
    r = client.post(
        "/companies", data={"company_id": c.id, "csrf_token": page_csrf(client)}, headers=HTML
    )
    assert r.status_code == 403
    assert "You have no valid user rights in this company." in r.text


def test_a_person_with_two_valid_companies_chooses_and_others_are_not_offered(
    client, db, today
):  # WEB-3 ADM-7
    p = f.person(db, "Monen", "Firman")
    a, b = f.company(db, "Alpha Oy"), f.company(db, "Beta Oy")
    later, ended = f.company(db, "Later Oy"), f.company(db, "Gone Oy")
    f.member(db, p, a)
    f.member(db, p, b, valid_until=today)
    f.member(db, p, later, valid_from=today + timedelta(days=3))
    f.member(db, p, ended, valid_until=today - timedelta(days=1))
    db.commit()
    login(client, p)
    r = client.get("/companies", headers=HTML)
    assert r.status_code == 200
    assert sorted(map(int, CHOICE.findall(r.text))) == sorted([a.id, b.id])
    assert f"Later Oy: valid from {(today + timedelta(days=3)).strftime('%-d.%-m.%Y')}" in r.text
    assert f"Gone Oy: ended {(today - timedelta(days=1)).strftime('%-d.%-m.%Y')}" in r.text
    csrf = page_csrf(client)
    before = snapshot(db)
    for refused in (later, ended):
        r = client.post(
            "/companies", data={"company_id": refused.id, "csrf_token": csrf}, headers=HTML
        )
        assert r.status_code == 403
    assert snapshot(db) == before
    r = client.post("/companies", data={"company_id": b.id, "csrf_token": csrf}, headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == "/home"
    assert "Beta Oy" in client.get("/home", headers=HTML).text
    [event] = audit_events(db, "company_selected")
    assert (event.company_id, event.actor_person_id) == (b.id, p.id)


def test_a_company_the_person_has_nothing_to_do_with_is_403(client, world, db):  # WEB-3 ADM-9
    login(client, world.employee_a)
    before = snapshot(db)
    r = client.post(
        "/companies",
        data={"company_id": world.other.id, "csrf_token": page_csrf(client)},
        headers=HTML,
    )
    assert r.status_code == 403
    assert snapshot(db) == before


def test_a_person_with_one_company_goes_straight_to_it(client, world, db):  # WEB-3 ADM-10
    login(client, world.employee_a)
    r = client.get("/companies", headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == "/home"
    assert "Client A Oy" in client.get("/home", headers=HTML).text
    [event] = audit_events(db, "company_selected")
    assert (event.company_id, event.actor_person_id) == (world.client_a.id, world.employee_a.id)


def test_login_with_a_swedish_id_card_finds_the_swedish_personal_number(client, db):  # WEB-4 ADM-4
    c = f.company(db, "Svenska Ab")
    sven = f.person(db, "Sven", "Svensson", identifier=("personal_number", "SE", "198112189876"))
    f.member(db, sven, c)
    db.commit()
    identity = {
        "given_name": "Sven",
        "family_name": "Svensson",
        "country": "SE",
        "national_id": "19811218-9876",
    }
    r = login(client, identity, provider="se_id")
    assert r.status_code == 303, r.text
    me = client.get("/api/v1/me").json()
    assert me["portti_id"] == sven.portti_id
    [event] = audit_events(db, "login_succeeded")
    assert event.details["method"] == "oidc:se_id"


def test_login_with_an_estonian_id_card(client, db):  # WEB-4
    c = f.company(db, "Eesti OÜ")
    mari = f.person(db, "Mari", "Tamm", identifier=("personal_number", "EE", "49403136515"))
    f.member(db, mari, c)
    db.commit()
    r = login(client, identity_of(mari), provider="ee_id")
    assert r.status_code == 303, r.text
    assert client.get("/api/v1/me").json()["portti_id"] == mari.portti_id


def test_session_id_rotates_at_login_and_the_old_one_stops_working(
    client, app, world, db
):  # WEB-4 WEB-5
    planted = "planted-by-someone-else-0123456789"
    client.cookies.set("portti_session", planted, domain="testserver.local")
    login(client, world.employee_a)
    first = session_cookie(client)
    assert first and first != planted
    login(client, world.employee_a)
    second = session_cookie(client)
    assert second and second != first
    old = another_browser(app)
    old.cookies.set("portti_session", first, domain="testserver.local")
    assert old.get("/api/v1/me").status_code == 401
    new = another_browser(app)
    new.cookies.set("portti_session", second, domain="testserver.local")
    assert new.get("/api/v1/me").status_code == 200
    fresh(db)
    assert db.query(WebSession).filter(WebSession.revoked_at.is_(None)).count() == 1


def callback_url(client, who, provider: str = "fi_bank") -> str:  # type: ignore[no-untyped-def]
    identity = who if isinstance(who, dict) else identity_of(who)
    return authorize_at_test_idp(client, start_login(client, provider), identity)


def test_a_callback_with_a_tampered_state_gets_an_error_and_no_session(client, world, db):  # WEB-4
    url = callback_url(client, world.employee_a)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = query["state"][:-2] + ("AA" if not query["state"].endswith("AA") else "BB")
    r = client.get(f"{parts.path}?{urlencode(query)}")
    assert r.status_code == 400
    assert "The login took too long or was started elsewhere. Start again." in r.text
    assert session_cookie(client) is None
    assert counts(db)["web_sessions"] == 0
    [event] = audit_events(db, "login_failed")
    assert event.details["reason"] == "oidc_state_mismatch"


def test_a_callback_finished_in_another_browser_is_refused(client, app, world, db):  # WEB-4
    url = callback_url(client, world.employee_a)
    thief = another_browser(app)
    r = thief.get(url)
    assert r.status_code == 400
    assert "The login was started in another browser." in r.text
    assert session_cookie(thief) is None
    assert counts(db)["web_sessions"] == 0
    [event] = audit_events(db, "login_failed")
    assert event.details["reason"] == "oidc_browser_mismatch"
    # The stranger's attempt did not spend the genuine login: its browser still finishes it.
    r = client.get(url)
    assert r.status_code == 303, r.text
    assert session_cookie(client) is not None
    # And once finished, the URL is spent for everyone.
    assert thief.get(url).status_code == 400


def test_a_cancelled_login_is_an_error_and_no_session(client, db):  # WEB-4
    start = start_login(client)
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    r = client.get(f"/login/callback?{urlencode({'state': state, 'error': 'access_denied'})}")
    assert r.status_code == 400
    assert "cancelled" in r.text
    assert counts(db)["web_sessions"] == 0


# -- step-up --------------------------------------------------------------------------------


def test_changes_without_step_up_are_refused(client, world, db):  # ADM-2
    login(client, world.kh_a)
    cid, mid = world.client_a.id, world.employee_a_membership.id
    headers = api_headers(client)
    before = snapshot(db)
    r = client.post(f"/api/v1/companies/{cid}/members", json=wizard.body(), headers=headers)
    assert r.status_code == 403 and r.json()["code"] == "step_up_required"
    r = client.delete(f"/api/v1/companies/{cid}/members/{mid}", headers=headers)
    assert r.status_code == 403 and r.json()["code"] == "step_up_required"
    r = client.get(f"/c/{cid}/users/new", headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == f"/step-up?next=/c/{cid}/users/new"
    r = client.post(
        f"/c/{cid}/users/{mid}/remove",
        data={"csrf_token": headers["X-CSRF-Token"]},
        headers={**HTML, "referer": f"http://testserver/c/{cid}/users/{mid}"},
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/step-up?next=/c/{cid}/users/{mid}"
    page = client.get(f"/c/{cid}/users/{mid}", headers=HTML)
    assert "Authenticate to add users" in page.text
    assert snapshot(db) == before


def test_after_step_up_changes_work_and_return_to_the_page(client, world, db):  # ADM-2
    login(client, world.kh_a)
    cid = world.client_a.id
    r = step_up(client, world.kh_a, next_=f"/c/{cid}/users/new")
    assert r.status_code == 303 and r.headers["location"] == f"/c/{cid}/users/new"
    [event] = audit_events(db, "step_up_succeeded")
    assert event.actor_person_id == world.kh_a.id
    r = client.post(
        f"/api/v1/companies/{cid}/members", json=wizard.body(), headers=api_headers(client)
    )
    assert r.status_code == 201, r.text
    assert "Strong authentication is valid for" in client.get(f"/c/{cid}/users", headers=HTML).text


def test_step_up_expires_after_the_configured_minutes(client, world, db, clock, settings):  # ADM-2
    login(client, world.kh_a)
    step_up(client, world.kh_a)
    cid = world.client_a.id
    headers = api_headers(client)
    clock.advance(timedelta(minutes=settings.step_up_minutes - 1))
    r = client.post(f"/api/v1/companies/{cid}/members", json=wizard.body(), headers=headers)
    assert r.status_code == 201, r.text
    clock.advance(timedelta(minutes=2))
    before = snapshot(db)
    r = client.post(f"/api/v1/companies/{cid}/members", json=wizard.body(), headers=headers)
    assert r.status_code == 403 and r.json()["code"] == "step_up_required"
    assert snapshot(db) == before
    page = client.get(f"/c/{cid}/users", headers=HTML)
    assert "Authenticate to add users" in page.text and "Add user</a>" not in page.text
    # Authenticating again opens a new window, in a new session with its own CSRF token.
    assert step_up(client, world.kh_a).status_code == 303
    headers = api_headers(client)
    r = client.post(f"/api/v1/companies/{cid}/members", json=wizard.body(), headers=headers)
    assert r.status_code == 201, r.text


def test_step_up_belongs_to_one_browser(client, app, world):  # ADM-2
    login(client, world.kh_a)
    step_up(client, world.kh_a)
    other = another_browser(app)
    login(other, world.kh_a)
    r = other.post(
        f"/api/v1/companies/{world.client_a.id}/members",
        json=wizard.body(),
        headers=api_headers(other),
    )
    assert r.status_code == 403 and r.json()["code"] == "step_up_required"


def test_stepping_up_as_another_person_is_refused_and_audited(client, world, db):  # ADM-2 ADM-10
    login(client, world.kh_a)
    before = snapshot(db)
    r = step_up(client, world.employee_a)
    assert r.status_code == 403
    assert "The identity you authenticated with is not the one logged in here." in r.text
    after = snapshot(db)
    assert after["web_sessions"] == before["web_sessions"]  # no strong_auth_at recorded
    [event] = audit_events(db, "step_up_failed")
    assert event.actor_person_id == world.kh_a.id
    assert event.details["reason"] == "identity_mismatch"
    r = client.post(
        f"/api/v1/companies/{world.client_a.id}/members",
        json=wizard.body(),
        headers=api_headers(client),
    )
    assert r.status_code == 403 and r.json()["code"] == "step_up_required"


def test_stepping_up_as_a_stranger_is_refused(client, world, db):  # ADM-2
    login(client, world.kh_a)
    r = step_up(
        client,
        {"given_name": "X", "family_name": "Y", "country": "FI", "national_id": wizard.new_hetu()},
    )
    assert r.status_code == 403
    assert audit_events(db, "step_up_failed")


def test_step_up_needs_a_login_first(client, world):  # ADM-2
    r = client.get("/step-up?next=/", headers=HTML)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


# -- SEC-6: a step-up is a fresh authentication -----------------------------------------------

LOA2 = "http://ftn.ficora.fi/2017/loa2"
LOA3 = "http://ftn.ficora.fi/2017/loa3"


def _step_up_callback(client, who) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    start = start_step_up(client)
    asked = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
    return authorize_at_test_idp(client, start, identity_of(who)), asked


def _strong_auth_at(db, client):  # type: ignore[no-untyped-def]
    fresh(db)
    return db.query(WebSession).filter(WebSession.revoked_at.is_(None)).one().strong_auth_at


def test_step_up_asks_the_provider_to_authenticate_again(client, world, db):  # SEC-6 ADM-2
    login(client, world.kh_a)
    # A login does not force a new authentication at the provider; a step-up does.
    login_asks = parse_qs(urlsplit(start_login(client).headers["location"]).query)
    assert "max_age" not in login_asks and "prompt" not in login_asks
    callback, asked = _step_up_callback(client, world.kh_a)
    assert asked["max_age"] == "0" and asked["prompt"] == "login"
    r = client.get(callback)
    assert r.status_code == 303, r.text
    assert _strong_auth_at(db, client) is not None
    [event] = audit_events(db, "step_up_succeeded")
    assert event.actor_person_id == world.kh_a.id


def test_a_step_up_answered_from_an_old_provider_session_is_refused(
    client, world, db, clock
):  # SEC-6 ADM-2
    login(client, world.kh_a)
    callback, _ = _step_up_callback(client, world.kh_a)
    started = int(clock.now().timestamp())
    # The provider ignored max_age=0 and vouched for an authentication of a minute ago.
    old = recode_test_idp_callback(client, callback, auth_time=started - 60)
    r = client.get(old)
    assert r.status_code == 400
    assert "The identity provider did not authenticate you again." in r.text
    assert _strong_auth_at(db, client) is None
    [event] = audit_events(db, "step_up_failed")
    assert event.actor_person_id == world.kh_a.id
    assert event.details["reason"] == "oidc_authentication_not_fresh"
    assert not audit_events(db, "step_up_succeeded")
    r = client.post(
        f"/api/v1/companies/{world.client_a.id}/members",
        json=wizard.body(),
        headers=api_headers(client),
    )
    assert r.status_code == 403 and r.json()["code"] == "step_up_required"


def test_a_step_up_without_auth_time_is_refused(client, world, db):  # SEC-6 ADM-2
    login(client, world.kh_a)
    callback, _ = _step_up_callback(client, world.kh_a)
    r = client.get(recode_test_idp_callback(client, callback, auth_time=None))
    assert r.status_code == 400
    [event] = audit_events(db, "step_up_failed")
    assert event.details["reason"] == "oidc_authentication_not_fresh"


def test_a_step_up_with_a_weaker_acr_than_configured_is_refused(
    client, app, world, db
):  # SEC-6 ADM-2
    fi = app.state.runtime.providers["fi_bank"]
    app.state.runtime.providers["fi_bank"] = fi.model_copy(update={"step_up_acr_values": LOA3})
    login(client, world.kh_a)
    callback, asked = _step_up_callback(client, world.kh_a)
    assert asked["acr_values"] == LOA3
    r = client.get(recode_test_idp_callback(client, callback, acr=LOA2))
    assert r.status_code == 400
    assert "not strong enough" in r.text
    assert _strong_auth_at(db, client) is None
    [event] = audit_events(db, "step_up_failed")
    assert event.details["reason"] == "oidc_acr_too_weak"
    # The provider honouring the request (loa3) passes.
    callback, _ = _step_up_callback(client, world.kh_a)
    assert client.get(callback).status_code == 303
    assert _strong_auth_at(db, client) is not None


# -- provider errors, discovery ---------------------------------------------------------------


def test_a_provider_error_is_told_and_its_description_audited(client, db):  # WEB-4
    start = start_login(client)
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    query = {
        "state": state,
        "error": "temporarily_unavailable",
        "error_description": "Bank\nmaintenance <b>tonight</b>",
    }
    r = client.get(f"/login/callback?{urlencode(query)}")
    assert r.status_code == 400
    assert "temporarily unavailable" in r.text and "cancelled" not in r.text
    assert "<b>tonight" not in r.text
    [event] = audit_events(db, "login_failed")
    assert event.details["reason"] == "oidc_provider_error"
    assert event.details["error"] == "temporarily_unavailable"
    assert event.details["error_description"] == "Bank maintenance <b>tonight</b>"
    assert event.details["method"] == "oidc:fi_bank"
    assert counts(db)["web_sessions"] == 0


def test_an_authorization_response_from_another_issuer_is_refused(client, world, db):  # WEB-4
    """RFC 9207: the ``iss`` parameter, when sent, must be the provider's issuer."""
    url = callback_url(client, world.employee_a)
    r = client.get(f"{url}&{urlencode({'iss': 'https://evil.example'})}")
    assert r.status_code == 400
    assert "did not come from the identity provider" in r.text
    [event] = audit_events(db, "login_failed")
    assert event.details["reason"] == "oidc_issuer_mismatch"
    assert counts(db)["web_sessions"] == 0


def test_a_provider_given_by_issuer_alone_is_discovered(client, app, world, db):  # WEB-4
    app.state.runtime.providers["fi_discovered"] = OidcProviderSettings(
        key="fi_discovered",
        label="Discovered",
        issuer="http://testserver/test-idp",
        client_id="portti",
        algorithms=["EdDSA"],
        identifier_country_claim="national_id_country",
    )
    start = start_login(client, "fi_discovered")
    assert start.headers["location"].startswith("http://testserver/test-idp/authorize?")
    r = client.get(authorize_at_test_idp(client, start, identity_of(world.employee_a)))
    assert r.status_code == 303, r.text
    [event] = audit_events(db, "login_succeeded")
    assert event.details["method"] == "oidc:fi_discovered"
    assert event.details["acr"] == "http://ftn.ficora.fi/2017/loa2"


# -- SEC-11: session rotation and cookie prefix -------------------------------------------------


def test_step_up_rotates_the_session_token(client, app, world, db):  # SEC-11 ADM-2
    """A token that leaked or was planted before the step-up never carries its rights."""
    login(client, world.kh_a)
    before = session_cookie(client)
    r = step_up(client, world.kh_a)
    assert r.status_code == 303
    assert "portti_session=" in r.headers["set-cookie"]
    after = session_cookie(client)
    assert after and before and after != before
    # The new token works and is stepped up.
    cid = world.client_a.id
    r = client.post(
        f"/api/v1/companies/{cid}/members", json=wizard.body(), headers=api_headers(client)
    )
    assert r.status_code == 201, r.text
    # The old one is dead: a browser still holding it is logged out.
    old = another_browser(app)
    old.cookies.set("portti_session", before, domain="testserver.local")
    assert old.get("/settings", headers=HTML).status_code == 303
    r = old.post(f"/api/v1/companies/{cid}/members", json=wizard.body(), headers={})
    assert r.status_code in (401, 403)
    assert db.query(WebSession).filter(WebSession.revoked_at.is_(None)).count() == 1


@pytest.fixture
def https_settings(settings):
    return settings.model_copy(update={"base_url": "https://testserver"})


@pytest.fixture
def https_client(https_settings, clock):
    app = create_app(https_settings, clock=clock)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        app.state.runtime.http = c
        app.state.runtime.jwks = JwksCache(c)
        yield c
    app.state.runtime.engine.dispose()


def test_cookies_carry_the_host_prefix_over_https(https_client, world):  # SEC-11
    client = https_client
    page = client.get("/login", headers=HTML)
    browser = page.headers["set-cookie"]
    assert browser.startswith("__Host-portti_browser=")
    assert "Secure" in browser and "Path=/" in browser and "domain" not in browser.lower()
    r = login(client, world.kh_a)
    assert r.status_code == 303 and r.headers["location"] == "/companies", r.text
    [cookie] = [c for c in r.headers.get_list("set-cookie") if "portti_session" in c]
    assert cookie.startswith("__Host-portti_session=")
    attrs = [a.strip().lower() for a in cookie.split(";")[1:]]
    assert "secure" in attrs and "path=/" in attrs and "httponly" in attrs
    assert not any(a.startswith("domain") for a in attrs)
    # The session is read from the prefixed cookie only; a bare one planted by a sibling
    # subdomain or a plain-http page means nothing.
    assert client.get("/settings", headers=HTML).status_code == 200
    token = client.cookies.get("__Host-portti_session")
    client.cookies.clear()
    client.cookies.set("portti_session", token, domain="testserver.local")
    assert client.get("/settings", headers=HTML).status_code == 303
    # The step-up's new session comes in a prefixed cookie too.
    client.cookies.clear()
    login(client, world.kh_a)
    r = step_up(client, world.kh_a)
    assert r.status_code == 303
    assert r.headers["set-cookie"].startswith("__Host-portti_session=")


def test_step_up_offers_only_what_the_person_can_use(client, app, world, db, settings, clock):
    # UX-10 ADM-2 SEC-14
    """No app in use: no "Authenticate with the Portti app", and the page says how to get one.
    The identity providers offered are those of the countries whose identity numbers the
    person has; with an app that lets them into the company, the app is offered."""
    cid = world.client_a.id
    login(client, world.kh_a)
    page = client.get(f"/step-up?next=/c/{cid}/users", headers=HTML).text
    assert "Authenticate with the Portti app" not in page
    assert "You have no Portti app that lets you into this company" in page
    assert "user administrator for an invitation" in page
    assert settings.base_url.rstrip("/") + "/app/" in page  # a Finnish bank ID user may
    assert "Authenticate with Finnish bank ID or mobile certificate" in page
    assert "Authenticate with an Estonian ID card" not in page

    phone_of(app, db, settings, clock, world.kh_a)
    page = client.get(f"/step-up?next=/c/{cid}/users", headers=HTML).text
    assert "Authenticate with the Portti app" in page
    assert "You have no Portti app" not in page

    # An Estonian administrator is offered the Estonian ID card, not Finnish bank ID.
    estonian = f.person(db, "Kadri", "Tamm", identifier=("personal_number", "EE", "49403136515"))
    f.member(db, estonian, world.client_a, ["user_admin"])
    db.commit()
    other = another_browser(app)
    force_login(other, estonian)
    page = other.get(f"/step-up?next=/c/{cid}/users", headers=HTML).text
    assert "Authenticate with an Estonian ID card" in page
    assert "Authenticate with Finnish bank ID" not in page
    assert "open http" not in page  # no Finnish bank ID: the invitation is the way
