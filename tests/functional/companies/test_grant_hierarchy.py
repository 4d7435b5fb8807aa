"""The grant hierarchy across tenants (SEC-1, SEC-7): a person's details, invitations and
sessions reach every company their rights reach, so only an admin of all of those (or Support)
may change them; a member holding a role the admin could not give is out of the admin's hands.

Each attack is made through HTTP, as the outside review made it, and must stop at its first
step, change nothing and leave an ``access_denied`` row in the audit log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from portti.companies.catalogue import OFFICE_MAIN_USER, SUPPORT, USER_ADMIN
from portti.companies.models import Membership
from portti.infra.outbox import OutboxMessage
from portti.invitations.models import Invitation
from support import factories as f
from support.db import audit_events, changed_only_by_audit, fresh, snapshot
from support.messages import queued
from support.web import (
    HTML,
    another_browser,
    api_headers,
    force_login,
    is_logged_in,
    page_csrf,
)

ATTACKER = {
    "email": "attacker@example.net",
    "phone": "+358 50 666 0000",
}


def person_form(p: Any, **overrides: str) -> dict[str, str]:
    data = {
        "given_name": p.given_name,
        "family_name": p.family_name,
        "email": p.email,
        "phone": p.phone,
    }
    data.update(overrides)
    return data


def invitations_and_messages(db: Any) -> tuple[int, int]:
    fresh(db)
    return (
        int(db.scalar(select(func.count()).select_from(Invitation)) or 0),
        int(db.scalar(select(func.count()).select_from(OutboxMessage)) or 0),
    )


def membership_of(db: Any, person: Any, company: Any) -> Membership:
    return db.scalars(
        select(Membership).where(
            Membership.person_id == person.id, Membership.company_id == company.id
        )
    ).one()


def attempt_takeover(client: Any, cid: int, mid: int, victim: Any) -> list[Any]:
    """Every first step of the takeover, HTML and JSON: edit the contact details to the
    attacker's, invite, and generate the confirmation code."""
    csrf = page_csrf(client)
    api = {"X-CSRF-Token": csrf}
    return [
        client.post(
            f"/c/{cid}/users/{mid}/person",
            data={**person_form(victim, **ATTACKER), "csrf_token": csrf},
            headers=HTML,
        ),
        client.put(
            f"/api/v1/companies/{cid}/members/{mid}/person",
            json=person_form(victim, **ATTACKER),
            headers=api,
        ),
        client.post(
            f"/c/{cid}/users/{mid}/invite",
            data={"identity_verified": "yes", "csrf_token": csrf},
            headers=HTML,
        ),
        client.post(
            f"/api/v1/companies/{cid}/members/{mid}/invitation",
            json={"identity_verified": True},
            headers=api,
        ),
        client.post(
            f"/api/v1/companies/{cid}/members/{mid}/invitation/confirmation-code", headers=api
        ),
    ]


def assert_all_refused_for_support(responses: list[Any]) -> None:
    for r in responses:
        assert r.status_code == 403, (r.request.method, r.request.url, r.status_code, r.text[:300])
        if r.headers["content-type"].startswith("application/problem+json"):
            assert r.json()["code"] == "person_needs_support"
        else:
            assert "Only customer service can change their personal details" in r.text


# How the victim (KH of Other Oy) is also known to Client A: an ended membership, a valid one,
# or a valid one while their KH role elsewhere only starts tomorrow.
VICTIMS = ["ended_in_a", "valid_in_a", "admin_elsewhere_from_tomorrow"]


@pytest.fixture
def victim(request, db, world, today):  # type: ignore[no-untyped-def]
    v = f.person(db, "Veikko", "Victim")
    kind = request.param
    f.member(
        db,
        v,
        world.client_a,
        ["bookkeeper"],
        valid_until=today - timedelta(days=1) if kind == "ended_in_a" else None,
    )
    f.member(
        db,
        v,
        world.other,
        [USER_ADMIN],
        valid_from=today + timedelta(days=1) if kind == "admin_elsewhere_from_tomorrow" else None,
    )
    db.commit()
    return v


