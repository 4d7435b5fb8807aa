"""The append-only audit log: what administration and security events write, who reads them."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from support import factories as f
from support import wizard
from support.db import audit_events, snapshot
from support.web import HTML, api_headers, force_login, login, page_csrf


def add_member(client, company_id: int, **fields):  # type: ignore[no-untyped-def]
    r = client.post(
        f"/api/v1/companies/{company_id}/members",
        json=wizard.body(**fields),
        headers=api_headers(client),
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_adding_a_user_writes_person_created_and_membership_added(kh, world, db):  # ADM-10
    hetu = wizard.new_hetu()
    out = add_member(kh, world.client_a.id, id_value=hetu, roles=["payroll"])
    [added] = audit_events(db, "membership_added")
    [created] = audit_events(db, "person_created")
    for event in (added, created):
        assert event.company_id == world.client_a.id
        assert event.actor_person_id == world.kh_a.id
        assert event.ip == "testclient"
        assert event.occurred_at is not None
    assert added.subject_person_id == created.subject_person_id
    assert added.details["roles"] == ["payroll"]
    assert added.details["linked_existing_person"] is False
    assert added.details["via"] == "user_admin"
    assert created.details == {"identifier_kind": "fi_hetu", "identifier_country": "FI"}
    # The identifier itself is not copied into the log.
    assert hetu not in json.dumps([added.details, created.details])
    assert out["portti_id"] not in json.dumps(added.details)


def test_linking_an_existing_person_writes_membership_added_only(kh, world, db):  # ADM-10
    add_member(
        kh,
        world.client_a.id,
        already_user=True,
        portti_id=world.employee_other.portti_id,
        id_value=f.hetu_of(world.employee_other),
    )
    [added] = audit_events(db, "membership_added")
    assert added.subject_person_id == world.employee_other.id
    assert added.details["linked_existing_person"] is True
    assert audit_events(db, "person_created") == []


def test_changing_a_membership_writes_what_changed(kh, world, db):  # ADM-10
    mid = world.employee_a_membership.id
    r = kh.patch(
        f"/api/v1/companies/{world.client_a.id}/members/{mid}",
        json={"roles": ["bookkeeper", "reporting"], "receives_email": False},
        headers=api_headers(kh),
    )
    assert r.status_code == 200, r.text
    [event] = audit_events(db, "membership_changed")
    assert (event.company_id, event.actor_person_id, event.subject_person_id) == (
        world.client_a.id,
        world.kh_a.id,
        world.employee_a.id,
    )
    assert event.ip == "testclient"
    assert event.details["changes"] == {
        "roles": [["bookkeeper"], ["bookkeeper", "reporting"]],
        "receives_email": [True, False],
    }


def test_changing_contact_details_writes_person_updated(kh, world, db):  # ADM-10
    mid = world.employee_a_membership.id
    r = kh.put(
        f"/api/v1/companies/{world.client_a.id}/members/{mid}/person",
        json={
            "given_name": "Eero",
            "family_name": "Employee",
            "email": "eero.changed@example.com",
            "phone": "+358 40 111 2233",
        },
        headers=api_headers(kh),
    )
    assert r.status_code == 200, r.text
    [event] = audit_events(db, "person_updated")
    assert event.details["fields"] == ["email", "phone"]
    assert event.subject_person_id == world.employee_a.id
    assert "eero.changed" not in json.dumps(event.details)


def test_removing_a_user_writes_membership_removed(kh, world, db):  # ADM-10
    mid = world.employee_a_membership.id
    r = kh.delete(f"/api/v1/companies/{world.client_a.id}/members/{mid}", headers=api_headers(kh))
    assert r.status_code == 204
    [event] = audit_events(db, "membership_removed")
    assert (event.company_id, event.actor_person_id, event.subject_person_id) == (
        world.client_a.id,
        world.kh_a.id,
        world.employee_a.id,
    )
    assert event.ip == "testclient"
    assert event.details["roles"] == ["bookkeeper"]


def test_login_writes_login_succeeded(client, world, db):  # ADM-10 WEB-4
    login(client, world.employee_a)
    [event] = audit_events(db, "login_succeeded")
    assert (event.actor_person_id, event.subject_person_id) == (world.employee_a.id,) * 2
    assert event.ip == "testclient"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'nothing_happened'",
        "UPDATE audit_events SET details = '{}' WHERE action = 'login_succeeded'",
        "DELETE FROM audit_events",
    ],
)
def test_the_database_refuses_to_change_or_delete_audit_rows(
    client, world, db, statement
):  # ADM-10
    login(client, world.employee_a)
    before = snapshot(db)["audit_events"]
    assert before
    with pytest.raises(DBAPIError, match="append-only"):
        db.execute(text(statement))
        db.flush()
    db.rollback()
    assert snapshot(db)["audit_events"] == before


def test_company_audit_page_and_api_list_the_companys_events(kh, world, db):  # ADM-10
    add_member(kh, world.client_a.id, family_name="Lokikirja")
    r = kh.get(f"/api/v1/companies/{world.client_a.id}/audit")
    assert r.status_code == 200
    actions = [e["action"] for e in r.json()]
    assert actions[:2] == ["membership_added", "person_created"]  # newest first
    assert {e["company_id"] for e in r.json()} == {world.client_a.id}
    page = kh.get(f"/c/{world.client_a.id}/audit", headers=HTML)
    assert page.status_code == 200
    assert "membership added" in page.text and "person created" in page.text
    assert "Kaisa KhA" in page.text  # the actor by name
    assert "Matti Lokikirja" in page.text  # the subject by name


def test_the_users_page_shows_the_persons_events_in_this_company(kh, world, db):  # ADM-10
    mid = world.employee_a_membership.id
    kh.patch(
        f"/api/v1/companies/{world.client_a.id}/members/{mid}",
        json={"roles": ["reporting"]},
        headers=api_headers(kh),
    )
    page = kh.get(f"/c/{world.client_a.id}/users/{mid}", headers=HTML)
    assert "membership changed" in page.text


def test_events_of_another_company_are_not_listed(client, world, db):  # ADM-10 ADM-9
    force_login(client, world.kh_other, stepped_up=True)
    add_member(client, world.other.id, family_name="Toinen")
    force_login(client, world.kh_a, stepped_up=True)
    r = client.get(f"/api/v1/companies/{world.client_a.id}/audit")
    assert all(e["company_id"] == world.client_a.id for e in r.json())
    assert "Toinen" not in client.get(f"/c/{world.client_a.id}/audit", headers=HTML).text


def test_kh_of_another_company_cannot_read_the_audit_log(client, world, db):  # ADM-10 ADM-9
    force_login(client, world.kh_a, stepped_up=True)
    add_member(client, world.client_a.id, family_name="Salainen")
    force_login(client, world.kh_other, stepped_up=True)
    before = snapshot(db)
    r = client.get(f"/api/v1/companies/{world.client_a.id}/audit")
    assert r.status_code == 403
    r = client.get(f"/c/{world.client_a.id}/audit", headers=HTML)
    assert r.status_code == 403
    assert "Salainen" not in r.text
    assert snapshot(db) == before


def test_the_api_offers_no_way_to_delete_audit_events(kh, world):  # ADM-10
    r = kh.delete(
        f"/api/v1/companies/{world.client_a.id}/audit", headers={"X-CSRF-Token": page_csrf(kh)}
    )
    assert r.status_code == 405
