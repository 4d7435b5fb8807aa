"""Which companies an application learns about (SEC-24) and the client companies a TPK
administers through an accounting office (OIDC-6)."""

from __future__ import annotations

import re

from support import factories as f
from support.oidc import query_of, register, relying_party, return_url
from support.web import csrf_from, local, login

CHOICE = re.compile(r'name="company_id" id="company-(\d+)"')


def start(client, rp, person):  # type: ignore[no-untyped-def]
    """Authorize, log in at Portti; returns the page or redirect that follows the login."""
    first = client.get(local(rp.authorization_url()))
    callback = login(client, person, next_=query_of(first.headers["location"])["next"])
    assert callback.status_code == 303, callback.text
    return client.get(local(callback.headers["location"])), callback


def choose(client, page, callback, company_id: int):  # type: ignore[no-untyped-def]
    handle = query_of(callback.headers["location"])["r"]
    return client.post(
        "/oidc/company",
        data={"r": handle, "company_id": company_id, "csrf_token": csrf_from(page)},
    )


def test_an_application_open_to_every_company_learns_only_the_chosen_one(
    client, db, clock, settings, cast
) -> None:  # SEC-24
    reg = register(db, clock, settings.secret)  # no company list, no company selection
    rp = relying_party(client._transport, "http://testserver", reg)
    page, callback = start(client, rp, cast.kaisa)
    # Kaisa is in two tenants: she picks one instead of both going to the application.
    assert page.status_code == 200 and "Choose company" in page.text
    assert {int(i) for i in CHOICE.findall(page.text)} == {cast.makinen.id, cast.aalto.id}
    token = rp.fetch_token(return_url(choose(client, page, callback, cast.aalto.id)))
    claims = rp.id_claims(token["id_token"])
    assert [(c["name"], c["roles"]) for c in claims["companies"]] == [
        ("Kahvila Aalto Oy", ["bookkeeper"])
    ]
    assert "user_admin" not in str(claims) and "Mäkinen Design" not in str(claims)
    info = rp.http.get("http://testserver/oidc/userinfo").json()
    assert [c["name"] for c in info["companies"]] == ["Kahvila Aalto Oy"]
    # The refresh keeps to the same company.
    again = rp.http.refresh_token(
        "http://testserver/oidc/token", refresh_token=token["refresh_token"]
    )
    refreshed = rp.id_claims(again["id_token"], nonce=None)
    assert [c["name"] for c in refreshed["companies"]] == ["Kahvila Aalto Oy"]


def test_a_person_in_one_company_is_not_asked(client, db, clock, settings, cast) -> None:  # SEC-24
    reg = register(db, clock, settings.secret)
    rp = relying_party(client._transport, "http://testserver", reg)
    done, _ = start(client, rp, cast.outsider)
    claims = rp.id_claims(rp.fetch_token(return_url(done))["id_token"])
    assert [c["name"] for c in claims["companies"]] == ["Elsewhere Oy"]


def test_an_application_registered_for_named_companies_gets_those(
    client, db, clock, settings, cast
) -> None:  # SEC-24
    reg = register(db, clock, settings.secret, company_ids=[cast.makinen.id, cast.aalto.id])
    rp = relying_party(client._transport, "http://testserver", reg)
    done, _ = start(client, rp, cast.kaisa)
    claims = rp.id_claims(rp.fetch_token(return_url(done))["id_token"])
    assert {c["name"] for c in claims["companies"]} == {"Kahvila Aalto Oy", "Mäkinen Design Oy"}


def test_a_tpk_sees_the_offices_client_companies_with_the_office_role(
    client, db, clock, settings, world
) -> None:  # OIDC-6
    reg = register(db, clock, settings.secret, company_ids=[world.client_a.id, world.other.id])
    rp = relying_party(client._transport, "http://testserver", reg)
    done, _ = start(client, rp, world.tpk)
    claims = rp.id_claims(rp.fetch_token(return_url(done))["id_token"])
    # Client A (the application is used there) through the office; not Client B (not
    # registered), not Other Oy (not the office's client).
    assert claims["companies"] == [
        {
            "id": world.client_a.id,
            "name": "Client A Oy",
            "business_id": world.client_a.business_id,
            "roles": ["office_main_user"],
            "profiles": [],
            "via": {
                "id": world.office.id,
                "name": "Office Oy",
                "business_id": world.office.business_id,
                "role": "office_main_user",
            },
        }
    ]


def test_a_tpk_picks_a_client_company_at_an_application_with_company_selection(
    client, db, clock, settings, world
) -> None:  # OIDC-6
    reg = register(db, clock, settings.secret, company_selection=True)
    rp = relying_party(client._transport, "http://testserver", reg)
    page, callback = start(client, rp, world.tpk)
    assert page.status_code == 200
    offered = {int(i) for i in CHOICE.findall(page.text)}
    assert offered == {world.office.id, world.client_a.id, world.client_b.id}
    token = rp.fetch_token(return_url(choose(client, page, callback, world.client_b.id)))
    claims = rp.id_claims(token["id_token"])
    assert claims["company"]["name"] == "Client B Oy"
    assert claims["company"]["via"]["name"] == "Office Oy"
    assert claims["roles"] == ["office_main_user"]


def test_a_tpk_who_is_also_a_member_of_a_client_has_both_roles(
    client, db, clock, settings, world
) -> None:  # OIDC-6
    f.member(db, world.tpk, world.client_a, ["bookkeeper"])
    db.commit()
    reg = register(db, clock, settings.secret, company_ids=[world.client_a.id])
    rp = relying_party(client._transport, "http://testserver", reg)
    done, _ = start(client, rp, world.tpk)
    [company] = rp.id_claims(rp.fetch_token(return_url(done))["id_token"])["companies"]
    assert company["roles"] == ["bookkeeper", "office_main_user"]
    assert company["via"]["id"] == world.office.id
