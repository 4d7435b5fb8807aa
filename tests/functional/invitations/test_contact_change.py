"""An invitation belongs to the address and number it was sent to (SEC-3, INV-4): changing
either cancels it, the old sign-up code stops working in the app, and the admin is told so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portti.invitations.models import Invitation
from support import factories as f
from support.db import audit_events, fresh
from support.messages import queued, signup_code_in, sms_code_in
from support.web import HTML, api_headers, force_login, page_csrf


def invite(client, company, membership):  # type: ignore[no-untyped-def]
    r = client.post(
        f"/api/v1/companies/{company.id}/members/{membership.id}/invitation",
        json={"identity_verified": True},
        headers=api_headers(client),
    )
    return r


def signup_code(db, settings, person) -> str:  # type: ignore[no-untyped-def]
    mails = [
        m
        for m in queued(db, settings.secret, channel="email", to=person.email)
        if m["kind"] == "invitation"
    ]
    return signup_code_in(mails[-1]["text"])


def redeem(client, code: str):  # type: ignore[no-untyped-def]
    return client.post("/app-api/v1/activations", json={"signup_code": code})


def details(p, **overrides: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "given_name": p.given_name,
        "family_name": p.family_name,
        "email": p.email,
        "phone": p.phone,
        **overrides,
    }


@pytest.mark.parametrize(
    "change", [{"email": "eero.new@example.com"}, {"phone": "+358 40 222 3344"}]
)
def test_sec3_changing_email_or_phone_cancels_the_open_invitation_refused(
    kh, db, settings, world, change
):  # SEC-3 INV-3 INV-4
    p, m = world.employee_a, world.employee_a_membership
    assert invite(kh, world.client_a, m).status_code == 201
    code = signup_code(db, settings, p)

    page_url = f"/c/{world.client_a.id}/users/{m.id}"
    r = kh.post(
        f"{page_url}/person",
        data={**details(p, **change), "csrf_token": page_csrf(kh, page_url)},
        headers=HTML,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"{page_url}?contact_changed=1&invitations_cancelled=1"
    page = kh.get(r.headers["location"], headers=HTML)
    notice = page.text[page.text.index('data-testid="contact-changed"') :]
    notice = notice[: notice.index("</p>")]
    assert "The open invitation to the mobile app was cancelled" in notice
    assert "its sign-up code no longer works" in notice
    assert "only customer service can send a new invitation now" in notice

    # The attack the review made: the old code, redeemed in the app, must not start anything.
    r = redeem(kh, code)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invitation_invalid"
    fresh(db)
    inv = db.scalars(select(Invitation)).one()
    assert (inv.status, inv.code_hash, inv.ended_by_person_id) == ("cancelled", None, world.kh_a.id)
    [cancelled] = audit_events(db, "invitation_cancelled")
    assert cancelled.details["reason"] == "contact_changed"


def test_sec3_an_activation_under_way_stops_when_the_phone_changes(
    kh, db, settings, world
):  # SEC-3 INV-5
    p, m = world.employee_a, world.employee_a_membership
    assert invite(kh, world.client_a, m).status_code == 201
    r = redeem(kh, signup_code(db, settings, p))
    assert r.status_code == 201, r.text
    token = r.json()["activation_token"]
    sms = sms_code_in(queued(db, settings.secret, channel="sms", to=p.phone)[-1]["text"])

    r = kh.put(
        f"/api/v1/companies/{world.client_a.id}/members/{m.id}/person",
        json=details(p, phone="+358 40 222 3344"),
        headers=api_headers(kh),
    )
    assert r.status_code == 200, r.text
    r = kh.post(
        "/app-api/v1/activations/current/confirmation-code",
        json={"code": sms},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 410, r.text
    assert r.json()["code"] == "invitation_expired"


def test_sec3_a_change_of_name_keeps_the_invitation(kh, db, settings, world):  # SEC-3
    p, m = world.employee_a, world.employee_a_membership
    assert invite(kh, world.client_a, m).status_code == 201
    code = signup_code(db, settings, p)
    page_url = f"/c/{world.client_a.id}/users/{m.id}"
    r = kh.post(
        f"{page_url}/person",
        data={**details(p, given_name="Eerik"), "csrf_token": page_csrf(kh, page_url)},
        headers=HTML,
    )
    assert r.status_code == 303 and r.headers["location"] == page_url
    assert redeem(kh, code).status_code == 201


def test_sec1_inv4_the_reinvite_rule_looks_across_companies(
    client, db, settings, world, today
):  # SEC-1 INV-4
    """Invited in Client B, then the B rights end; in Client A, where the KH is the only admin
    left, a new e-mail address does not make a fresh start: only Support may invite again."""
    v = f.person(db, "Ville", "Both")
    m_a = f.member(db, v, world.client_a, ["bookkeeper"])
    m_b = f.member(db, v, world.client_b, ["payroll"])
    db.commit()
    force_login(client, world.support, stepped_up=True)
    assert invite(client, world.client_b, m_b).status_code == 201
    r = client.patch(
        f"/api/v1/companies/{world.client_b.id}/members/{m_b.id}",
        json={
            "roles": ["payroll"],
            "validity": "time_limited",
            "valid_until": (today - timedelta(days=1)).isoformat(),
        },
        headers=api_headers(client),
    )
    assert r.status_code == 200, r.text

    force_login(client, world.kh_a, stepped_up=True)
    r = client.put(
        f"/api/v1/companies/{world.client_a.id}/members/{m_a.id}/person",
        json=details(v, email="ville.elsewhere@example.net"),
        headers=api_headers(client),
    )
    assert r.status_code == 200, r.text  # Client A is all the person's rights reach now
    r = invite(client, world.client_a, m_a)
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "reinvite_needs_support"
    fresh(db)
    assert [i.company_id for i in db.scalars(select(Invitation))] == [world.client_b.id]