@pytest.mark.parametrize("victim", VICTIMS, indirect=True)
def test_sec1_kh_cannot_take_over_an_admin_of_another_company_refused(
    client, db, world, victim
):  # SEC-1 INV-4 ADM-9
    force_login(client, world.kh_a, stepped_up=True)
    m = membership_of(db, victim, world.client_a)
    before = snapshot(db)
    counted = invitations_and_messages(db)

    responses = attempt_takeover(client, world.client_a.id, m.id, victim)

    assert_all_refused_for_support(responses)
    # Nothing changed: no attacker address, no invitation, no message; each refusal audited.
    assert changed_only_by_audit(db, before) == ["access_denied"] * len(responses)
    assert invitations_and_messages(db) == counted
    denied = audit_events(db, "access_denied")
    assert {e.details["operation"] for e in denied} == {
        "change_person",
        "invite",
        "issue_admin_code",
    }
    assert {(e.actor_person_id, e.subject_person_id, e.company_id) for e in denied} == {
        (world.kh_a.id, victim.id, world.client_a.id)
    }
    # The page says who can, and offers neither the form nor the invitation.
    page = client.get(f"/c/{world.client_a.id}/users/{m.id}", headers=HTML)
    assert 'data-testid="person-needs-support"' in page.text
    assert f'action="/c/{world.client_a.id}/users/{m.id}/person"' not in page.text
    invite = client.get(f"/c/{world.client_a.id}/users/{m.id}/invite", headers=HTML)
    assert 'data-code="person_needs_support"' in invite.text
    assert "Send invitation" not in invite.text


def test_sec1_office_kh_cannot_take_over_the_offices_tpk_refused(client, db, world):  # SEC-1 SEC-7
    """The office's KH administers the office, where the TPK is a member; the TPK administers
    every client of the office. Becoming the TPK would give the KH all the clients."""
    kh_office = f.person(db, "Kerttu", "KhOffice")
    f.member(db, kh_office, world.office, [USER_ADMIN])
    db.commit()
    force_login(client, kh_office, stepped_up=True)
    m = membership_of(db, world.tpk, world.office)
    before = snapshot(db)
    counted = invitations_and_messages(db)

    responses = attempt_takeover(client, world.office.id, m.id, world.tpk)

    assert_all_refused_for_support(responses)
    assert changed_only_by_audit(db, before) == ["access_denied"] * len(responses)
    assert invitations_and_messages(db) == counted


def test_sec1_an_ended_membership_is_never_invited_not_even_by_support(
    client, db, world, settings, today
):  # SEC-1 INV-1
    v = f.person(db, "Veikko", "Victim")
    ended = f.member(db, v, world.client_a, ["bookkeeper"], valid_until=today - timedelta(days=1))
    later = f.member(db, v, world.client_b, ["bookkeeper"], valid_from=today + timedelta(days=3))
    db.commit()
    force_login(client, world.support, stepped_up=True)
    for company, m in ((world.client_a, ended), (world.client_b, later)):
        r = client.post(
            f"/api/v1/companies/{company.id}/members/{m.id}/invitation",
            json={"identity_verified": True},
            headers=api_headers(client),
        )
        assert r.status_code == 409, r.text
        assert r.json()["code"] == "invitee_not_valid"
        page = client.post(
            f"/c/{company.id}/users/{m.id}/invite",
            data={"identity_verified": "yes", "csrf_token": page_csrf(client)},
            headers=HTML,
        )
        assert page.status_code == 409
        assert "An invitation can be sent only while they are valid." in page.text
    assert invitations_and_messages(db)[0] == 0


