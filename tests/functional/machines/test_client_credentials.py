"""Machine clients at the token endpoint (PRV-1): the client credentials grant with a secret or
a signed assertion, its scopes, its own token type refused by the login side and the other way
round, and failed authentication limited as every client's is (SEC-21)."""

from __future__ import annotations

import base64
import json
import secrets
import time
from datetime import timedelta

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import select

from portti.audit.models import AuditEvent
from portti.oidc_provider.models import OidcClient
from support import factories as f
from support.machines import TOKEN, bearer, machine_token, register_machine
from support.oidc import register, relying_party
from support.web import local

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def header_of(token: str) -> dict[str, str]:
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))  # type: ignore[no-any-return]


@pytest.fixture
def machine(db, clock, settings, world):  # type: ignore[no-untyped-def]
    return register_machine(
        db,
        clock,
        settings.secret,
        scopes=["members:read", "members:write"],
        company_ids=[world.client_a.id],
    )


def test_a_machine_client_gets_a_short_lived_typed_token_with_its_secret(
    client, machine, db
):  # PRV-1
    r = client.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        auth=(machine.client_id, machine.client_secret),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert body["scope"] == "members:read members:write"
    assert "refresh_token" not in body and "id_token" not in body
    assert header_of(body["access_token"])["typ"] == "machine-at+jwt"
    assert r.headers["cache-control"] == "no-store"
    # The secret is kept only as a keyed hash.
    row = db.scalars(select(OidcClient).where(OidcClient.client_id == machine.client_id)).one()
    assert machine.client_secret not in (row.secret_hash or "")
    issued = db.scalars(select(AuditEvent).where(AuditEvent.action == "oidc_tokens_issued")).one()
    assert issued.actor_client_id == machine.client_id
    assert issued.details["grant"] == "client_credentials"


def test_a_machine_client_may_send_its_secret_in_the_form_body(
    client, machine, settings, db, clock
):
    """RFC 6749 §2.3.1 client_secret_post, as directory provisioning may send it: for business
    software only, checked and limited as a Basic secret is (PRV-1 SEC-21)."""
    r = client.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": machine.client_id,
            "client_secret": machine.client_secret,
        },
    )
    assert r.status_code == 200, r.text
    wrong = client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "client_id": machine.client_id,
              "client_secret": "not-the-secret"},
    )  # fmt: skip
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    login_client = register(db, clock, settings.secret)
    refused = client.post(
        TOKEN,
        data={"grant_type": "authorization_code", "code": "x", "client_id": login_client.client_id,
              "client_secret": login_client.client_secret},
    )  # fmt: skip
    assert refused.status_code == 401 and "use Basic" in refused.json()["error_description"]


def test_a_token_carries_only_the_scopes_asked_for_and_allowed(client, machine):  # PRV-1
    ok = client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "scope": "members:read"},
        auth=(machine.client_id, machine.client_secret),
    )
    assert ok.json()["scope"] == "members:read"
    for scope in ("scim", "companies:write", "openid", "members:read scim"):
        r = client.post(
            TOKEN,
            data={"grant_type": "client_credentials", "scope": scope},
            auth=(machine.client_id, machine.client_secret),
        )
        assert r.status_code == 400 and r.json()["error"] == "invalid_scope", scope


def test_private_key_jwt_authenticates_a_machine_client(
    client, db, clock, settings, world
):  # PRV-1
    key = ECKey.generate_key("P-256", {"kid": "erp-1"}, private=True)
    reg = register_machine(
        db,
        clock,
        settings.secret,
        scopes=["members:read"],
        company_ids=[world.client_a.id],
        auth_method="private_key_jwt",
        jwks={"keys": [key.as_dict(private=False)]},
    )
    assert reg.client_secret is None
    now = int(time.time())
    claims = {
        "iss": reg.client_id,
        "sub": reg.client_id,
        "aud": "http://testserver/oidc/token",
        "jti": secrets.token_urlsafe(12),
        "iat": now,
        "exp": now + 60,
    }
    assertion = jwt.encode({"alg": "ES256", "kid": "erp-1"}, claims, key)
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
    }
    r = client.post(TOKEN, data=form)
    assert r.status_code == 200, r.text
    assert (
        client.get(
            f"/api/v1/companies/{world.client_a.id}/members",
            headers=bearer(r.json()["access_token"]),
        ).status_code
        == 200
    )
    # The assertion is single use.
    again = client.post(TOKEN, data=form)
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"


def test_grants_do_not_cross_between_login_and_machine_clients(
    client, db, clock, settings, machine, world
):  # PRV-1
    login_client = register(db, clock, settings.secret, company_ids=[world.client_a.id])
    r = client.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        auth=(login_client.client_id, login_client.client_secret),
    )
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
    for grant in ("authorization_code", "refresh_token"):
        r = client.post(
            TOKEN,
            data={"grant_type": grant, "code": "x", "refresh_token": "x", "redirect_uri": "x"},
            auth=(machine.client_id, machine.client_secret),
        )
        assert r.status_code == 400 and r.json()["error"] == "unauthorized_client", grant
    # A machine client logs nobody in.
    page = client.get(
        "/oidc/authorize",
        params={
            "client_id": machine.client_id,
            "redirect_uri": "http://127.0.0.1:8001/callback",
            "response_type": "code",
            "scope": "openid",
        },
    )
    assert page.status_code == 400
    assert "location" not in page.headers


