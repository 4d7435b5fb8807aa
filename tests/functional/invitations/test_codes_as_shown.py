"""Codes are typed as the person was shown them (UX-4), the activation offers the invited
address (UX-19), and a code whose invitation was cancelled says that this can be why, without
telling a wrong code from a cancelled one (UX-19)."""

from __future__ import annotations

import pytest

from support import factories as f
from support.activation import cancel_invitation, invite, latest_signup_code
from support.web import login_and_step_up, page_csrf

API = "/app-api/v1"


@pytest.fixture
def world(db):  # type: ignore[no-untyped-def]
    return f.World(db)


def redeem(client, code: str):  # type: ignore[no-untyped-def]
    return client.post(f"{API}/activations", json={"signup_code": code})


@pytest.mark.parametrize("shown", ["{a} {b}", "{a}-{b}", "{a}\u2013{b}", " {a} {b} "])
def test_the_admins_confirmation_code_is_accepted_as_shown(
    client, db, settings, world, shown
):  # UX-4
    login_and_step_up(client, world.kh_a)
    m = world.employee_a_membership
    invite(client, world.client_a.id, m.id)
    signup = latest_signup_code(db, settings.secret, world.employee_a)
    started = redeem(client, f"{signup[:4]} {signup[4:8]}-{signup[8:12]} {signup[12:]}")
    assert started.status_code == 201, started.text
    # The invited address, for the app to offer as the account's (UX-19).
    assert started.json()["email"] == world.employee_a.email
    token = started.json()["activation_token"]
    url = f"/api/v1/companies/{world.client_a.id}/members/{m.id}/invitation/confirmation-code"
    code = client.post(url, headers={"X-CSRF-Token": page_csrf(client)}).json()["code"]
    typed = shown.format(a=code[:3], b=code[3:])
    r = client.post(
        f"{API}/activations/current/confirmation-code",
        json={"code": typed},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["step"] == "account" and r.json()["email"] == world.employee_a.email


def test_a_code_cut_short_is_refused_and_changes_nothing(client, db, settings, world):  # UX-4
    login_and_step_up(client, world.kh_a)
    invite(client, world.client_a.id, world.employee_a_membership.id)
    signup = latest_signup_code(db, settings.secret, world.employee_a)
    token = redeem(client, signup).json()["activation_token"]
    auth = {"Authorization": f"Bearer {token}"}
    r = client.post(
        f"{API}/activations/current/confirmation-code", json={"code": "449 19"}, headers=auth
    )
    assert r.status_code == 400 and r.json()["code"] == "sms_code_wrong", r.text
    assert client.get(f"{API}/activations/current", headers=auth).json()["step"] == "confirm_phone"


def test_a_cancelled_invitations_code_says_cancelling_is_a_reason_without_an_oracle(
    client, db, settings, world
):  # UX-19
    login_and_step_up(client, world.kh_a)
    m = world.employee_a_membership
    invite(client, world.client_a.id, m.id)
    signup = latest_signup_code(db, settings.secret, world.employee_a)
    cancel_invitation(client, world.client_a.id, m.id)
    cancelled = redeem(client, signup)
    assert cancelled.status_code == 400 and cancelled.json()["code"] == "invitation_invalid"
    assert "cancelled" in cancelled.json()["detail"]
    assert "16 digits" in cancelled.json()["detail"]
    wrong = redeem(client, "1234 5678 9012 3456")
    # The same words for a code that never existed: nothing tells the two apart.
    assert wrong.json() == cancelled.json()
