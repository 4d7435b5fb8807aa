"""SCIM Users: create, read, replace, patch, filter, page, versions and errors (PRV-3)."""

from __future__ import annotations

from sqlalchemy import select, text

from portti.audit.models import AuditEvent
from portti.companies.models import Membership
from portti.people.models import Person
from support.db import fresh

from .conftest import EXT, PATCH, SCIM, Scim, ee_code, user_payload


def test_create_get_and_list_a_user(scim, db):  # PRV-3
    r = scim.post("/Users", user_payload("aino@client-a.fi", externalId="e-1"))
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith(SCIM)
    body = r.json()
    assert r.headers["location"] == body["meta"]["location"]
    assert r.headers["etag"] == body["meta"]["version"]
    assert body["userName"] == "aino@client-a.fi"
    assert body["externalId"] == "e-1"
    assert body["active"] is True
    assert body[EXT]["issuingCountry"] == "EE"
    assert body[EXT]["porttiId"]
    got = scim.get(f"/Users/{body['id']}")
    assert got.status_code == 200
    assert got.json() == body
    listed = scim.get('/Users?filter=userName eq "AINO@client-a.fi"').json()
    assert listed["totalResults"] == 1
    assert listed["Resources"][0]["id"] == body["id"]
    assert scim.get('/Users?filter=externalId eq "e-1"').json()["totalResults"] == 1
    by_mail = scim.get('/Users?filter=emails[type eq "work" and value eq "aino@client-a.fi"]')
    assert by_mail.json()["totalResults"] == 1
    assert scim.get('/Users?filter=userName eq "nobody@x.fi"').json()["totalResults"] == 0


def test_pagination_counts_every_member(scim, world):  # PRV-3
    for i in range(3):
        scim.post("/Users", user_payload(f"u{i}@a.fi", identifier=ee_code(i)))
    page = scim.get("/Users?startIndex=2&count=2").json()
    # KH and the employee of the cast, and three new users.
    assert page["totalResults"] == 5
    assert page["startIndex"] == 2
    assert page["itemsPerPage"] == 2
    assert len(page["Resources"]) == 2
    assert scim.get("/Users?count=0").json()["Resources"] == []