def test_sec1_support_may_change_a_persons_details_and_the_old_address_is_told(
    client, db, world, settings
):  # SEC-1 ADM-1
    v = f.person(db, "Veikko", "Victim")
    f.member(db, v, world.client_a, ["bookkeeper"])
    m = f.member(db, v, world.other, [USER_ADMIN])
    db.commit()
    old_email = v.email
    force_login(client, world.support, stepped_up=True)
    r = client.put(
        f"/api/v1/companies/{world.other.id}/members/{m.id}/person",
        json=person_form(v, email="veikko.new@example.com"),
        headers=api_headers(client),
    )
    assert r.status_code == 200, r.text
    [notice] = [
        msg
        for msg in queued(db, settings.secret, channel="email")
        if msg["kind"] == "contact_changed"
    ]
    assert notice["to"] == old_email
    assert "E-mail address" in notice["text"] and world.support.full_name in notice["text"]
    assert "veikko.new@example.com" not in notice["text"]  # the new address is not told


def test_sec1_a_phone_change_is_told_to_the_email_address(kh, db, world, settings):  # SEC-1
    p = world.employee_a
    r = kh.put(
        f"/api/v1/companies/{world.client_a.id}/members/{world.employee_a_membership.id}/person",
        json=person_form(p, phone="+358 40 111 2233"),
        headers=api_headers(kh),
    )
    assert r.status_code == 200, r.text
    [notice] = [
        msg
        for msg in queued(db, settings.secret, channel="email")
        if msg["kind"] == "contact_changed"
    ]
    assert notice["to"] == p.email and "Mobile phone number" in notice["text"]
    # A change of name alone is not a change of contact details.
    r = kh.put(
        f"/api/v1/companies/{world.client_a.id}/members/{world.employee_a_membership.id}/person",
        json=person_form(p, given_name="Eeró", phone="+358 40 111 2233"),
        headers=api_headers(kh),
    )
    assert r.status_code == 200, r.text
    assert len(queued(db, settings.secret, channel="email")) == 1


def test_sec1_tpk_manages_a_person_in_two_of_the_offices_clients(client, db, world):  # SEC-1 ADM-9
    """Within the admin's reach the person-wide rule allows: the TPK administers both."""
    v = f.person(db, "Ville", "Both")
    f.member(db, v, world.client_a, ["bookkeeper"])
    m = f.member(db, v, world.client_b, ["payroll"])
    db.commit()
    force_login(client, world.tpk, stepped_up=True)
    r = client.put(
        f"/api/v1/companies/{world.client_b.id}/members/{m.id}/person",
        json=person_form(v, email="ville.new@example.com"),
        headers=api_headers(client),
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"/api/v1/companies/{world.client_b.id}/members/{m.id}/invitation",
        json={"identity_verified": True},
        headers=api_headers(client),
    )
    assert r.status_code == 201, r.text


# -- SEC-7: the hierarchy over memberships and sessions --------------------------------------

OUTRANKED = [
    # (the admin's company and role, the member's company and role)
    ("operator", USER_ADMIN, "support", SUPPORT),
    ("office", USER_ADMIN, "tpk", OFFICE_MAIN_USER),
]


@pytest.mark.parametrize(("company_name", "admin_role", "member_name", "role"), OUTRANKED)
def test_sec7_kh_cannot_change_or_remove_a_tpk_or_support_member_refused(
    client, db, world, company_name, admin_role, member_name, role
):  # SEC-7 ADM-9
    company = getattr(world, company_name)
    kh = f.person(db, "Kalle", "Kh")
    f.member(db, kh, company, [admin_role])
    db.commit()
    m = membership_of(db, getattr(world, member_name), company)
    force_login(client, kh, stepped_up=True)
    csrf = page_csrf(client)
    before = snapshot(db)
    change = {"roles": ["reporting"], "validity": "until_further_notice", "receives_email": "yes"}
    responses = [
        client.patch(
            f"/api/v1/companies/{company.id}/members/{m.id}",
            json={"roles": ["reporting"]},
            headers={"X-CSRF-Token": csrf},
        ),
        client.delete(
            f"/api/v1/companies/{company.id}/members/{m.id}", headers={"X-CSRF-Token": csrf}
        ),
        client.post(
            f"/c/{company.id}/users/{m.id}/membership",
            data={**change, "csrf_token": csrf},
            headers=HTML,
        ),
        client.post(
            f"/c/{company.id}/users/{m.id}/remove", data={"csrf_token": csrf}, headers=HTML
        ),
    ]
    for r in responses:
        assert r.status_code == 403, (r.request.url, r.text[:300])
    assert responses[0].json()["code"] == "member_outranks_admin"
    assert f"This user holds roles you cannot give ({role})" in responses[2].text
    assert changed_only_by_audit(db, before) == ["access_denied"] * 4
    page = client.get(f"/c/{company.id}/users/{m.id}", headers=HTML)
    assert 'data-testid="member-outranks-admin"' in page.text
    assert f'action="/c/{company.id}/users/{m.id}/remove"' not in page.text


