"""Bad input to the add-user wizard and the JSON API: a readable error, and nothing changes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portti.people.portti_id import ALPHABET, new_portti_id
from support import factories as f
from support import wizard
from support.db import counts, snapshot
from support.web import HTML, api_headers, page_csrf


def wrong_check_character(valid: str) -> str:
    """The same HETU (or Portti ID) with another check character."""
    last = valid[-1]
    pool = "0123456789ABCDEFHJKLMNPRSTUVWXY" if "-" in valid[:7] else ALPHABET
    return valid[:-1] + next(c for c in pool if c != last)


def post_wizard(client, company_id: int, **fields):  # type: ignore[no-untyped-def]
    data = {
        **wizard.form(**fields),
        "csrf_token": page_csrf(client, f"/c/{company_id}/users/new"),
    }
    return client.post(f"/c/{company_id}/users/new", data=data, headers=HTML)


def post_api(client, company_id: int, **fields):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/companies/{company_id}/members",
        json=wizard.body(**fields),
        headers=api_headers(client),
    )


def portti_id_not_existing() -> str:
    return new_portti_id()


CASES = {
    "hetu_with_wrong_check_character": (
        lambda w: {"id_value": wrong_check_character(wizard.new_hetu())},
        "id_value",
        "The Finnish personal identity code has a wrong check character.",
    ),
    "missing_identifier": (
        lambda w: {"id_value": ""},
        "id_value",
        "Enter the Finnish personal identity code.",
    ),
    "unknown_country": (
        lambda w: {
            "method": "foreign",
            "id_kind": "other_code",
            "id_value": "1985-04-12",
            "id_country": "XX",
        },
        "id_country",
        "Unknown country code 'XX'.",
    ),
    "malformed_phone": (
        lambda w: {"phone": "12345"},
        "phone",
        "Enter a mobile phone number in international form, e.g. +358 40 123 4567.",
    ),
    "portti_id_not_found": (
        lambda w: {
            "already_user": True,
            "portti_id": portti_id_not_existing(),
            "id_value": f.hetu_of(w.employee_other),
        },
        "portti_id",
        "No Portti user has this Portti ID together with the identifier given above.",
    ),
    "portti_id_with_wrong_check_character": (
        lambda w: {
            "already_user": True,
            "portti_id": wrong_check_character(w.employee_other.portti_id),
            "id_value": f.hetu_of(w.employee_other),
        },
        "portti_id",
        "The Portti ID has a wrong check character",
    ),
    "portti_id_of_another_person_than_the_identifier": (
        lambda w: {
            "already_user": True,
            "portti_id": w.kh_other.portti_id,
            "id_value": f.hetu_of(w.employee_other),
        },
        "portti_id",
        "No Portti user has this Portti ID together with the identifier given above.",
    ),
    "dates_in_the_wrong_order": (
        lambda w: {
            "validity": "time_limited",
            "valid_from": "2031-05-01",
            "valid_until": "2031-04-30",
        },
        "valid_until",
        "The end date is before the start date.",
    ),
    "identifier_already_used_without_portti_id": (
        lambda w: {"id_value": f.hetu_of(w.employee_other)},
        "id_value",
        "A Portti user with this identifier exists already.",
    ),
    "role_that_does_not_exist": (
        lambda w: {"roles": ["root"]},
        "roles",
        "These roles cannot be given here: root.",
    ),
}


def as_form(fields: dict[str, object]) -> dict[str, object]:
    return {k: ("yes" if v is True else v) for k, v in fields.items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gets_a_readable_message_and_changes_nothing(
    kh, world, db, case
):  # OPS-4 ADM-4 ADM-5
    make, field, message = CASES[case]
    before = counts(db)
    # The wizard page: 422 with the message next to the field and in the summary.
    r = post_wizard(kh, world.client_a.id, **as_form(make(world)))
    assert r.status_code == 422, r.text
    assert message in r.text.replace("&#39;", "'")
    assert f'id="{field}-error"' in r.text
    assert 'role="alert" class="error-summary"' in r.text
    assert counts(db) == before
    # The JSON API: problem details naming the field.
    r = post_api(kh, world.client_a.id, **make(world))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "validation_failed"
    assert field in [e["field"] for e in problem["errors"]]
    assert message in next(e["message"] for e in problem["errors"] if e["field"] == field)
    assert counts(db) == before


def test_several_mistakes_are_reported_together(kh, world, db):  # OPS-4
    before = counts(db)
    r = post_api(
        kh,
        world.client_a.id,
        id_value=wrong_check_character(wizard.new_hetu()),
        phone="12345",
        email="not an address",
        given_name=" ",
        roles=[],
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"id_value", "phone", "email", "given_name", "roles"}
    assert counts(db) == before


def test_api_input_outside_the_schema_is_a_422_naming_the_field(kh, world, db):  # OPS-4
    before = counts(db)
    r = post_api(kh, world.client_a.id, method="passport", valid_from="31.12.2030")
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"method", "valid_from"}
    r = post_api(kh, world.client_a.id, is_admin=True)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["is_admin"]
    assert counts(db) == before


def test_a_date_the_form_cannot_read_is_explained(kh, world, db):  # OPS-4
    before = counts(db)
    r = post_wizard(kh, world.client_a.id, validity="time_limited", valid_from="31.12.2030")
    assert r.status_code == 422
    assert "Give a date like 2026-12-31." in r.text
    assert counts(db) == before


def test_wizard_after_the_step_up_expired_sends_the_admin_to_step_up(
    kh, world, db, clock
):  # OPS-4 ADM-2
    form = {
        **wizard.form(),
        "csrf_token": page_csrf(kh, f"/c/{world.client_a.id}/users/new"),
    }
    before = counts(db)
    clock.advance(timedelta(minutes=16))
    r = kh.post(
        f"/c/{world.client_a.id}/users/new",
        data=form,
        headers={**HTML, "referer": f"http://testserver/c/{world.client_a.id}/users/new"},
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/step-up?next=/c/{world.client_a.id}/users/new"
    assert counts(db) == before


def test_api_after_the_step_up_expired_is_403_step_up_required(kh, world, db, clock):  # OPS-4 ADM-2
    headers = api_headers(kh)
    before = counts(db)
    clock.advance(timedelta(minutes=16))
    r = kh.post(
        f"/api/v1/companies/{world.client_a.id}/members", json=wizard.body(), headers=headers
    )
    assert r.status_code == 403
    assert r.json()["code"] == "step_up_required"
    assert counts(db) == before


@pytest.mark.parametrize(
    "token", ["forged" + "0" * 58, "", None], ids=["forged", "empty", "missing"]
)
def test_wizard_without_a_valid_csrf_token_is_refused(kh, world, db, token):  # OPS-4
    data = wizard.form()
    if token is not None:
        data["csrf_token"] = token
    before = counts(db)
    r = kh.post(f"/c/{world.client_a.id}/users/new", data=data, headers=HTML)
    assert r.status_code == 403
    assert "This form was opened in another session or has expired" in r.text
    assert counts(db) == before


@pytest.mark.parametrize("token", ["forged" + "0" * 58, None], ids=["forged", "missing"])
def test_api_without_a_valid_csrf_token_is_403_csrf_failed(kh, world, db, token):  # OPS-4
    headers = {"X-CSRF-Token": token} if token else {}
    before = counts(db)
    r = kh.post(
        f"/api/v1/companies/{world.client_a.id}/members", json=wizard.body(), headers=headers
    )
    assert r.status_code == 403
    assert r.json()["code"] == "csrf_failed"
    assert counts(db) == before


def test_csrf_token_of_another_browser_is_refused(kh, world, db, app):  # OPS-4
    from support.web import another_browser, force_login

    other = another_browser(app)
    force_login(other, world.kh_a)
    foreign_token = page_csrf(other)
    before = counts(db)
    r = kh.post(
        f"/api/v1/companies/{world.client_a.id}/members",
        json=wizard.body(),
        headers={"X-CSRF-Token": foreign_token},
    )
    assert r.status_code == 403
    assert r.json()["code"] == "csrf_failed"
    assert counts(db) == before


@pytest.mark.parametrize("origin", ["https://evil.example", "http://testserver.evil.example"])
def test_a_cross_site_origin_is_refused_even_with_a_valid_token(kh, world, db, origin):  # OPS-4
    headers = {**api_headers(kh), "origin": origin}
    before = counts(db)
    r = kh.post(
        f"/api/v1/companies/{world.client_a.id}/members", json=wizard.body(), headers=headers
    )
    assert r.status_code == 403
    assert r.json()["code"] == "csrf_failed"
    form = {**wizard.form(), "csrf_token": page_csrf(kh, f"/c/{world.client_a.id}/users/new")}
    r = kh.post(f"/c/{world.client_a.id}/users/new", data=form, headers={**HTML, "origin": origin})
    assert r.status_code == 403
    assert counts(db) == before


def test_the_same_origin_is_accepted(kh, world, db):  # OPS-4
    headers = {**api_headers(kh), "origin": "http://testserver"}
    r = kh.post(
        f"/api/v1/companies/{world.client_a.id}/members", json=wizard.body(), headers=headers
    )
    assert r.status_code == 201, r.text


def test_bad_contact_details_on_the_users_page_change_nothing(kh, world, db):  # OPS-4
    cid, mid = world.client_a.id, world.employee_a_membership.id
    bad = {
        "given_name": " ",
        "family_name": "Employee",
        "email": "not-an-address",
        "phone": "12345",
    }
    before = snapshot(db)
    r = kh.post(
        f"/c/{cid}/users/{mid}/person",
        data={**bad, "csrf_token": page_csrf(kh, f"/c/{cid}/users/{mid}")},
        headers=HTML,
    )
    assert r.status_code == 422
    for field in ("given_name", "email", "phone"):
        assert f'id="{field}-error"' in r.text
    assert "Enter a mobile phone number in international form" in r.text
    r = kh.put(f"/api/v1/companies/{cid}/members/{mid}/person", json=bad, headers=api_headers(kh))
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"given_name", "email", "phone"}
    assert snapshot(db) == before


def test_bad_roles_or_validity_on_the_users_page_change_nothing(kh, world, db):  # OPS-4 ADM-7
    cid, mid = world.client_a.id, world.employee_a_membership.id
    before = snapshot(db)
    r = kh.post(
        f"/c/{cid}/users/{mid}/membership",
        data={
            "roles": ["bookkeeper"],
            "validity": "time_limited",
            "valid_from": "2031-05-01",
            "valid_until": "2031-04-30",
            "csrf_token": page_csrf(kh, f"/c/{cid}/users/{mid}"),
        },
        headers=HTML,
    )
    assert r.status_code == 422
    assert "The end date is before the start date." in r.text
    url = f"/api/v1/companies/{cid}/members/{mid}"
    r = kh.patch(url, json={"roles": [], "profiles": []}, headers=api_headers(kh))
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {
            "field": "roles",
            "message": "Choose at least one profile or role, or remove the user instead.",
        }
    ]
    r = kh.patch(url, json={"roles": ["bookkeeper"], "profiles": [99999]}, headers=api_headers(kh))
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["profiles"]
    r = kh.patch(
        url, json={"roles": ["bookkeeper"], "validity": "time_limited"}, headers=api_headers(kh)
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["valid_until"]
    assert snapshot(db) == before
