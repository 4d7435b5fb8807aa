"""The admin's invitation pages in HTML: check, tick, send; the re-invite rule explained."""

from __future__ import annotations

from sqlalchemy import func, select

from portti.invitations.models import Invitation
from support import factories as f
from support.web import csrf_from, login_and_step_up

HTML = {"accept": "text/html"}


def test_invite_page_needs_the_tick_then_sends(client, db):  # INV-1 INV-3
    w = f.World(db)
    login_and_step_up(client, w.kh_a)
    url = f"/c/{w.client_a.id}/users/{w.employee_a_membership.id}/invite"
    page = client.get(url, headers=HTML)
    assert page.status_code == 200
    assert "I have verified this person's identity" in page.text
    assert w.employee_a.email in page.text and "Send invitation" in page.text

    r = client.post(url, data={"csrf_token": csrf_from(page)}, headers=HTML)
    assert r.status_code == 422
    assert "Tick the box" in r.text and 'aria-invalid="true"' in r.text
    assert db.scalar(select(func.count()).select_from(Invitation)) == 0

    r = client.post(
        url, data={"csrf_token": csrf_from(page), "identity_verified": "yes"}, headers=HTML
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?invited=1")
    assert db.scalar(select(Invitation.status)) == "sent"
    panel = client.get(
        f"/c/{w.client_a.id}/users/{w.employee_a_membership.id}/invitation-panel", headers=HTML
    )
    assert "Invitation progress" in panel.text and "Cancel invitation" in panel.text


def test_invite_page_explains_when_only_support_may_reinvite(client, db):  # INV-4
    w = f.World(db)
    login_and_step_up(client, w.kh_a)
    url = f"/c/{w.client_a.id}/users/{w.employee_a_membership.id}/invite"
    page = client.get(url, headers=HTML)
    client.post(url, data={"csrf_token": csrf_from(page), "identity_verified": "yes"})
    person = db.get(type(w.employee_a), w.employee_a.id)
    person.phone = "+358409999999"
    person.contact_version += 1
    db.commit()
    page = client.get(url, headers=HTML)
    assert "only customer service can send a new invitation" in page.text
    assert "Send invitation" not in page.text
    r = client.post(
        url, data={"csrf_token": csrf_from(page), "identity_verified": "yes"}, headers=HTML
    )
    assert r.status_code == 403
    assert db.scalar(select(func.count()).select_from(Invitation)) == 1
