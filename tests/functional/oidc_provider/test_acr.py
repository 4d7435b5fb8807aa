"""The login's level of assurance reaches the client (OIDC-5), and a requested acr is enforced
instead of being stated over a login that does not meet it (SEC-22)."""

from __future__ import annotations

import json

from sqlalchemy import select

from portti.audit.models import AuditEvent
from portti.oidc_provider.claims import (
    ACR_APP,
    ACR_BANK_ID,
    ACR_EIDAS_HIGH,
    ACR_FTN_LOA2,
    ACR_FTN_LOA3,
)
from support.oidc import query_of, return_url
from support.web import (
    authorize_at_test_idp,
    identity_of,
    local,
    recode_test_idp_callback,
    start_login,
)


def log_in(client, rp, person, recode: dict | None = None, **extra: str):  # type: ignore[no-untyped-def]
    """Authorize → Portti's login page → the test provider (its answer re-issued with
    ``recode`` claims) → back; returns the last response of the browser."""
    first = client.get(local(rp.authorization_url(**extra)))
    assert first.status_code == 303, first.text
    if not first.headers["location"].startswith("/login?next="):
        return first
    next_ = query_of(first.headers["location"])["next"]
    callback = authorize_at_test_idp(client, start_login(client, next_=next_), identity_of(person))
    if recode:
        callback = recode_test_idp_callback(client, callback, **recode)
    back = client.get(callback)
    assert back.status_code == 303, back.text
    return client.get(local(back.headers["location"]))


def test_the_brokers_level_and_methods_reach_the_client(client, rp, cast) -> None:  # OIDC-5
    done = log_in(client, rp, cast.kaisa, recode={"acr": ACR_FTN_LOA3, "amr": ["hwk", "pin"]})
    claims = rp.id_claims(rp.fetch_token(return_url(done))["id_token"])
    assert claims["acr"] == ACR_FTN_LOA3
    assert claims["amr"] == ["hwk", "pin", "mfa"]


def test_a_bank_id_login_without_the_brokers_methods_says_mfa_only(
    client, rp, cast
) -> None:  # OIDC-5
    done = log_in(client, rp, cast.kaisa, recode={"amr": ["ftn", "bankid-x"]})
    claims = rp.id_claims(rp.fetch_token(return_url(done))["id_token"])
    # The test provider says loa2; values outside RFC 8176 are not passed on, nor is "ext".
    assert claims["acr"] == ACR_FTN_LOA2 and claims["amr"] == ["mfa"]


def test_the_acr_stated_is_the_requested_one_the_login_meets(client, rp, cast) -> None:  # OIDC-5
    done = log_in(client, rp, cast.kaisa, recode={"acr": ACR_FTN_LOA3}, acr_values=f"{ACR_BANK_ID}")
    assert rp.id_claims(rp.fetch_token(return_url(done))["id_token"])["acr"] == ACR_BANK_ID
    # loa3 meets a request for eIDAS substantial... and eIDAS high (the same rank).
    again = client.get(local(rp.authorization_url(acr_values=ACR_EIDAS_HIGH)))
    assert rp.id_claims(rp.fetch_token(return_url(again))["id_token"])["acr"] == ACR_EIDAS_HIGH


def test_a_bank_id_login_is_not_passed_off_as_the_app(client, rp, cast, db) -> None:  # SEC-22
    done = log_in(client, rp, cast.kaisa, acr_values=ACR_APP)
    got = query_of(return_url(done))
    assert got["error"] == "unmet_authentication_requirements" and "code" not in got
    assert got["state"] == rp.state
    refused = [
        e.details
        for e in db.scalars(
            select(AuditEvent).where(AuditEvent.action == "oidc_authorization_refused")
        )
    ]
    [why] = [d for d in refused if d["reason"] == "acr_not_met"]
    assert why["requested"] == ACR_APP and why["acr"] == ACR_FTN_LOA2
    assert db.scalars(select(AuditEvent).where(AuditEvent.action == "oidc_authorized")).all() == []


def test_an_essential_acr_in_the_claims_parameter_refuses_a_weaker_login(
    client, rp, cast
) -> None:  # SEC-22
    essential = json.dumps({"id_token": {"acr": {"essential": True, "values": [ACR_FTN_LOA3]}}})
    weak = log_in(client, rp, cast.kaisa, claims=essential)  # the provider says loa2
    assert query_of(return_url(weak))["error"] == "unmet_authentication_requirements"
    strong = log_in(client, rp, cast.kaisa, recode={"acr": ACR_FTN_LOA3}, claims=essential)
    claims = rp.id_claims(rp.fetch_token(return_url(strong))["id_token"])
    assert claims["acr"] == ACR_FTN_LOA3


def test_a_claims_parameter_that_is_not_json_is_refused_before_the_login(
    client, rp
) -> None:  # SEC-22
    r = client.get(local(rp.authorization_url(claims="{not json")))
    assert r.status_code == 303
    got = query_of(r.headers["location"])
    assert got["error"] == "invalid_request" and "claims" in got["error_description"]


def test_discovery_lists_the_levels_and_the_claims_parameter(client) -> None:  # OIDC-5 SEC-22
    meta = client.get("/.well-known/openid-configuration").json()
    assert {ACR_APP, ACR_BANK_ID, ACR_FTN_LOA2, ACR_FTN_LOA3, ACR_EIDAS_HIGH} <= set(
        meta["acr_values_supported"]
    )
    assert meta["claims_parameter_supported"] is True
