"""The menus offer only what the person may open (SEC-12): every link and form in them, followed
as the person, answers something other than 403."""

from __future__ import annotations

import html
import re
from typing import Any

from portti.companies.catalogue import USER_ADMIN
from support import factories as f
from support.web import HTML, csrf_from, force_login

HEADER = re.compile(r'<header class="top">(.*?)</header>', re.S)
ACTIONS = re.compile(r'<ul class="actions">(.*?)</ul>', re.S)
LINK = re.compile(r'<a href="([^"]+)"')
FORM = re.compile(r'<form method="post" action="([^"]+)"')


def menu_targets(page: str) -> tuple[set[str], set[str]]:
    """The links and the form targets of the page's menus (the header and the action list)."""
    menus = HEADER.findall(page) + ACTIONS.findall(page)
    links = {html.unescape(u) for m in menus for u in LINK.findall(m)}
    forms = {html.unescape(u) for m in menus for u in FORM.findall(m)}
    return links, forms


def follow_every_menu_entry(client: Any) -> dict[str, int]:
    """Renders the pages a member sees, then requests every menu target; forms last (one of
    them logs out). Returns what each answered."""
    r = client.get("/companies", headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == "/home", r.text
    links: set[str] = set()
    forms: set[str] = set()
    csrf = ""
    for path in ("/home", "/settings"):
        page = client.get(path, headers=HTML)
        assert page.status_code == 200, page.text
        csrf = csrf_from(page)
        more_links, more_forms = menu_targets(page.text)
        links |= more_links
        forms |= more_forms
    answers = {f"GET {u}": client.get(u, headers=HTML).status_code for u in sorted(links)}
    for u in sorted(forms):
        answers[f"POST {u}"] = client.post(u, data={"csrf_token": csrf}, headers=HTML).status_code
    return answers


def test_sec12_an_employees_menu_has_no_link_that_answers_403(client, world):  # SEC-12 WEB-3
    force_login(client, world.employee_a)
    answers = follow_every_menu_entry(client)
    assert "GET /settings" in answers and "POST /logout" in answers
    refused = {target: status for target, status in answers.items() if status == 403}
    assert refused == {}, answers
    assert not any(t.startswith("GET /c/") for t in answers), answers


def test_sec12_an_admin_elsewhere_sees_no_admin_links_in_this_company(client, db, world):  # SEC-12
    """The menu asks about this company, not whether the person administers any."""
    f.member(db, world.employee_a, world.other, [USER_ADMIN])
    db.commit()
    force_login(client, world.employee_a)
    r = client.post(
        "/companies",
        data={
            "company_id": str(world.client_a.id),
            "csrf_token": csrf_from(client.get("/companies", headers=HTML)),
        },
    )
    assert r.status_code == 303
    page = client.get("/home", headers=HTML)
    links, _ = menu_targets(page.text)
    assert not any(u.startswith("/c/") for u in links), links
    for u in links:
        assert client.get(u, headers=HTML).status_code != 403, u


def test_sec12_an_admins_menu_still_offers_administration(client, world):  # SEC-12 ADM-9
    force_login(client, world.kh_a)
    answers = follow_every_menu_entry(client)
    cid = world.client_a.id
    for path in (f"/c/{cid}/users", f"/c/{cid}/audit", f"/c/{cid}/messages"):
        assert answers[f"GET {path}"] == 200, answers
    assert not [t for t, status in answers.items() if status == 403], answers
