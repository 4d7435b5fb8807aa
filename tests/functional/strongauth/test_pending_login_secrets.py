"""A pending bank-ID login keeps its nonce and PKCE verifier sealed to its state (SEC-28)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import inspect, select

from portti.infra.crypto import SecretBox
from portti.strongauth.models import OidcFlow
from portti.strongauth.oidc.request import pkce_challenge
from support.db import fresh
from support.web import start_login


def test_a_database_copy_does_not_hold_the_pending_logins_nonce_or_verifier(
    client, app, db
) -> None:  # SEC-28
    r = start_login(client)
    assert r.status_code == 303
    sent = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}
    fresh(db)
    [flow] = db.scalars(select(OidcFlow)).all()
    columns = {c["name"] for c in inspect(db.get_bind()).get_columns("oidc_flows")}
    assert not {"nonce", "code_verifier"} & columns
    row = json.dumps({c: str(getattr(flow, c)) for c in ("state_hash", "sealed", "return_to")})
    assert sent["nonce"] not in row and sent["state"] not in row
    secret = app.state.runtime.settings.secret
    # The root secret alone does not open it: the key needs the state, which only the
    # browser carries.
    with pytest.raises(InvalidTag):
        SecretBox(secret, "oidc-flow").open(flow.sealed, context=flow.state_hash)
    opened = json.loads(
        SecretBox(secret + b"|" + sent["state"].encode(), "oidc-flow").open(
            flow.sealed, context=flow.state_hash
        )
    )
    assert opened["nonce"] == sent["nonce"]
    # The verifier is the one whose challenge the provider got.
    assert pkce_challenge(opened["code_verifier"]) == sent["code_challenge"]


def test_a_flow_row_moved_under_another_state_does_not_finish(client, app, db) -> None:  # SEC-28
    first = start_login(client)
    second = start_login(client)
    states = [parse_qs(urlsplit(r.headers["location"]).query)["state"][0] for r in (first, second)]
    fresh(db)
    flows = db.scalars(select(OidcFlow).order_by(OidcFlow.created_at)).all()
    assert len(flows) == 2
    # Swap the sealed parts: each row now holds the other login's secrets.
    flows[0].sealed, flows[1].sealed = flows[1].sealed, flows[0].sealed
    db.commit()
    r = client.get("/login/callback", params={"state": states[0], "code": "x"})
    assert r.status_code == 400
    assert "The login took too long or was started elsewhere." in r.text
