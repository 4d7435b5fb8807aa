"""Operators' logs never carry national identity numbers, session tokens or CSRF tokens."""

from __future__ import annotations

import logging

from support import wizard
from support.web import HTML, login, page_csrf, session_cookie, step_up


def test_no_identity_number_or_token_reaches_the_logs(client, world, caplog):  # OPS-4
    caplog.set_level(logging.DEBUG)
    login(client, world.kh_a)
    step_up(client, world.kh_a)
    token = session_cookie(client)
    csrf = page_csrf(client, f"/c/{world.client_a.id}/users/new")
    hetu = wizard.new_hetu()
    r = client.post(
        f"/c/{world.client_a.id}/users/new",
        data={**wizard.form(id_value=hetu), "csrf_token": csrf},
        headers=HTML,
    )
    assert r.status_code == 303, r.text
    swede = "19811218-9876"
    r = client.post(
        f"/c/{world.client_a.id}/users/new",
        data={
            **wizard.form(method="foreign", id_value=swede, id_country="SE", phone="+46701234567"),
            "csrf_token": csrf,
        },
        headers=HTML,
    )
    assert r.status_code == 303, r.text
    logged = "\n".join(
        [rec.getMessage() for rec in caplog.records]
        + [repr(rec.__dict__) for rec in caplog.records]
    )
    assert caplog.records, "nothing was logged at all: the check would prove nothing"
    secrets = {
        "the admin's HETU": world.kh_a.identifiers[0].value,
        "the new person's HETU": hetu,
        "the Swedish personal number": "198112189876",
        "the Swedish personal number as typed": swede,
        "the session token": token,
        "the CSRF token": csrf,
    }
    for name, value in secrets.items():
        assert value and value not in logged, f"{name} is in the logs"


def test_no_machine_secret_or_token_reaches_the_logs(
    client, db, clock, settings, world, caplog
):  # PRV-1 OPS-4
    from support.machines import bearer, register_machine

    caplog.set_level(logging.DEBUG)
    reg = register_machine(
        db, clock, settings.secret, scopes=["members:write"], company_ids=[world.client_a.id]
    )
    assert reg.client_secret
    r = client.post(
        "/oidc/token",
        data={"grant_type": "client_credentials"},
        auth=(reg.client_id, reg.client_secret),
    )
    token = r.json()["access_token"]
    hetu = wizard.new_hetu()
    added = client.post(
        f"/api/v1/companies/{world.client_a.id}/members",
        json=wizard.body(id_value=hetu),
        headers=bearer(token),
    )
    assert added.status_code == 201, added.text
    client.post("/oidc/token", data={"grant_type": "client_credentials"}, auth=(reg.client_id, "x"))
    logged = "\n".join(
        [rec.getMessage() for rec in caplog.records]
        + [repr(rec.__dict__) for rec in caplog.records]
    )
    assert caplog.records, "nothing was logged at all: the check would prove nothing"
    for name, value in {
        "the client secret": reg.client_secret,
        "the access token": token,
        "the new person's HETU": hetu,
    }.items():
        assert value not in logged, f"{name} is in the logs"