def test_sec7_support_may_change_a_tpk(client, db, world):  # SEC-7 ADM-9
    m = membership_of(db, world.tpk, world.office)
    force_login(client, world.support, stepped_up=True)
    r = client.patch(
        f"/api/v1/companies/{world.office.id}/members/{m.id}",
        json={"roles": [OFFICE_MAIN_USER, "reporting"]},
        headers=api_headers(client),
    )
    assert r.status_code == 200, r.text
    assert r.json()["roles"] == [OFFICE_MAIN_USER, "reporting"]


def test_sec7_kh_cannot_end_sessions_of_a_member_elsewhere_refused(
    client, app, db, world
):  # SEC-7 WEB-5
    v = f.person(db, "Veikko", "Victim")
    m = f.member(db, v, world.client_a, ["bookkeeper"])
    f.member(db, v, world.other, [USER_ADMIN])
    db.commit()
    theirs = another_browser(app)
    force_login(theirs, v)
    force_login(client, world.kh_a, stepped_up=True)
    before = snapshot(db)
    r = client.post(
        f"/c/{world.client_a.id}/users/{m.id}/end-sessions",
        data={"csrf_token": page_csrf(client)},
        headers=HTML,
    )
    assert r.status_code == 403
    assert "Only customer service can change their personal details" in r.text
    assert changed_only_by_audit(db, before) == ["access_denied"]
    assert is_logged_in(theirs)
    page = client.get(f"/c/{world.client_a.id}/users/{m.id}", headers=HTML)
    assert "/end-sessions" not in page.text
    # Support may.
    force_login(client, world.support, stepped_up=True)
    r = client.post(
        f"/c/{world.client_a.id}/users/{m.id}/end-sessions",
        data={"csrf_token": page_csrf(client)},
        headers=HTML,
    )
    assert r.status_code == 303
    assert not is_logged_in(theirs)


def test_sec7_ending_sessions_needs_a_fresh_step_up(client, app, db, world):  # SEC-7 ADM-2 WEB-5
    theirs = another_browser(app)
    force_login(theirs, world.employee_a)
    force_login(client, world.kh_a)  # logged in, not stepped up
    mid = world.employee_a_membership.id
    before = snapshot(db)
    r = client.post(
        f"/c/{world.client_a.id}/users/{mid}/end-sessions",
        data={"csrf_token": page_csrf(client)},
        headers={**HTML, "referer": f"http://testserver/c/{world.client_a.id}/users/{mid}"},
    )
    assert r.status_code == 303
    assert r.headers["location"].startswith("/step-up?next=")
    assert snapshot(db) == before
    assert is_logged_in(theirs)
    page = client.get(f"/c/{world.client_a.id}/users/{mid}", headers=HTML)
    assert '<button type="submit" disabled>End the person' in page.text


def test_sec7_tpk_ends_sessions_of_a_person_in_two_clients(client, app, db, world):  # SEC-7
    v = f.person(db, "Ville", "Both")
    m = f.member(db, v, world.client_a, ["bookkeeper"])
    f.member(db, v, world.client_b, ["payroll"])
    db.commit()
    theirs = another_browser(app)
    force_login(theirs, v)
    force_login(client, world.tpk, stepped_up=True)
    r = client.post(
        f"/c/{world.client_a.id}/users/{m.id}/end-sessions",
        data={"csrf_token": page_csrf(client)},
        headers=HTML,
    )
    assert r.status_code == 303, r.text
    assert not is_logged_in(theirs)
