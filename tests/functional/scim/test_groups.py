"""SCIM Groups are the company's roles: membership in a group is holding the role (PRV-3)."""

from __future__ import annotations

from sqlalchemy import select

from portti.audit.models import AuditEvent
from portti.companies.models import Membership
from support.db import fresh

from .conftest import PATCH, user_payload


def test_groups_are_the_roles_an_admin_may_give(scim):  # PRV-3
    body = scim.get("/Groups").json()
    ids = {g["id"] for g in body["Resources"]}
    assert {"bookkeeper", "payroll", "user_admin"} <= ids
    assert "support" not in ids and "office_main_user" not in ids
    book = scim.get('/Groups?filter=displayName eq "Bookkeeper"&excludedAttributes=members')
    assert [g["id"] for g in book.json()["Resources"]] == ["bookkeeper"]
    assert "members" not in book.json()["Resources"][0]


def test_adding_a_member_gives_the_role_and_removing_takes_it(scim, db, world):  # PRV-3
    uid = scim.post("/Users", user_payload("g@a.fi")).json()["id"]
    add = scim.patch(
        "/Groups/payroll",
        {
            "schemas": [PATCH],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}],
        },
    )
    assert add.status_code == 200, add.text
    assert uid in {m["value"] for m in add.json()["members"]}
    fresh(db)
    assert db.get(Membership, int(uid)).role_codes == {"payroll"}
    user = scim.get(f"/Users/{uid}").json()
    assert [g["value"] for g in user["groups"]] == ["payroll"]
    member_of = scim.get(f'/Groups?filter=members.value eq "{uid}"').json()
    assert [g["id"] for g in member_of["Resources"]] == ["payroll"]
    remove = scim.patch(
        "/Groups/payroll",
        {
            "schemas": [PATCH],
            "Operations": [{"op": "remove", "path": f'members[value eq "{uid}"]'}],
        },
    )
    assert remove.status_code == 200, remove.text
    fresh(db)
    assert db.get(Membership, int(uid)).role_codes == set()
    # The machine client is the actor of every change.
    events = db.scalars(
        select(AuditEvent).where(
            AuditEvent.subject_person_id == db.get(Membership, int(uid)).person_id
        )
    ).all()
    assert events and all(e.details.get("via") == "scim" for e in events)
    assert {e.actor_client_id for e in events} == {scim.client_id}
    assert {e.actor_person_id for e in events} == {None}


def test_groups_cannot_be_created_renamed_or_deleted(scim, world):  # PRV-3
    made = scim.post(
        "/Groups",
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "New"},
    )
    assert made.status_code == 403
    assert made.json()["detail"]
    assert scim.delete("/Groups/payroll").status_code == 403
    renamed = scim.patch(
        "/Groups/payroll",
        {
            "schemas": [PATCH],
            "Operations": [{"op": "replace", "path": "displayName", "value": "X"}],
        },
    )
    assert renamed.status_code == 400
    assert renamed.json()["scimType"] == "mutability"


def test_a_main_user_of_the_office_is_out_of_reach(scim_for, world, db):  # PRV-3 SEC-7
    scim = scim_for(world.office.id)
    uid = str(db.scalars(select(Membership.id).where(Membership.person_id == world.tpk.id)).one())
    add = {
        "schemas": [PATCH],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}],
    }
    r = scim.patch("/Groups/read_only", add)
    assert r.status_code == 403
    assert "office_main_user" in r.json()["detail"]
    # The refusal is audited, and the row kept.
    fresh(db)
    denied = db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "access_denied", AuditEvent.subject_person_id == world.tpk.id
        )
    ).all()
    assert [e.actor_client_id for e in denied] == [scim.client_id]
    assert scim.delete(f"/Users/{uid}").status_code == 403
    groups = {g["id"] for g in scim.get("/Groups").json()["Resources"]}
    assert "office_main_user" not in groups and "support" not in groups


def test_a_filter_attribute_is_echoed_as_sent(scim):  # PRV-3
    r = scim.get('/Groups?filter=displayName eq "x" and memberS.Display eq "y"')
    assert r.status_code == 400
    assert r.json()["detail"].endswith("not by “memberS.Display”.")
