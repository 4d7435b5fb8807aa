"""Business software tells Portti its companies (PRV-2): create (idempotent by its external id),
rename, close, link an accounting office and name the first user administrator, through the
companies API with a machine client's token (PRV-1)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from portti.audit.models import AuditEvent
from portti.companies.models import Company, Membership
from portti.invitations.models import Invitation
from portti.oidc_provider.models import OidcLogin
from support import factories as f
from support import wizard
from support.machines import bearer, machine_token, register_machine
from support.messages import queued
from support.oidc import logout_receiver, register, relying_party, return_url
from support.web import api_headers, force_login, local
from support.wizard import new_hetu

BODY = {
    "external_id": "cust-1001",
    "name": "Rakennus Virtanen Oy",
    "business_id": "2345678-0",
    "default_language": "sv",
    "timezone": "Europe/Helsinki",
}


@pytest.fixture
def creator(client, db, clock, settings, world):  # type: ignore[no-untyped-def]
    """Business software registered for every company: it may create companies."""
    reg = register_machine(
        db,
        clock,
        settings.secret,
        name="Numerot ERP",
        scopes=["companies:write", "members:read", "members:write"],
        company_ids=None,
    )
    return bearer(machine_token(client, reg))


def create(client, headers, **changes):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/companies", json={**BODY, **changes}, headers=headers)


def test_business_software_creates_a_company_once_per_external_id(client, db, creator):  # PRV-2
    first = create(client, creator)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["business_id"] == "2345678-0" and body["default_language"] == "sv"
    assert body["external_id"] == "cust-1001" and body["kind"] == "company"
    again = create(client, creator)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    other_body = create(client, creator, name="Another name Oy")
    assert other_body.status_code == 409
    assert other_body.json()["code"] == "external_id_conflict"
    taken = create(client, creator, external_id="cust-1002")
    assert taken.status_code == 409 and taken.json()["code"] == "business_id_taken"
    assert len(db.scalars(select(Company).where(Company.business_id == "2345678-0")).all()) == 1
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "company_created")).one()
    assert event.actor_client_id is not None and event.company_id == body["id"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("business_id", "2345678-1"),  # wrong check digit
        ("business_id", "12345"),
        ("timezone", "Mars/Olympus"),
        ("default_language", "de"),
        ("name", "   "),
        ("kind", "operator"),
    ],
)
def test_bad_company_details_are_refused_and_change_nothing(
    client, db, creator, field, value
):  # PRV-2
    r = create(client, creator, **{field: value})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert db.scalars(select(Company).where(Company.external_id.is_not(None))).all() == []


def test_only_a_client_for_every_company_with_companies_write_creates(
    client, db, clock, settings, world
):  # PRV-2 PRV-1
    listed = register_machine(
        db, clock, settings.secret, scopes=["companies:write"], company_ids=[world.client_a.id]
    )
    r = create(client, bearer(machine_token(client, listed)))
    assert r.status_code == 403 and r.json()["code"] == "may_not_create_companies"
    reader = register_machine(db, clock, settings.secret, scopes=["members:read"], company_ids=None)
    r = create(client, bearer(machine_token(client, reader)))
    assert r.status_code == 403 and r.json()["code"] == "insufficient_scope"
    # A person's browser session is not a machine's token.
    force_login(client, world.support, stepped_up=True)
    assert client.post("/api/v1/companies", json=BODY).status_code == 401
    assert db.scalars(select(Company).where(Company.external_id.is_not(None))).all() == []


def test_rename_and_link_an_accounting_office(client, db, creator, world):  # PRV-2
    company = create(client, creator).json()
    office = create(
        client,
        creator,
        external_id="office-1",
        name="Tilitoimisto Numero Oy",
        business_id="1234567-1",
        kind="accounting_office",
    ).json()
    r = client.patch(
        f"/api/v1/companies/{company['id']}", json={"name": "Virtanen Bygg Ab"}, headers=creator
    )
    assert r.status_code == 200 and r.json()["name"] == "Virtanen Bygg Ab"
    linked = client.put(
        f"/api/v1/companies/{company['id']}/accounting-office",
        json={"office_id": office["id"]},
        headers=creator,
    )
    assert linked.status_code == 200 and linked.json()["accounting_office_id"] == office["id"]
    # The office's main user now administers the client company (ADM-9).
    tpk = f.person(db, "Tiina", "Tpk")
    f.member(db, tpk, db.get(Company, office["id"]), ["office_main_user"])
    db.commit()
    force_login(client, tpk)
    assert client.get(f"/api/v1/companies/{company['id']}/members").status_code == 200
    client.cookies.clear()
    # Only an office serves, and only a client company is served.
    wrong = client.put(
        f"/api/v1/companies/{office['id']}/accounting-office",
        json={"office_id": company["id"]},
        headers=creator,
    )
    assert wrong.status_code == 422
    unlinked = client.put(
        f"/api/v1/companies/{company['id']}/accounting-office",
        json={"office_id": None},
        headers=creator,
    )
    assert unlinked.json()["accounting_office_id"] is None
    actions = [e.action for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "company_renamed" in actions and "accounting_office_linked" in actions


def test_a_listed_client_cannot_touch_another_company_or_the_operator(
    client, db, clock, settings, world
):  # PRV-2 PRV-1
    reg = register_machine(
        db, clock, settings.secret, scopes=["companies:write"], company_ids=[world.client_a.id]
    )
    headers = bearer(machine_token(client, reg))
    r = client.patch(f"/api/v1/companies/{world.other.id}", json={"name": "X"}, headers=headers)
    assert r.status_code == 403 and r.json()["code"] == "company_not_allowed"
    r = client.post(f"/api/v1/companies/{world.operator.id}/close", headers=headers)
    assert r.status_code == 403
    ok = client.patch(
        f"/api/v1/companies/{world.client_a.id}", json={"name": "Client A Ab"}, headers=headers
    )
    assert ok.status_code == 200
    # Its own company may not be moved under an office outside its list.
    r = client.put(
        f"/api/v1/companies/{world.client_a.id}/accounting-office",
        json={"office_id": world.office.id},
        headers=headers,
    )
    assert r.status_code == 403
    db.expire_all()
    assert db.get(Company, world.other.id).name == "Other Oy"


def test_the_first_admin_by_personal_identity_code_logs_in_by_bank_id(
    client, db, creator
):  # PRV-2 ADM-4
    company = create(client, creator).json()
    hetu = new_hetu()
    admin = {
        "method": "fi_hetu",
        "id_value": hetu,
        "given_name": "Ville",
        "family_name": "Virtanen",
        "email": "ville@virtanen.example",
        "phone": "+358 40 111 2233",
    }
    r = client.post(f"/api/v1/companies/{company['id']}/first-admin", json=admin, headers=creator)
    assert r.status_code == 201, r.text
    assert r.json()["login"] == "bank_id" and r.json()["invitation_expires_at"] is None
    m = db.get(Membership, r.json()["membership_id"])
    assert m is not None and m.role_codes == {"user_admin"}
    again = client.post(
        f"/api/v1/companies/{company['id']}/first-admin", json=admin, headers=creator
    )
    assert again.status_code == 200 and again.json()["membership_id"] == m.id
    someone_else = client.post(
        f"/api/v1/companies/{company['id']}/first-admin",
        json={**admin, "id_value": new_hetu()},
        headers=creator,
    )
    assert someone_else.status_code == 409
    assert someone_else.json()["code"] == "first_admin_exists"
    assert db.scalars(select(Invitation)).all() == []
    # Roles are the user administrator's only: sending others is refused.
    r = client.post(
        f"/api/v1/companies/{company['id']}/first-admin",
        json={**admin, "roles": ["support"]},
        headers=creator,
    )
    assert r.status_code == 422


def test_the_first_admin_by_foreign_identifier_is_invited_in_the_companys_language(
    client, db, settings, creator
):  # PRV-2 INV-1
    company = create(client, creator).json()  # default language sv
    admin = {
        "method": "foreign",
        "id_kind": "personal_number",
        "id_country": "SE",
        "id_value": "19900101-0017",
        "given_name": "Sven",
        "family_name": "Svensson",
        "email": "sven@svensson.example",
        "phone": "+46 70 123 45 67",
    }
    r = client.post(f"/api/v1/companies/{company['id']}/first-admin", json=admin, headers=creator)
    assert r.status_code == 201, r.text
    assert r.json()["login"] == "invitation" and r.json()["invitation_expires_at"]
    inv = db.scalars(select(Invitation)).one()
    assert inv.language == "sv" and inv.inviter_person_id is None
    assert inv.inviter_client_name == "Numerot ERP"
    mail = queued(db, settings.secret, channel="email", to="sven@svensson.example")
    assert len(mail) == 1
    # The company invites, not the software as if it were a person.
    assert mail[0]["subject"] == "Rakennus Virtanen Oy bjuder in dig att logga in med Portti-appen"
    assert "Rakennus Virtanen Oy bjuder in dig att logga in med Portti-appen." in mail[0]["text"]
    assert "Numerot ERP" not in mail[0]["text"] + mail[0]["html"]
    sent = db.scalars(select(AuditEvent).where(AuditEvent.action == "invitation_sent")).one()
    assert sent.actor_client_id is not None and sent.actor_person_id is None


def test_an_invalid_identifier_is_refused_with_the_wizards_message(
    client, db, creator
):  # PRV-2 ADM-4
    company = create(client, creator).json()
    r = client.post(
        f"/api/v1/companies/{company['id']}/first-admin",
        json={
            "method": "fi_hetu",
            "id_value": "010190-123X",
            "given_name": "A",
            "family_name": "B",
            "email": "a@b.example",
            "phone": "+358401234567",
        },
        headers=creator,
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"id_value"}
    assert db.scalars(select(Membership).where(Membership.company_id == company["id"])).all() == []


def test_closing_a_company_ends_its_memberships_and_logs_out_of_business_apps(
    client, db, clock, settings, creator, world, today
):  # PRV-2 WEB-5
    with logout_receiver() as receiver:
        reg = register(
            db,
            clock,
            settings.secret,
            company_ids=[world.client_a.id],
            backchannel_logout_uri=receiver.url,
        )
        rp = relying_party(client._transport, "http://testserver", reg)
        force_login(client, world.employee_a)
        rp.fetch_token(return_url(client.get(local(rp.authorization_url()))))
        client.cookies.clear()
        r = client.post(f"/api/v1/companies/{world.client_a.id}/close", headers=creator)
        assert r.status_code == 200, r.text
        assert r.json()["closed_at"] is not None
        assert client.app.state.runtime.backchannel_logout.deliver_due() == 1
        assert len(receiver.tokens) == 1
    db.expire_all()
    login = db.scalars(select(OidcLogin)).one()
    assert login.end_reason == "membership_ended"
    members = db.scalars(select(Membership).where(Membership.company_id == world.client_a.id))
    assert all(m.valid_until is not None and m.valid_until < today for m in members)
    # Closed: nothing more is done in it; closing again changes nothing.
    again = client.post(f"/api/v1/companies/{world.client_a.id}/close", headers=creator)
    assert again.status_code == 200
    r = client.patch(
        f"/api/v1/companies/{world.client_a.id}", json={"name": "Reborn Oy"}, headers=creator
    )
    assert r.status_code == 409 and r.json()["code"] == "company_closed"
    r = client.get(f"/api/v1/companies/{world.client_a.id}/members", headers=creator)
    assert r.status_code == 403
    # Support still reads its audit trail, but adds nobody to it.
    force_login(client, world.support, stepped_up=True)
    assert client.get(f"/api/v1/companies/{world.client_a.id}/audit").status_code == 200
    r = client.post(
        f"/api/v1/companies/{world.client_a.id}/members",
        json=wizard.body(),
        headers=api_headers(client),
    )
    assert r.status_code == 409 and r.json()["code"] == "company_closed"
    closed = db.scalars(select(AuditEvent).where(AuditEvent.action == "company_closed")).all()
    assert len(closed) == 1 and closed[0].details["memberships_ended"] >= 2
    assert isinstance(today, date)
    # It is still read, closed_at and all.
    got = client.get(f"/api/v1/companies/{world.client_a.id}", headers=creator)
    assert got.status_code == 200 and got.json()["closed_at"] is not None


def test_the_same_creation_sent_at_once_makes_one_company(client, db, creator):  # PRV-2
    """A retry that overtakes the first request (a timeout on the business software's side):
    every answer names the one company made."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: create(client, creator), range(6)))
    assert sorted(a.status_code for a in answers) == [200] * 5 + [201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(db.scalars(select(Company).where(Company.external_id == "cust-1001")).all()) == 1


def test_a_company_is_read_and_its_language_and_time_zone_changed(
    client, db, clock, settings, creator, world
):  # PRV-2 I18N-1
    company = create(client, creator).json()
    url = f"/api/v1/companies/{company['id']}"
    got = client.get(url, headers=creator)
    assert got.status_code == 200 and got.json() == company
    assert got.json()["closed_at"] is None and got.json()["default_language"] == "sv"

    r = client.patch(
        url, json={"default_language": "en", "timezone": "Europe/Stockholm"}, headers=creator
    )
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["default_language"], r.json()["timezone"]) == (
        "Rakennus Virtanen Oy",
        "en",
        "Europe/Stockholm",
    )
    for bad in ({"timezone": "Mars/Olympus"}, {"default_language": "de"}, {"name": " "}):
        assert client.patch(url, json=bad, headers=creator).status_code == 422, bad
    db.expire_all()
    row = db.get(Company, company["id"])
    assert (row.default_language, row.timezone) == ("en", "Europe/Stockholm")
    event = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "company_settings_changed")
    ).one()
    assert event.details["default_language"] == {"from": "sv", "to": "en"}
    assert event.actor_client_id is not None

    # Replaying the first creation answers 200 with the company as it is now.
    client.patch(url, json={"name": "Virtanen Bygg Ab"}, headers=creator)
    client.post(f"{url}/close", headers=creator)
    again = create(client, creator)
    assert again.status_code == 200 and again.json()["id"] == company["id"]
    assert again.json()["name"] == "Virtanen Bygg Ab" and again.json()["closed_at"] is not None

    # Only within the client's reach, and with companies:write.
    listed = register_machine(
        db, clock, settings.secret, scopes=["companies:write"], company_ids=[world.client_a.id]
    )
    headers = bearer(machine_token(client, listed))
    assert client.get(url, headers=headers).status_code == 403
    assert client.get(f"/api/v1/companies/{world.operator.id}", headers=headers).status_code == 403
    assert client.get(f"/api/v1/companies/{world.client_a.id}", headers=headers).status_code == 200
    reader = register_machine(
        db, clock, settings.secret, scopes=["members:read"], company_ids=[world.client_a.id]
    )
    headers = bearer(machine_token(client, reader))
    r = client.get(f"/api/v1/companies/{world.client_a.id}", headers=headers)
    assert r.status_code == 403 and r.json()["code"] == "insufficient_scope"
