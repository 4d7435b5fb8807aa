"""SEC-14: an identity made by one tenant does not reach another. A device activated by a
company's invitation lets its person into that company only; a company that links the person
later sends its own invitation, and the device it activates carries that company too.

The attack of the second review, over HTTP: Kaisa (KH of Mäkinen Design) adds a person with
a real-looking Finnish identity code and the attacker's e-mail and phone, and invites them;
the attacker activates the app. Timo (TPK of the office) links that person to his client as a
user administrator. The attacker logs in by QR, steps up in the app, and tries the client."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from portti.companies.catalogue import USER_ADMIN
from portti.devices.models import Device, DeviceCompany
from portti.devices.reach import carried_companies
from portti.people.identity_numbers import make_hetu
from portti.people.models import Person
from support import factories as f
from support.activation import (
    AppActivation,
    Credentials,
    invite,
    latest_signup_code,
    latest_sms_code,
    new_account_over_http,
)
from support.db import audit_events, fresh
from support.qr import Panel, Phone, complete, log_in_by_app, status
from support.web import HTML, another_browser, api_headers, force_login, page_csrf

API = "/app-api/v1"
ATTACKER_EMAIL = "mallory@example.net"


def add_person(admin: TestClient, company_id: int, body: dict[str, Any]) -> httpx.Response:
    return admin.post(
        f"/api/v1/companies/{company_id}/members", json=body, headers=api_headers(admin)
    )


def activate(app: Any, db: Any, settings: Any, clock: Any, person: Person) -> AppActivation:
    act = AppActivation(another_browser(app))
    assert act.redeem(latest_signup_code(db, settings.secret, person)).status_code == 201
    r = act.confirm_phone(latest_sms_code(db, settings.secret, person))
    assert r.status_code == 200, r.text
    return act


def finish(act: AppActivation, name: str, *, terms: bool = True) -> dict[str, Any]:
    if terms:
        assert act.accept_terms().status_code == 200
    r = act.bind(name=name)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def unlocked(app: Any, act: AppActivation) -> Phone:
    http = another_browser(app)
    sim = act.sim
    ch = http.post(f"{API}/devices/{sim.public_id}/challenges", json={"purpose": "unlock"})
    assert ch.status_code in (200, 201), ch.text
    nonce = ch.json()["nonce"]
    r = http.post(
        f"{API}/devices/{sim.public_id}/unlock",
        json={"nonce": nonce, "signature": sim.sign("unlock", nonce), "pin": "258036"},
    )
    assert r.status_code == 200, r.text
    return Phone(http=http, sim=sim, token=r.json()["app_session_token"])


def step_up_by_app(browser: TestClient, phone: Phone, company_id: int) -> httpx.Response:
    next_ = f"/c/{company_id}/users"
    r = browser.post(
        "/login/qr/step-up",
        data={"next": next_},
        headers={"X-CSRF-Token": page_csrf(browser, f"/step-up?next={next_}"), **HTML},
    )
    assert r.status_code == 200, r.text
    panel = Panel.parse(r.text)
    number = status(browser, panel.public_id)["number"]
    approved = phone.approve(panel.public_id, number)
    assert approved.status_code == 200, approved.text
    return complete(browser, panel)


class Scene:
    """Mäkinen Design with its KH Kaisa; the office's TPK Timo and his client."""

    def __init__(self, app: Any, db: Any, settings: Any, clock: Any, world: f.World) -> None:
        self.app, self.db, self.settings, self.clock, self.world = app, db, settings, clock, world
        self.makinen = f.company(db, "Mäkinen Design Oy")
        self.kaisa = f.person(db, "Kaisa", "Mäkinen")
        f.member(db, self.kaisa, self.makinen, [USER_ADMIN])
        db.commit()
        self.client = world.client_a  # Rakennus Virtanen, a client of Timo's office
        self.hetu = make_hetu(date(1984, 3, 12), 947)

    def kaisa_adds_and_invites(self) -> tuple[Person, int]:
        kaisa = another_browser(self.app)
        force_login(kaisa, self.kaisa, stepped_up=True)
        r = add_person(
            kaisa,
            self.makinen.id,
            {
                "method": "fi_hetu",
                "id_value": self.hetu,
                "given_name": "Ville",
                "family_name": "Virtanen",
                "email": ATTACKER_EMAIL,
                "phone": "+358401234567",
                "roles": ["bookkeeper"],
            },
        )
        assert r.status_code == 201, r.text
        membership_id = r.json()["membership_id"]
        invite(kaisa, self.makinen.id, membership_id)
        person = fresh(self.db).scalars(select(Person).where(Person.email == ATTACKER_EMAIL)).one()
        return person, membership_id

    def attacker_activates(self, person: Person) -> tuple[AppActivation, Credentials]:
        act = activate(self.app, self.db, self.settings, self.clock, person)
        creds = new_account_over_http(
            act, self.db, self.settings.secret, self.clock, ATTACKER_EMAIL
        )
        finish(act, "Mallory's phone")
        return act, creds

    def timo_links(self, person: Person) -> httpx.Response:
        timo = another_browser(self.app)
        force_login(timo, self.world.tpk, stepped_up=True)
        return add_person(
            timo,
            self.client.id,
            {
                "method": "fi_hetu",
                "id_value": self.hetu,
                "already_user": True,
                "portti_id": person.portti_id,
                "roles": [USER_ADMIN],
            },
        )


