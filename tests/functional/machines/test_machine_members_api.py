"""Machine clients on the Users and roles API (PRV-1): a bearer token instead of a cookie and a
CSRF token, members:read for reads and members:write for changes, no step-up, only the
companies the client was registered for, never Support, and every act audited with the client
as the actor."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portti.audit.models import AuditEvent
from portti.companies.models import Membership
from support import wizard
from support.machines import bearer, machine_token, register_machine
from support.web import HTML, force_login


@pytest.fixture
def machine(db, clock, settings, world):  # type: ignore[no-untyped-def]
    return register_machine(
        db,
        clock,
        settings.secret,
        name="Numerot payroll",
        scopes=["members:read", "members:write"],
        company_ids=[world.client_a.id],
    )


def members_url(company_id: int) -> str:
    return f"/api/v1/companies/{company_id}/members"


def test_a_machine_reads_and_changes_members_without_csrf_or_step_up(
    client, db, world, machine
):  # PRV-1
    token = machine_token(client, machine)
    listed = client.get(members_url(world.client_a.id), headers=bearer(token))
    assert listed.status_code == 200
    assert world.employee_a.portti_id in {m["portti_id"] for m in listed.json()["items"]}

    added = client.post(members_url(world.client_a.id), json=wizard.body(), headers=bearer(token))
    assert added.status_code == 201, added.text
    mid = added.json()["membership_id"]
    changed = client.patch(
        f"{members_url(world.client_a.id)}/{mid}",
        json={"roles": ["payroll"]},
        headers=bearer(token),
    )
    assert changed.status_code == 200 and changed.json()["roles"] == ["payroll"]
    got = client.get(f"{members_url(world.client_a.id)}/{mid}", headers=bearer(token))
    assert got.status_code == 200 and got.json()["identifiers"]
    removed = client.delete(f"{members_url(world.client_a.id)}/{mid}", headers=bearer(token))
    assert removed.status_code == 204

    events = db.scalars(
        select(AuditEvent).where(AuditEvent.company_id == world.client_a.id).order_by(AuditEvent.id)
    ).all()
    acts = [e for e in events if e.action.startswith(("membership_", "person_"))]
    assert [e.action for e in acts] == [
        "person_created",
        "membership_added",
        "membership_changed",
        "membership_removed",
    ]
    assert all(e.actor_client_id == machine.client_id for e in acts)
    assert all(e.actor_person_id is None for e in acts)
    assert {e.details.get("via") for e in acts} >= {"machine"}


def test_the_audit_log_names_the_business_software(client, db, world, machine):  # PRV-1 ADM-10
    token = machine_token(client, machine)
    assert (
        client.post(
            members_url(world.client_a.id), json=wizard.body(), headers=bearer(token)
        ).status_code
        == 201
    )
    force_login(client, world.kh_a)
    page = client.get(f"/c/{world.client_a.id}/audit", headers=HTML)
    assert page.status_code == 200
    assert "Numerot payroll (business software)" in page.text
    api = client.get(f"/api/v1/companies/{world.client_a.id}/audit").json()
    assert machine.client_id in {e["actor_client_id"] for e in api}


def test_reading_needs_members_read_and_writing_members_write(
    client, db, clock, settings, world
):  # PRV-1
    reader = register_machine(
        db, clock, settings.secret, scopes=["members:read"], company_ids=[world.client_a.id]
    )
    writer = register_machine(
        db, clock, settings.secret, scopes=["members:write"], company_ids=[world.client_a.id]
    )
    read_token = machine_token(client, reader)
    write_token = machine_token(client, writer)
    refused = client.post(
        members_url(world.client_a.id), json=wizard.body(), headers=bearer(read_token)
    )
    assert refused.status_code == 403 and refused.json()["code"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    no_read = client.get(members_url(world.client_a.id), headers=bearer(write_token))
    assert no_read.status_code == 403 and no_read.json()["code"] == "insufficient_scope"
    assert db.scalars(select(Membership).where(Membership.company_id == world.client_a.id)).all()


def test_a_machine_cannot_act_on_a_company_outside_its_list(client, db, world, machine):  # PRV-1
    token = machine_token(client, machine)
    before = len(db.scalars(select(Membership)).all())
    for company in (world.other, world.client_b, world.office, world.operator):
        r = client.post(members_url(company.id), json=wizard.body(), headers=bearer(token))
        assert r.status_code == 403 and r.json()["code"] == "company_not_allowed", company.name
        assert client.get(members_url(company.id), headers=bearer(token)).status_code == 403
    # Nor on a member of its company through another company's id.
    other_mid = world.employee_other_membership.id
    r = client.get(f"{members_url(world.client_a.id)}/{other_mid}", headers=bearer(token))
    assert r.status_code == 404
    db.expire_all()
    assert len(db.scalars(select(Membership)).all()) == before
    denied = db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "access_denied", AuditEvent.company_id == world.other.id
        )
    ).all()
    assert denied and all(e.actor_client_id == machine.client_id for e in denied)
    assert denied[0].details["reason"] == "company_not_allowed"


def test_a_machine_can_never_grant_support_or_reach_the_operator(
    client, db, clock, settings, world
):  # PRV-1 SEC-7
    everywhere = register_machine(
        db, clock, settings.secret, scopes=["members:read", "members:write"], company_ids=None
    )
    token = machine_token(client, everywhere)
    for roles in (["support"], ["office_main_user"]):
        r = client.post(
            members_url(world.client_a.id), json=wizard.body(roles=roles), headers=bearer(token)
        )
        assert r.status_code == 422, (roles, r.text)
    r = client.post(
        members_url(world.office.id),
        json=wizard.body(roles=["office_main_user"]),
        headers=bearer(token),
    )
    assert r.status_code == 422
    r = client.post(
        members_url(world.operator.id), json=wizard.body(roles=["support"]), headers=bearer(token)
    )
    assert r.status_code == 403 and r.json()["code"] == "company_not_allowed"
    # A user administrator it may name.
    kh = client.post(
        members_url(world.client_a.id),
        json=wizard.body(roles=["user_admin"]),
        headers=bearer(token),
    )
    assert kh.status_code == 201, kh.text
    # A member holding a role above the machine (a TPK in the company) is out of its hands.
    tpk_membership = db.scalars(
        select(Membership).where(Membership.person_id == world.tpk.id)
    ).one()
    r = client.delete(f"{members_url(world.office.id)}/{tpk_membership.id}", headers=bearer(token))
    assert r.status_code == 403


def test_a_bearer_request_never_acts_by_the_cookie(client, world):  # PRV-1
    """A browser session of a KH riding along with a bad token does not make the request the
    KH's: the token decides, and the CSRF check is skipped only because the cookie is ignored."""
    force_login(client, world.kh_a, stepped_up=True)
    r = client.post(
        members_url(world.client_a.id),
        json=wizard.body(),
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
    # Without a token the cookie session is as before: CSRF is required.
    r = client.post(members_url(world.client_a.id), json=wizard.body())
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"


def test_a_patch_changes_only_the_fields_it_gives(client, db, world, machine):  # PRV-1 ADM-7
    token = machine_token(client, machine)
    added = client.post(
        members_url(world.client_a.id),
        json=wizard.body(
            validity="time_limited", valid_from="2026-01-01", valid_until="2026-12-31"
        ),
        headers=bearer(token),
    )
    assert added.status_code == 201, added.text
    url = f"{members_url(world.client_a.id)}/{added.json()['membership_id']}"

    roles_only = client.patch(url, json={"roles": ["payroll"]}, headers=bearer(token))
    assert roles_only.status_code == 200, roles_only.text
    body = roles_only.json()
    assert body["roles"] == ["payroll"]
    # The rights are not silently extended: the validity period stays.
    assert (body["valid_from"], body["valid_until"]) == ("2026-01-01", "2026-12-31")

    until_only = client.patch(
        url, json={"validity": "time_limited", "valid_until": "2026-06-30"}, headers=bearer(token)
    )
    assert until_only.status_code == 200, until_only.text
    body = until_only.json()
    assert body["roles"] == ["payroll"]
    assert (body["valid_from"], body["valid_until"]) == ("2026-01-01", "2026-06-30")

    date_alone = client.patch(url, json={"valid_from": "2026-02-01"}, headers=bearer(token))
    assert date_alone.status_code == 200, date_alone.text
    assert (date_alone.json()["valid_from"], date_alone.json()["valid_until"]) == (
        "2026-02-01",
        "2026-06-30",
    )

    open_ended = client.patch(url, json={"validity": "until_further_notice"}, headers=bearer(token))
    assert open_ended.status_code == 200, open_ended.text
    assert (open_ended.json()["valid_from"], open_ended.json()["valid_until"]) == (None, None)
    assert open_ended.json()["roles"] == ["payroll"]

    no_roles = client.patch(url, json={"roles": []}, headers=bearer(token))
    assert no_roles.status_code == 422
    assert client.get(url, headers=bearer(token)).json()["roles"] == ["payroll"]


def test_a_contact_change_by_the_software_is_told_as_the_companys(
    client, db, settings, world, machine
):  # PRV-1 SEC-1
    from support.messages import queued

    token = machine_token(client, machine)
    added = client.post(
        members_url(world.client_a.id),
        json=wizard.body(email="before@example.com"),
        headers=bearer(token),
    )
    assert added.status_code == 201, added.text
    person = {
        "given_name": "Matti",
        "family_name": "Meikäläinen",
        "email": "after@example.com",
        "phone": "+358 40 765 4322",
    }
    r = client.put(
        f"{members_url(world.client_a.id)}/{added.json()['membership_id']}/person",
        json=person,
        headers=bearer(token),
    )
    assert r.status_code == 200, r.text
    notice = queued(db, settings.secret, channel="email", to="before@example.com")
    assert [n["kind"] for n in notice] == ["contact_changed"]
    company = world.client_a.name
    expected = f"{company} changed your contact details in Portti through its business software:"
    assert expected in notice[0]["text"] and "Numerot payroll" not in notice[0]["text"]


def test_the_software_invites_a_member_it_added(
    client, db, clock, settings, world, machine
):  # PRV-1 INV-1
    from portti.companies.models import Company
    from portti.invitations.models import Invitation
    from support import factories as f
    from support.messages import queued

    token = machine_token(client, machine)
    added = client.post(
        members_url(world.client_a.id),
        json=wizard.body(email="invitee@example.com"),
        headers=bearer(token),
    )
    assert added.status_code == 201, added.text
    url = f"{members_url(world.client_a.id)}/{added.json()['membership_id']}/invitation"
    unverified = client.post(url, json={"identity_verified": False}, headers=bearer(token))
    assert unverified.status_code == 422
    sent = client.post(
        url, json={"identity_verified": True, "language": "fi"}, headers=bearer(token)
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["inviter_name"] == "Numerot payroll"
    got = client.get(url, headers=bearer(token))
    assert got.status_code == 200 and got.json()["id"] == sent.json()["id"]
    mail = queued(db, settings.secret, channel="email", to="invitee@example.com")
    assert mail[0]["subject"] == (
        f"{world.client_a.name} kutsuu sinut kirjautumaan Portti-sovelluksella"
    )
    events = db.scalars(select(AuditEvent).where(AuditEvent.action == "invitation_sent")).all()
    assert [e.actor_client_id for e in events] == [machine.client_id]

    # A person whose rights reach a company the software was not registered for is not its
    # to invite (SEC-1), and the refusal is audited.
    m = db.get(Membership, added.json()["membership_id"])
    f.member(db, m.person, db.get(Company, world.other.id), ["payroll"])
    db.commit()
    refused = client.post(url, json={"identity_verified": True}, headers=bearer(token))
    assert refused.status_code == 403, refused.text
    assert len(db.scalars(select(Invitation)).all()) == 1
    denied = db.scalars(select(AuditEvent).where(AuditEvent.action == "access_denied")).all()
    assert [e.actor_client_id for e in denied] == [machine.client_id]
    # Sending needs members:write.
    reader = register_machine(
        db, clock, settings.secret, scopes=["members:read"], company_ids=[world.client_a.id]
    )
    reading = bearer(machine_token(client, reader))
    assert client.get(url, headers=reading).status_code == 200
    r = client.post(url, json={"identity_verified": True}, headers=reading)
    assert r.status_code == 403 and r.json()["code"] == "insufficient_scope"