def test_active_false_ends_the_membership_and_keeps_the_person(scim, db, today):  # PRV-3
    uid = scim.post("/Users", user_payload("e@a.fi")).json()["id"]
    r = scim.patch(
        f"/Users/{uid}",
        {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": False}]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False
    fresh(db)
    m = db.get(Membership, int(uid))
    assert m is not None and m.valid_until is not None and m.valid_until < today
    assert db.get(Person, m.person_id) is not None
    again = scim.patch(
        f"/Users/{uid}",
        {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": True}}]},
    )
    assert again.json()["active"] is True


def test_if_match_with_an_old_version_is_refused(scim):  # PRV-3
    created = scim.post("/Users", user_payload("v@a.fi")).json()
    old = created["meta"]["version"]
    put = dict(created, displayName="Aino A.")
    del put["meta"]
    r = scim.put(f"/Users/{created['id']}", put, **{"If-Match": old})
    assert r.status_code == 200, r.text
    assert r.json()["displayName"] == "Aino A."
    assert r.headers["etag"] != old
    stale = scim.put(f"/Users/{created['id']}", put, **{"If-Match": old})
    assert stale.status_code == 412
    assert stale.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert stale.json()["status"] == "412"


def test_errors_are_scim_documents(scim):  # PRV-3
    r = scim.get("/Users/999999")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith(SCIM)
    assert r.json()["detail"]
    bad = scim.post("/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]})
    assert bad.status_code == 400
    no_id = scim.post("/Users", user_payload("x@a.fi", identifier=None))
    assert no_id.status_code == 400
    assert no_id.json()["scimType"] == "invalidValue"
    assert "identifier" in no_id.json()["detail"]
    filt = scim.get('/Users?filter=userName co "a"')
    assert filt.status_code == 400
    assert filt.json()["scimType"] == "invalidFilter"
    scim.post("/Users", user_payload("dup@a.fi"))
    dup = scim.post("/Users", user_payload("DUP@a.fi", identifier=ee_code(50)))
    assert dup.status_code == 409
    assert dup.json()["scimType"] == "uniqueness"


def test_same_email_in_two_companies_makes_two_people(scim_for, world, db):  # PRV-3 ADM-5
    a = scim_for(world.client_a.id).post(
        "/Users", user_payload("same@x.fi", identifier="EE-38001085718")
    )
    b = scim_for(world.other.id).post(
        "/Users", user_payload("same@x.fi", identifier="EE-49002124277")
    )
    assert a.status_code == b.status_code == 201, (a.text, b.text)
    assert a.json()[EXT]["porttiId"] != b.json()[EXT]["porttiId"]
    fresh(db)
    assert len(db.scalars(select(Person).where(Person.email == "same@x.fi")).all()) == 2


def test_an_identifier_links_only_with_its_portti_id(scim_for, world, db):  # PRV-3 ADM-5
    first = scim_for(world.client_a.id).post("/Users", user_payload("p@a.fi")).json()
    other = scim_for(world.other.id)
    without = other.post("/Users", user_payload("p@other.fi"))
    assert without.status_code == 409
    assert without.json()["detail"].startswith("This person is a Portti user already")
    wrong = other.post("/Users", user_payload("p@other.fi", ext={"porttiId": world.kh_a.portti_id}))
    assert wrong.status_code == 400
    linked = other.post(
        "/Users", user_payload("p@other.fi", ext={"porttiId": first[EXT]["porttiId"]})
    )
    assert linked.status_code == 201, linked.text
    assert linked.json()[EXT]["porttiId"] == first[EXT]["porttiId"]
    fresh(db)
    person = db.scalars(select(Person).where(Person.portti_id == first[EXT]["porttiId"])).one()
    assert {
        m.company_id
        for m in db.scalars(select(Membership).where(Membership.person_id == person.id))
    } == {world.client_a.id, world.other.id}


def test_the_extension_carries_the_validity_window(scim, db):  # PRV-3
    r = scim.post(
        "/Users",
        user_payload("w@a.fi", ext={"validFrom": "2030-01-01", "validUntil": "2030-12-31"}),
    )
    assert r.status_code == 201, r.text
    assert r.json()[EXT]["validFrom"] == "2030-01-01"
    assert r.json()[EXT]["validUntil"] == "2030-12-31"
    assert r.json()["active"] is True  # provisioned, starting later
    fresh(db)
    m = db.get(Membership, int(r.json()["id"]))
    assert (m.valid_from.isoformat(), m.valid_until.isoformat()) == ("2030-01-01", "2030-12-31")
    wrong = scim.post(
        "/Users",
        user_payload(
            "w2@a.fi",
            identifier=ee_code(7),
            ext={"validFrom": "2030-01-02", "validUntil": "2030-01-01"},
        ),
    )
    assert wrong.status_code == 400
    assert wrong.json()["scimType"] == "invalidValue"


def test_a_shared_persons_details_are_not_changed_by_one_company(scim_for, world):  # PRV-3 SEC-1
    a = scim_for(world.client_a.id)
    first = a.post("/Users", user_payload("s@a.fi")).json()
    other = scim_for(world.other.id)
    linked = other.post(
        "/Users", user_payload("s@other.fi", ext={"porttiId": first[EXT]["porttiId"]})
    ).json()
    rename = other.patch(
        f"/Users/{linked['id']}",
        {
            "schemas": [PATCH],
            "Operations": [{"op": "replace", "path": "name.familyName", "value": "Muu"}],
        },
    )
    assert rename.status_code == 403
    assert "customer service" in rename.json()["detail"]
    # The identifier names the person: it cannot be changed.
    change_id = other.patch(
        f"/Users/{linked['id']}",
        {
            "schemas": [PATCH],
            "Operations": [{"op": "replace", "path": f"{EXT}:identifier", "value": ee_code(9)}],
        },
    )
    assert change_id.status_code == 400
    assert change_id.json()["scimType"] == "mutability"


def test_the_answers_speak_the_requests_language(scim):  # PRV-3
    r = scim.get("/Users/999999", **{"Accept-Language": "fi"})
    assert r.json()["detail"] == "Yrityksessä ei ole tätä käyttäjää."
    r = scim.get('/Users?filter=title eq "x"', **{"Accept-Language": "sv"})
    assert r.json()["detail"].startswith("Användare kan filtreras på userName")


def test_another_companys_user_is_not_found(scim_for, world):  # PRV-3 ADM-9
    theirs = str(world.employee_other_membership.id)
    mine = scim_for(world.client_a.id)
    assert mine.get(f"/Users/{theirs}").status_code == 404
    assert mine.delete(f"/Users/{theirs}").status_code == 404
    listed = mine.get(f'/Users?filter=id eq "{theirs}"').json()
    assert listed["totalResults"] == 0


def test_only_a_token_for_this_company_with_scim(scim_for, world, client, db):  # PRV-3 PRV-1
    anonymous = Scim(client, world.client_a.id, None).get("/Users")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert anonymous.headers["content-type"].startswith(SCIM)
    assert anonymous.json()["status"] == "401"
    forged = Scim(client, world.client_a.id, "not-a-token").get("/Users")
    assert forged.status_code == 401
    elsewhere = scim_for(world.other.id)
    other_company = Scim(client, world.client_a.id, elsewhere.token).get("/Users")
    assert other_company.status_code == 403
    assert other_company.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    # The refusal is audited with the client as the actor.
    fresh(db)
    denied = db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "access_denied",
            AuditEvent.actor_client_id == elsewhere.client_id,
        )
    ).all()
    assert [e.company_id for e in denied] == [world.client_a.id]
    # Not even whether a company exists is told to a token not allowed it.
    assert Scim(client, 999999, elsewhere.token).get("/Users").status_code == 403
    no_scope = scim_for(world.client_a.id, scopes=("members:read",))
    assert no_scope.get("/Users").status_code in {400, 403}


def test_a_new_address_is_told_to_the_old_one(scim, db, runtime):  # PRV-3 SEC-1 SEC-3
    from support.messages import queued

    uid = scim.post("/Users", user_payload("mail@a.fi", email="old@a.fi")).json()["id"]
    r = scim.patch(
        f"/Users/{uid}",
        {
            "schemas": [PATCH],
            "Operations": [
                {"op": "replace", "path": 'emails[type eq "work"].value', "value": "new@a.fi"}
            ],
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["emails"][0]["value"] == "new@a.fi"
    notices = queued(db, runtime.settings.secret, channel="email", to="old@a.fi")
    assert [n["kind"] for n in notices] == ["contact_changed"]
    assert "Identity provider of company" in notices[0]["text"]


def test_a_closed_company_takes_no_provisioning(scim, db, world, clock):  # PRV-3 PRV-2
    assert scim.get("/Users").status_code == 200
    fresh(db)
    company = db.get(type(world.client_a), world.client_a.id)
    company.closed_at = clock.now()
    db.commit()
    r = scim.post("/Users", user_payload("late@a.fi"))
    assert r.status_code == 403
    assert r.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_an_id_is_never_given_again_after_delete(scim):  # PRV-3
    # RFC 7643 §3.1: a stale GET or PUT of a removed user must not reach another person.
    first = scim.post("/Users", user_payload("x1@a.fi", identifier=ee_code(41))).json()["id"]
    assert scim.delete(f"/Users/{first}").status_code == 204
    second = scim.post("/Users", user_payload("x2@a.fi", identifier=ee_code(42))).json()["id"]
    assert second != first
    assert scim.get(f"/Users/{first}").status_code == 404
    assert scim.get(f"/Users/{second}").status_code == 200


def test_an_identifier_sent_in_another_written_form_is_no_change(scim):  # PRV-3
    # Entra sends the identifier as the directory holds it; Portti returns its one stored form.
    sent = "19850505-1238"
    created = scim.post("/Users", user_payload("se@a.fi", identifier=sent, country="SE")).json()
    assert created[EXT]["identifier"] == "198505051238"
    uid = created["id"]
    same = {
        "schemas": [PATCH],
        "Operations": [
            {"op": "replace", "path": f"{EXT}:identifier", "value": sent},
            {"op": "replace", "path": f"{EXT}:issuingCountry", "value": "se"},
        ],
    }
    r = scim.patch(f"/Users/{uid}", same)
    assert r.status_code == 200, r.text
    assert r.json()[EXT]["identifier"] == "198505051238"
    assert r.json()["meta"]["version"] == created["meta"]["version"]
    put = {k: v for k, v in created.items() if k != "meta"}
    put[EXT] = dict(created[EXT], identifier="850505-1238")
    assert scim.put(f"/Users/{uid}", put).status_code == 200
    other = {
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "path": f"{EXT}:identifier", "value": "19811218-9876"}],
    }
    refused = scim.patch(f"/Users/{uid}", other, **{"Accept-Language": "sv"})
    assert refused.status_code == 400
    assert refused.json()["scimType"] == "mutability"
    assert refused.json()["detail"] == (
        "Fältet identifier kan inte ändras: det identifierar personen."
    )
    assert scim.get(f"/Users/{uid}").json()[EXT]["identifier"] == "198505051238"
    # Immutable still, as the schema document says (RFC 7643 §7).
    schema = scim.get(f"/Schemas/{EXT}").json()
    kinds = {a["name"]: a["mutability"] for a in schema["attributes"]}
    assert {kinds[n] for n in ("identifier", "issuingCountry", "identifierKind", "porttiId")} == {
        "immutable"
    }
    groups = [{"value": "kh"}]
    read_only = {
        "schemas": [PATCH],
        "Operations": [{"op": "add", "path": "groups", "value": groups}],
    }
    r = scim.patch(f"/Users/{uid}", read_only, **{"Accept-Language": "fi"})
    assert (r.status_code, r.json()["scimType"]) == (400, "mutability")
    assert r.json()["detail"] == "Kenttää ”groups” ei voi muuttaa."
    required = {"schemas": [PATCH], "Operations": [{"op": "remove", "path": "userName"}]}
    r = scim.patch(f"/Users/{uid}", required, **{"Accept-Language": "sv"})
    assert (r.status_code, r.json()["scimType"]) == (400, "mutability")
    assert r.json()["detail"] == "Ett obligatoriskt fält kan inte tas bort."


def test_emails_value_filter_ignores_case_and_uses_an_index(scim, db):  # PRV-3
    # RFC 7643 §4.1.2: emails.value is caseExact false.
    made = scim.post("/Users", user_payload("m@a.fi", email="Aino.Virtanen@Client-A.fi")).json()
    for sent in ("aino.virtanen@client-a.fi", "AINO.VIRTANEN@CLIENT-A.FI"):
        found = scim.get(f'/Users?filter=emails.value eq "{sent}"').json()
        assert [r["id"] for r in found["Resources"]] == [made["id"]], sent
    assert scim.get('/Users?filter=emails.value eq "aino@client-a.fi"').json()["totalResults"] == 0
    query = "SELECT id FROM persons WHERE lower(email) IN ('aino.virtanen@client-a.fi')"
    if db.bind.dialect.name == "sqlite":
        plan = " ".join(str(r) for r in db.execute(text(f"EXPLAIN QUERY PLAN {query}")))
    else:
        db.execute(text("SET LOCAL enable_seqscan = off"))
        plan = " ".join(str(r) for r in db.execute(text(f"EXPLAIN {query}")))
    assert "ix_persons_email_lower" in plan


def test_a_default_display_name_follows_the_name(scim):  # PRV-3
    def rename(uid: str, family: str) -> dict:
        op = {"op": "replace", "path": "name.familyName", "value": family}
        r = scim.patch(f"/Users/{uid}", {"schemas": [PATCH], "Operations": [op]})
        assert r.status_code == 200, r.text
        return r.json()

    made = scim.post("/Users", user_payload("d@a.fi", identifier=ee_code(51))).json()
    assert made["displayName"] == "Aino Asiakas"
    assert rename(made["id"], "Uusinimi")["displayName"] == "Aino Uusinimi"
    # A PUT of what was read, with a new name, follows too.
    got = scim.get(f"/Users/{made['id']}").json()
    put = {k: v for k, v in got.items() if k != "meta"}
    put["name"] = {"givenName": "Aino", "familyName": "Kolmas"}
    assert scim.put(f"/Users/{made['id']}", put).json()["displayName"] == "Aino Kolmas"
    assert rename(made["id"], "Neljäs")["displayName"] == "Aino Neljäs"
    # The identity provider's own displayName stays.
    own = scim.post(
        "/Users", user_payload("o@a.fi", identifier=ee_code(52), displayName="Aino (HR)")
    ).json()
    assert rename(own["id"], "Uusinimi")["displayName"] == "Aino (HR)"


def test_errors_echo_the_filter_and_say_what_is_wrong_with_the_body(scim):  # PRV-3
    r = scim.get('/Users?filter=name.familyName eq "Virtanen"')
    assert r.status_code == 400
    assert r.json()["detail"].endswith("not by “name.familyName”.")
    r = scim.get('/Users?filter=addresses[postalCode eq "00100"]')
    assert r.json()["detail"].endswith("not by “addresses.postalCode”.")
    sent = {"Content-Type": SCIM, "Authorization": f"Bearer {scim.token}", "Accept": SCIM}
    broken = scim.client.post(f"{scim.base}/Users", content='{"userName": "a",', headers=sent)
    assert (broken.status_code, broken.json()["scimType"]) == (400, "invalidSyntax")
    assert broken.json()["detail"] == (
        "The request body is not valid JSON (the error is at character 18)."
    )
    empty = scim.client.post(
        f"{scim.base}/Users", content="", headers=sent | {"Accept-Language": "fi"}
    )
    assert empty.json()["detail"] == "Pyynnöllä ei ole sisältöä: lähetä JSON-objekti."
    assert scim.get("/Users?count=many").json()["detail"] == "“count” must be a whole number."


def test_re_creating_a_deleted_user_says_how_to_link_them(scim, db):  # PRV-3 ADM-5
    made = scim.post("/Users", user_payload("r@a.fi", identifier=ee_code(61))).json()
    assert scim.delete(f"/Users/{made['id']}").status_code == 204
    again = scim.post("/Users", user_payload("r@a.fi", identifier=ee_code(61)))
    assert (again.status_code, again.json()["scimType"]) == (409, "uniqueness")
    detail = again.json()["detail"]
    assert detail.startswith("This person was removed from this company earlier")
    assert "porttiId" in detail and "never merged" in detail
    sv = scim.post(
        "/Users", user_payload("r@a.fi", identifier=ee_code(61)), **{"Accept-Language": "sv"}
    )
    assert sv.json()["detail"].startswith("Personen togs bort från företaget tidigare")
    # With the Portti ID the person is added again: the same person, a new id.
    linked = scim.post(
        "/Users",
        user_payload("r@a.fi", identifier=ee_code(61), ext={"porttiId": made[EXT]["porttiId"]}),
    )
    assert linked.status_code == 201, linked.text
    assert linked.json()[EXT]["porttiId"] == made[EXT]["porttiId"]
    assert linked.json()["id"] != made["id"]
    fresh(db)
    assert len(db.scalars(select(Person).where(Person.email == "r@a.fi")).all()) == 1