def carried(db: Any, device_public_id: str) -> set[int]:
    fresh(db)
    device = db.scalars(select(Device).where(Device.public_id == device_public_id)).one()
    return set(
        db.scalars(select(DeviceCompany.company_id).where(DeviceCompany.device_id == device.id))
    )


def test_sec14_a_device_from_another_tenants_invitation_does_not_reach_a_company_that_linked_the_person_later(
    app, client, db, settings, clock, world
):  # SEC-14
    scene = Scene(app, db, settings, clock, world)
    person, _ = scene.kaisa_adds_and_invites()
    act, _ = scene.attacker_activates(person)
    assert carried(db, act.sim.public_id or "") == {scene.makinen.id}

    linked = scene.timo_links(person)
    assert linked.status_code == 201, linked.text
    # Timo is told what the link does and does not do, and sees who invited the person.
    access = linked.json()["app_access"]
    assert access["reaches_company"] is False
    assert "invitation" in access["summary"]
    [device] = access["devices"]
    assert device["name"] == "Mallory's phone" and device["carries_company"] is False
    assert [(c["company_name"], c["invited_by"]) for c in device["companies"]] == [
        ("Mäkinen Design Oy", "Kaisa Mäkinen")
    ]

    # The attacker logs in with the app: only Mäkinen Design is offered.
    phone = unlocked(app, act)
    browser = another_browser(app)
    done = log_in_by_app(browser, phone)
    assert done.status_code == 303, done.text
    choose = browser.get("/companies", headers=HTML, follow_redirects=False)
    assert choose.status_code == 303 and choose.headers["location"] == "/home"
    home = browser.get("/home", headers=HTML)
    assert "Mäkinen Design Oy" in home.text and scene.client.name not in home.text
    refused = browser.post(
        "/companies",
        data={"company_id": str(scene.client.id), "csrf_token": page_csrf(browser)},
        headers=HTML,
    )
    assert refused.status_code == 403

    # Steps up in the app (in Mäkinen Design, where the device belongs) ...
    stepped = step_up_by_app(browser, phone, scene.makinen.id)
    assert stepped.status_code == 303, stepped.text
    # ... and tries Timo's client: refused, reading and adding alike, and nothing is written.
    members = browser.get(f"/api/v1/companies/{scene.client.id}/members")
    assert members.status_code == 403, members.text
    assert members.headers["content-type"].startswith("application/problem+json")
    page = browser.get(f"/c/{scene.client.id}/users", headers=HTML)
    assert page.status_code == 403
    added = add_person(
        browser,
        scene.client.id,
        {
            "method": "fi_hetu",
            "id_value": make_hetu(date(1990, 5, 5), 951),
            "given_name": "Eve",
            "family_name": "Accomplice",
            "email": "eve@example.net",
            "phone": "+358401111111",
            "roles": [USER_ADMIN],
        },
    )
    assert added.status_code == 403, added.text
    assert (
        fresh(db).scalars(select(Person).where(Person.email == "eve@example.net")).first() is None
    )
    # The app itself does not count the client among the companies it lets in.
    me = phone.http.get(f"{API}/me", headers=phone.auth).json()
    valid = {c["company_id"]: c["valid"] for c in me["companies"]}
    assert valid == {scene.makinen.id: True, scene.client.id: False}


def test_sec14_the_linking_company_invites_and_the_new_device_carries_it_too(
    app, client, db, settings, clock, world
):  # SEC-14
    scene = Scene(app, db, settings, clock, world)
    person, _ = scene.kaisa_adds_and_invites()
    first, creds = scene.attacker_activates(person)
    linked = scene.timo_links(person)
    assert linked.status_code == 201, linked.text
    # Only Support may invite someone whose rights reach another company (SEC-1).
    support = another_browser(app)
    force_login(support, world.support, stepped_up=True)
    invite(support, scene.client.id, linked.json()["membership_id"])
    act = activate(app, db, settings, clock, person)
    r = act.existing_account(creds.login_body(clock))
    assert r.status_code == 200, r.text
    body = finish(act, "Second phone", terms=r.json()["step"] == "terms")
    assert carried(db, body["device_id"]) == {scene.makinen.id, scene.client.id}
    assert carried(db, first.sim.public_id or "") == {scene.makinen.id}
    bound = audit_events(db, "device_bound")[-1]
    assert bound.details["companies"] == sorted([scene.makinen.id, scene.client.id])

    browser = another_browser(app)
    assert log_in_by_app(browser, unlocked(app, act)).status_code == 303
    choose = browser.get("/companies", headers=HTML)
    assert choose.status_code == 200
    assert scene.client.name in choose.text and "Mäkinen Design Oy" in choose.text


