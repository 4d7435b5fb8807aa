"""Who may administer whom (ADM-9): KH their own company, TPK their office's clients, Support
every company, nobody else; every admin endpoint denies across tenants and changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from portti.companies import api as companies_api
from portti.companies import bulk_views as companies_bulk_views
from portti.companies import views as companies_views
from portti.companies.catalogue import OFFICE_MAIN_USER, SUPPORT, USER_ADMIN
from portti.companies.models import Profile
from support import factories as f
from support import wizard
from support.db import counts, snapshot
from support.web import HTML, another_browser, api_headers, force_login, page_csrf


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # with {cid} and {mid}
    html: bool
    form: dict[str, Any] = field(default_factory=dict)
    json: dict[str, Any] | None = None

    def send(self, client, cid: int, mid: int, csrf: str):  # type: ignore[no-untyped-def]
        url = self.path.format(cid=cid, mid=mid)
        headers = dict(HTML) if self.html else {}
        if self.method in {"GET", "HEAD"}:
            return client.request(self.method, url, headers=headers)
        if self.html:
            form = {k: fill(v, cid, mid) for k, v in self.form.items()}
            return client.request(
                self.method, url, data={**form, "csrf_token": csrf}, headers=headers
            )
        return client.request(
            self.method, url, json=self.json, headers={**headers, "X-CSRF-Token": csrf}
        )


def fill(value: Any, cid: int, mid: int) -> Any:
    """A form value with the target's ids put in (``{mid}``: the membership's id)."""
    if isinstance(value, str):
        return value.replace("{cid}", str(cid)).replace("{mid}", str(mid))
    if isinstance(value, list):
        return [fill(v, cid, mid) for v in value]
    return value


CHANGE = {"roles": ["read_only"], "validity": "until_further_notice", "receives_email": "yes"}
PERSON = {
    "given_name": "Changed",
    "family_name": "Name",
    "email": "changed@example.com",
    "phone": "+358 40 999 8888",
}

ADMIN_CALLS = [
    Call("GET", "/c/{cid}/users", html=True),
    Call("GET", "/c/{cid}/users/new", html=True),
    Call("POST", "/c/{cid}/users/new", html=True, form=wizard.form()),
    Call("GET", "/c/{cid}/users/{mid}", html=True),
    Call("POST", "/c/{cid}/users/{mid}/membership", html=True, form=CHANGE),
    Call("POST", "/c/{cid}/users/{mid}/person", html=True, form=PERSON),
    Call("POST", "/c/{cid}/users/{mid}/remove", html=True),
    Call("POST", "/c/{cid}/users/{mid}/end-sessions", html=True),
    Call("GET", "/c/{cid}/audit", html=True),
    Call("GET", "/c/{cid}/users/import", html=True),
    Call("GET", "/c/{cid}/users/import/template.csv", html=True),
    Call("POST", "/c/{cid}/users/import", html=True),
    Call("POST", "/c/{cid}/users/import/confirm", html=True, form={"upload": "x"}),
    Call("POST", "/c/{cid}/users/import/invite", html=True, form={"m": ["{mid}"]}),
    Call("GET", "/c/{cid}/users/import/invite", html=True),
    Call("GET", "/c/{cid}/users/import/invitations?since=2026-01-01T00:00:00", html=True),
    Call("POST", "/c/{cid}/settings/language", html=True, form={"default_language": "sv"}),
    Call("GET", "/api/v1/companies/{cid}/members", html=False),
    Call("POST", "/api/v1/companies/{cid}/members", html=False, json=wizard.body()),
    Call("GET", "/api/v1/companies/{cid}/members/{mid}", html=False),
    Call(
        "PATCH",
        "/api/v1/companies/{cid}/members/{mid}",
        html=False,
        json={**CHANGE, "receives_email": False},
    ),
    Call("PUT", "/api/v1/companies/{cid}/members/{mid}/person", html=False, json=PERSON),
    Call("DELETE", "/api/v1/companies/{cid}/members/{mid}", html=False),
    Call("GET", "/api/v1/companies/{cid}/audit", html=False),
]


def route_key(method: str, path: str) -> tuple[str, str]:
    return method, path.replace("{company_id}", "{cid}").replace("{membership_id}", "{mid}")


def test_the_table_covers_every_admin_route_of_users_and_roles():  # ADM-9
    routes = set()
    for router in (companies_views.router, companies_api.router, companies_bulk_views.router):
        for route in router.routes:
            if "{company_id}" in route.path:  # type: ignore[attr-defined]
                for method in route.methods:  # type: ignore[attr-defined]
                    routes.add(route_key(method, route.path))  # type: ignore[attr-defined]
    assert routes == {(c.method, c.path.split("?")[0]) for c in ADMIN_CALLS}


# actor, target company, target membership (attributes of World)
OUTSIDERS = [
    ("kh_a", "other", "employee_other_membership"),  # KH of another company
    ("kh_other", "client_a", "employee_a_membership"),  # KH of another company
    ("employee_a", "client_a", "kh_a_membership"),  # an employee of the company itself
    ("tpk", "other", "employee_other_membership"),  # TPK, company outside their office
    ("tpk", "office", "tpk_membership"),  # TPK is not KH of the office itself
]


def membership(db, world, name: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from portti.companies.models import Membership

    if hasattr(world, name):
        return getattr(world, name)
    person = getattr(world, name.removesuffix("_membership"))
    return db.scalars(select(Membership).where(Membership.person_id == person.id)).one()


@pytest.mark.parametrize(("actor", "target", "target_member"), OUTSIDERS)
def test_outsiders_are_refused_on_every_admin_route_and_nothing_changes(
    client, app, db, world, actor, target, target_member
):  # ADM-9 ADM-2
    company = getattr(world, target)
    m = membership(db, world, target_member)
    # The target person is logged in somewhere: "end sessions" would show in the database.
    force_login(another_browser(app), m.person)
    force_login(client, getattr(world, actor), stepped_up=True)
    csrf = page_csrf(client)
    before = snapshot(db)
    for call in ADMIN_CALLS:
        r = call.send(client, company.id, m.id, csrf)
        assert r.status_code in (403, 404), (call, r.status_code, r.text[:300])
        assert m.person.portti_id not in r.text, call
        if call.html:
            assert "You are not a user administrator of this company." in r.text, call
        else:
            assert r.json()["code"] in ("forbidden", "not_found"), call
    assert snapshot(db) == before


def test_a_membership_of_company_b_under_company_as_url_is_404(client, db, world):  # ADM-9
    force_login(client, world.kh_a, stepped_up=True)
    csrf = page_csrf(client)
    theirs = world.employee_other_membership
    before = snapshot(db)
    for call in ADMIN_CALLS:
        if "{mid}" not in call.path:
            continue
        r = call.send(client, world.client_a.id, theirs.id, csrf)
        assert r.status_code == 404, (call, r.status_code, r.text[:300])
        assert world.employee_other.portti_id not in r.text
    assert snapshot(db) == before


def test_a_company_that_does_not_exist_is_404(kh, db, world):  # ADM-9
    r = kh.get("/api/v1/companies/999999/members")
    assert r.status_code == 404
    assert kh.get("/c/999999/users", headers=HTML).status_code == 404


def test_kh_of_a_never_sees_b_people(kh, world):  # ADM-9 ADM-1
    stranger = world.employee_other.portti_id
    r = kh.get(f"/api/v1/companies/{world.other.id}/members", params={"q": stranger})
    assert r.status_code == 403
    r = kh.get(f"/api/v1/companies/{world.client_a.id}/members", params={"q": stranger})
    assert r.status_code == 200 and r.json()["items"] == []
    r = kh.get(f"/c/{world.client_a.id}/users", params={"q": stranger}, headers=HTML)
    assert r.status_code == 200
    results = r.text[r.text.index('<div id="member-results">') :]
    assert "No users match." in results and stranger not in results
    everyone = kh.get(f"/api/v1/companies/{world.client_a.id}/members").json()["items"]
    assert {i["portti_id"] for i in everyone} == {world.kh_a.portti_id, world.employee_a.portti_id}


def test_kh_administers_only_their_own_company(kh, world):  # ADM-9
    r = kh.get("/api/v1/companies")
    assert [c["id"] for c in r.json()] == [world.client_a.id]


def test_tpk_administers_exactly_the_offices_clients(client, world, db):  # ADM-9
    force_login(client, world.tpk, stepped_up=True)
    r = client.get("/api/v1/companies")
    assert r.status_code == 200
    assert sorted(c["id"] for c in r.json()) == sorted([world.client_a.id, world.client_b.id])
    r = client.get(f"/api/v1/companies/{world.client_a.id}/members")
    assert {i["portti_id"] for i in r.json()["items"]} == {
        world.kh_a.portti_id,
        world.employee_a.portti_id,
    }
    before = counts(db)
    r = client.post(
        f"/api/v1/companies/{world.client_b.id}/members",
        json=wizard.body(),
        headers=api_headers(client),
    )
    assert r.status_code == 201, r.text
    assert counts(db)["memberships"] == before["memberships"] + 1


def test_support_administers_every_company(client, world):  # ADM-9
    force_login(client, world.support, stepped_up=True)
    r = client.get("/api/v1/companies")
    ids = {c["id"] for c in r.json()}
    assert ids == {
        c.id for c in (world.operator, world.office, world.client_a, world.client_b, world.other)
    }
    for c in (world.other, world.client_a, world.office):
        assert client.get(f"/api/v1/companies/{c.id}/members").status_code == 200
        assert client.get(f"/c/{c.id}/users", headers=HTML).status_code == 200
    r = client.patch(
        f"/api/v1/companies/{world.other.id}/members/{world.employee_other_membership.id}",
        json={"roles": ["payroll", "reporting"]},
        headers=api_headers(client),
    )
    assert r.status_code == 200, r.text
    assert r.json()["roles"] == ["payroll", "reporting"]


@pytest.mark.parametrize("role", [SUPPORT, OFFICE_MAIN_USER])
def test_kh_cannot_grant_system_roles_of_other_kinds_of_company(kh, world, db, role):  # ADM-9 OPS-4
    before = snapshot(db)
    r = kh.post(
        f"/api/v1/companies/{world.client_a.id}/members",
        json=wizard.body(roles=[role]),
        headers=api_headers(kh),
    )
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "roles", "message": f"These roles cannot be given here: {role}."}
    ]
    r = kh.patch(
        f"/api/v1/companies/{world.client_a.id}/members/{world.employee_a_membership.id}",
        json={"roles": ["bookkeeper", role]},
        headers=api_headers(kh),
    )
    assert r.status_code == 422
    r = kh.post(
        f"/c/{world.client_a.id}/users/{world.employee_a_membership.id}/membership",
        data={**CHANGE, "roles": [role], "csrf_token": page_csrf(kh)},
        headers=HTML,
    )
    assert r.status_code == 422
    assert f"These roles cannot be given here: {role}." in r.text
    assert snapshot(db) == before


def test_kh_can_grant_user_admin_in_their_own_company(kh, world):  # ADM-9 ADM-7
    r = kh.patch(
        f"/api/v1/companies/{world.client_a.id}/members/{world.employee_a_membership.id}",
        json={"roles": ["bookkeeper", USER_ADMIN]},
        headers=api_headers(kh),
    )
    assert r.status_code == 200, r.text
    assert r.json()["roles"] == ["bookkeeper", USER_ADMIN]


def test_an_expired_kh_membership_no_longer_grants_admin(client, world, db, today):  # ADM-9 ADM-7
    ex = f.person(db, "Ex", "Admin")
    f.member(db, ex, world.client_a, [USER_ADMIN], valid_until=today - timedelta(days=1))
    db.commit()
    force_login(client, ex, stepped_up=True)
    before = snapshot(db)
    assert client.get("/api/v1/companies").json() == []
    assert client.get(f"/api/v1/companies/{world.client_a.id}/members").status_code == 403
    r = client.post(
        f"/api/v1/companies/{world.client_a.id}/members",
        json=wizard.body(),
        headers=api_headers(client),
    )
    assert r.status_code == 403
    assert client.get(f"/c/{world.client_a.id}/users", headers=HTML).status_code == 403
    assert snapshot(db) == before


def test_a_kh_membership_starting_later_does_not_grant_admin_yet(
    client, world, db, today
):  # ADM-9 ADM-7
    soon = f.person(db, "Soon", "Admin")
    f.member(db, soon, world.client_a, [USER_ADMIN], valid_from=today + timedelta(days=1))
    db.commit()
    force_login(client, soon, stepped_up=True)
    assert client.get(f"/api/v1/companies/{world.client_a.id}/members").status_code == 403


def test_not_logged_in_is_401_on_the_api_and_login_on_the_pages(client, world, db):  # ADM-9
    before = snapshot(db)
    r = client.get(f"/api/v1/companies/{world.client_a.id}/members")
    assert r.status_code == 401
    assert r.json()["code"] == "not_authenticated"
    r = client.get(f"/c/{world.client_a.id}/users", headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")
    assert snapshot(db) == before


def test_a_profile_of_another_company_cannot_be_given(kh, world, db):  # ADM-9
    theirs = Profile(company_id=world.other.id, name="Other Oy's own profile")
    db.add(theirs)
    db.commit()
    assert (
        "Other Oy&#39;s own profile"
        not in kh.get(f"/c/{world.client_a.id}/users/new", headers=HTML).text
    )
    before = snapshot(db)
    r = kh.post(
        f"/api/v1/companies/{world.client_a.id}/members",
        json=wizard.body(profiles=[theirs.id]),
        headers=api_headers(kh),
    )
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "profiles", "message": "Choose profiles from the list."}
    ]
    assert snapshot(db) == before