def test_a_machine_token_is_refused_at_userinfo_and_a_login_token_on_the_api(
    client, db, clock, settings, machine, world
):  # PRV-1
    token = machine_token(client, machine)
    r = client.get("/oidc/userinfo", headers=bearer(token))
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"

    reg = register(db, clock, settings.secret, company_ids=[world.client_a.id])
    rp = relying_party(client._transport, "http://testserver", reg)
    from support.web import force_login

    force_login(client, world.kh_a)
    callback = client.get(local(rp.authorization_url()))
    from support.oidc import return_url

    login_tokens = rp.fetch_token(return_url(callback))
    client.cookies.clear()
    assert (
        client.get("/oidc/userinfo", headers=bearer(login_tokens["access_token"])).status_code
        == 200
    )
    api = client.get(
        f"/api/v1/companies/{world.client_a.id}/members",
        headers=bearer(login_tokens["access_token"]),
    )
    assert api.status_code == 401
    assert api.json()["code"] == "invalid_token"
    assert api.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_a_token_stops_working_when_it_expires_or_its_client_is_disabled(
    client, db, clock, settings, machine, world
):  # PRV-1
    url = f"/api/v1/companies/{world.client_a.id}/members"
    token = machine_token(client, machine)
    assert client.get(url, headers=bearer(token)).status_code == 200
    clock.advance(timedelta(seconds=601))
    expired = client.get(url, headers=bearer(token))
    assert expired.status_code == 401 and expired.json()["code"] == "invalid_token"
    # Told apart from a forged token: the software asks for a new one.
    assert expired.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="The access token has expired"'
    )
    assert "expired" in expired.json()["detail"]
    token = machine_token(client, machine)
    row = db.scalars(select(OidcClient).where(OidcClient.client_id == machine.client_id)).one()
    row.disabled_at = clock.now()
    db.commit()
    assert client.get(url, headers=bearer(token)).status_code == 401
    r = client.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        auth=(machine.client_id, machine.client_secret),
    )
    assert r.status_code == 401


def test_failed_machine_authentication_is_rate_limited(client, machine):  # PRV-1 SEC-21
    statuses = [
        client.post(
            TOKEN,
            data={"grant_type": "client_credentials"},
            auth=(machine.client_id, f"wrong-{n}"),
        ).status_code
        for n in range(12)
    ]
    assert statuses[0] == 401
    assert 429 in statuses


def test_discovery_lists_the_client_credentials_grant(client):  # PRV-1
    meta = client.get("/.well-known/openid-configuration").json()
    assert "client_credentials" in meta["grant_types_supported"]
    assert {"companies:write", "members:read", "members:write", "scim"} <= set(
        meta["scopes_supported"]
    )


def test_a_foreign_company_is_not_in_a_machine_clients_reach(
    db, world, client, clock, settings
):  # PRV-1
    office_client = f.company(db, "Not listed Oy")
    db.commit()
    reg = register_machine(
        db, clock, settings.secret, scopes=["members:read"], company_ids=[world.client_a.id]
    )
    token = machine_token(client, reg)
    r = client.get(f"/api/v1/companies/{office_client.id}/members", headers=bearer(token))
    assert r.status_code == 403 and r.json()["code"] == "company_not_allowed"
    missing = client.get("/api/v1/companies/999999/members", headers=bearer(token))
    assert missing.status_code == 403 and missing.json()["code"] == "company_not_allowed"


def test_forged_machine_tokens_are_refused(
    client, db, clock, settings, runtime, machine, world
):  # PRV-1
    """Signed by another key, naming a login client, issued by another issuer or with a login
    token's type: each is refused, though every other claim is right."""
    from portti.oidc_provider.keys import ACCESS_TOKEN_ALGORITHM, sign_compact

    url = f"/api/v1/companies/{world.client_a.id}/members"
    login_client = register(db, clock, settings.secret, company_ids=[world.client_a.id])
    now = int(time.time())

    def claims(sub: str, **extra: object) -> dict[str, object]:
        return {
            "iss": "http://testserver",
            "aud": "http://testserver",
            "sub": sub,
            "client_id": sub,
            "scope": "members:read",
            "iat": now,
            "exp": now + 60,
            "jti": secrets.token_urlsafe(8),
            **extra,
        }

    ours = runtime.oidc_keys.active_signing_key(ACCESS_TOKEN_ALGORITHM)
    stranger = ECKey.generate_key("P-256", {"kid": ours.kid}, private=True)
    forged = {
        "foreign key": sign_compact(stranger, "ES256", claims(machine.client_id), "machine-at+jwt"),
        "login client": sign_compact(
            ours, "ES256", claims(login_client.client_id), "machine-at+jwt"
        ),
        "other issuer": sign_compact(
            ours, "ES256", claims(machine.client_id, iss="https://evil.example"), "machine-at+jwt"
        ),
        "login type": sign_compact(ours, "ES256", claims(machine.client_id), "at+jwt"),
        "with a sid": sign_compact(
            ours, "ES256", claims(machine.client_id, sid="x"), "machine-at+jwt"
        ),
    }
    genuine = sign_compact(ours, "ES256", claims(machine.client_id), "machine-at+jwt")
    assert client.get(url, headers=bearer(genuine)).status_code == 200
    for what, token in forged.items():
        r = client.get(url, headers=bearer(token))
        assert r.status_code == 401 and r.json()["code"] == "invalid_token", what
        assert "expired" not in r.headers["www-authenticate"] + r.text, what


def test_a_request_without_credentials_is_challenged_for_a_bearer_token(
    client, world
):  # PRV-1 PRV-2
    for url in (
        f"/api/v1/companies/{world.client_a.id}/members",  # a person's session or a token
        f"/api/v1/companies/{world.client_a.id}",  # a machine's token only
    ):
        r = client.get(url)
        assert r.status_code == 401, url
        assert r.headers["www-authenticate"] == "Bearer", url
        assert r.headers["content-type"].startswith("application/problem+json"), url