def test_sec14_a_step_up_by_an_app_of_another_company_is_refused(
    app, client, db, settings, clock, world
):  # SEC-14
    scene = Scene(app, db, settings, clock, world)
    person, _ = scene.kaisa_adds_and_invites()
    act, _ = scene.attacker_activates(person)
    linked = scene.timo_links(person)
    assert linked.status_code == 201
    linked_id = linked.json()["membership_id"]
    # Logged in by bank ID (every company), in the client company, the step-up is asked from
    # the app, which Mäkinen Design's invitation activated: refused in the app, audited, and
    # the waiting browser is told; the session gets no step-up.
    browser = another_browser(app)
    force_login(browser, person)
    r = browser.post(
        "/companies",
        data={"company_id": str(scene.client.id), "csrf_token": page_csrf(browser)},
        headers=HTML,
    )
    assert r.status_code == 303
    next_ = f"/c/{scene.client.id}/users"
    started = browser.post(
        "/login/qr/step-up",
        data={"next": next_},
        headers={"X-CSRF-Token": page_csrf(browser, f"/step-up?next={next_}"), **HTML},
    )
    panel = Panel.parse(started.text)
    phone = unlocked(app, act)
    refused = phone.approve(panel.public_id, status(browser, panel.public_id)["number"])
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "step_up_device_not_for_company"
    assert "does not give access" in refused.json()["title"]
    assert status(browser, panel.public_id)["status"] == "rejected"
    assert complete(browser, panel).status_code != 303
    event = audit_events(db, "step_up_failed")[-1]
    assert event.details["reason"] == "device_not_for_company"
    assert browser.get(next_, headers=HTML).status_code == 200  # still an admin by bank ID ...
    members = browser.get(f"/api/v1/companies/{scene.client.id}/members")
    assert members.status_code == 200
    change = browser.delete(
        f"/api/v1/companies/{scene.client.id}/members/{linked_id}",
        headers=api_headers(browser),
    )
    assert change.status_code == 403 and change.json()["code"] == "step_up_required"


def test_sec14_a_business_application_learns_only_the_companies_the_app_login_carries(
    app, client, db, settings, clock
):  # SEC-14
    from support.devices import bind, make_service, unlock
    from support.oidc import query_of, register, relying_party, return_url
    from support.web import local

    makinen = f.company(db, "Mäkinen Design Oy")
    aalto = f.company(db, "Kahvila Aalto Oy")
    kaisa = f.person(db, "Kaisa", "Mäkinen")
    f.member(db, kaisa, makinen, [USER_ADMIN])
    f.member(db, kaisa, aalto, ["bookkeeper"])
    db.commit()
    # Her app came with Mäkinen Design's invitation; Aalto linked her later.
    service = make_service(db, app)
    _, sim, _ = bind(service, db, kaisa, clock, companies=[makinen.id])
    _, token = unlock(service, sim)
    db.commit()
    phone = Phone(http=another_browser(app), sim=sim, token=token)
    assert log_in_by_app(client, phone).status_code == 303

    rp = relying_party(client._transport, "http://testserver", register(db, clock, settings.secret))
    first = client.get(local(rp.authorization_url()))
    assert first.status_code in (200, 303), first.text
    callback = return_url(first) if first.status_code == 200 else first.headers["location"]
    if not callback.startswith("https://"):
        callback = return_url(client.get(local(callback)))
    assert query_of(callback).get("code"), callback
    tokens = rp.fetch_token(callback)
    claims = rp.id_claims(tokens["id_token"])
    assert [c["name"] for c in claims["companies"]] == ["Mäkinen Design Oy"]
    info = rp.http.get("http://testserver/oidc/userinfo").json()
    assert [c["name"] for c in info["companies"]] == ["Mäkinen Design Oy"]
    refreshed = rp.http.refresh_token(
        "http://testserver/oidc/token", refresh_token=tokens["refresh_token"]
    )
    assert [c["name"] for c in rp.id_claims(refreshed["id_token"], nonce=None)["companies"]] == [
        "Mäkinen Design Oy"
    ]


def test_a_device_replacing_one_after_a_forgotten_pin_still_says_who_invited(
    app, client, db, settings, clock, world
):  # SEC-14 UX-9 UX-23
    scene = Scene(app, db, settings, clock, world)
    person, _ = scene.kaisa_adds_and_invites()
    first, creds = scene.attacker_activates(person)
    again = AppActivation(another_browser(app))
    r = again.start_with_account(creds.login_body(clock))
    assert r.status_code == 201, r.text
    if r.json()["step"] == "terms":
        assert again.accept_terms().status_code == 200
    bound = again.bind(name="Phone again", replaces=first.sim.public_id)
    assert bound.status_code == 201, bound.text

    fresh(db)
    device = db.scalars(select(Device).where(Device.public_id == bound.json()["device_id"])).one()
    [company] = carried_companies(db, [device.id])[device.id]
    assert (company.company_name, company.inviter_name) == ("Mäkinen Design Oy", "Kaisa Mäkinen")
