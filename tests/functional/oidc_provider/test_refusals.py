"""Every refusal of the OpenID Provider: untrusted redirects, code replay, PKCE, expired codes,
foreign clients, client authentication, and tokens it did not issue (OPS-4: bad input changes
nothing and gets a clear answer)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from datetime import timedelta

import httpx
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from joserfc.jwk import ECKey
from sqlalchemy import select

from portti.audit.models import AuditEvent
from portti.oidc_provider.models import RefreshToken
from support.oidc import RelyingParty, query_of, register, relying_party, return_url
from support.web import HTML, force_login, local

TOKEN = "http://testserver/oidc/token"


class ShortPrivateKeyJWT(PrivateKeyJWT):  # type: ignore[misc]
    """Authlib's private_key_jwt with assertions valid for two minutes (its default hour is
    longer than Portti accepts: SEC-19)."""

    def sign(self, auth, token_endpoint):  # type: ignore[no-untyped-def]
        return private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            alg=self.alg,
            expires_in=120,
        )


def code_for(client, rp: RelyingParty, person, **extra: str) -> str:  # type: ignore[no-untyped-def]
    force_login(client, person)
    return return_url(client.get(local(rp.authorization_url(**extra))))


def redeem(
    rp: RelyingParty,
    callback: str,
    *,
    redirect_uri: str | None = None,
    pkce: bool = True,
    auth: tuple[str, str | None] | None = None,
) -> httpx.Response:
    """The code in ``callback`` at the token endpoint, as ``rp`` redeems it unless told otherwise
    (``pkce=False`` sends no code verifier)."""
    data = {
        "grant_type": "authorization_code",
        "code": query_of(callback)["code"],
        "redirect_uri": redirect_uri or rp.redirect_uri,
    }
    if pkce:
        data["code_verifier"] = rp.verifier
    return rp.http.post(TOKEN, data=data, auth=auth or (rp.reg.client_id, rp.reg.client_secret))


def reasons(db) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.details.get("reason") for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_unregistered_redirect_uri_gets_a_page_not_a_redirect(client, rp, cast) -> None:  # OPS-4
    url = rp.authorization_url().replace("accounting.example%2Fcallback", "evil.example%2Fcallback")
    r = client.get(local(url), headers=HTML)
    assert r.status_code == 400 and "location" not in r.headers
    assert "not registered" in r.text


def test_redirect_uri_must_match_exactly(client, rp, cast) -> None:  # OPS-4
    url = rp.authorization_url().replace("%2Fcallback", "%2Fcallback%2F")
    assert client.get(local(url), headers=HTML).status_code == 400


def test_unknown_client_gets_a_page(client, cast) -> None:  # OPS-4
    r = client.get(
        "/oidc/authorize?client_id=nobody&redirect_uri=https://evil.example/&response_type=code&scope=openid",
        headers=HTML,
    )
    assert r.status_code == 400 and "not registered" in r.text


def test_bad_requests_go_back_to_the_client_with_an_error(client, rp, cast) -> None:  # OPS-4
    for extra, error in [
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
    ]:
        url = rp.authorization_url(**{k: v for k, v in extra.items() if k == "scope"})
        if "response_type" in extra:
            url = url.replace("response_type=code", "response_type=token")
        if "code_challenge_method" in extra:
            url = url.replace("code_challenge_method=S256", "code_challenge_method=plain")
        r = client.get(local(url))
        assert r.status_code == 303, r.text
        got = query_of(r.headers["location"])
        assert got["error"] == error and got["state"] == rp.state, (extra, got)


def test_code_replay_is_refused_and_revokes_what_the_code_gave(
    client, rp, cast, db
) -> None:  # OPS-4
    callback = code_for(client, rp, cast.kaisa)
    token = rp.fetch_token(callback)
    again = redeem(rp, callback)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert again.headers["cache-control"] == "no-store"
    db.expire_all()
    row = db.get(RefreshToken, hashlib.sha256(token["refresh_token"].encode()).hexdigest())
    assert row is not None and row.revoked_at is not None
    assert "code_replayed" in reasons(db)


def test_pkce_mismatch_is_refused(client, rp, cast, db) -> None:  # OPS-4
    callback = code_for(client, rp, cast.kaisa)
    rp.verifier = secrets.token_urlsafe(48)
    r = redeem(rp, callback)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert "pkce_mismatch" in reasons(db)


def test_missing_verifier_is_refused(client, rp, cast) -> None:  # OPS-4
    callback = code_for(client, rp, cast.kaisa)
    r = redeem(rp, callback, pkce=False)
    assert r.json()["error"] == "invalid_grant"


def test_expired_code_is_refused(client, rp, cast, clock, db) -> None:  # OPS-4
    callback = code_for(client, rp, cast.kaisa)
    clock.advance(timedelta(seconds=61))
    r = redeem(rp, callback)
    assert r.json()["error"] == "invalid_grant" and "code_expired" in reasons(db)


def test_code_of_another_client_is_refused(client, rp, cast, db, clock, settings) -> None:  # OPS-4
    callback = code_for(client, rp, cast.kaisa)
    foreign = register(db, clock, settings.secret, name="Someone else")
    r = redeem(rp, callback, auth=(foreign.client_id, foreign.client_secret))
    assert r.json()["error"] == "invalid_grant" and "foreign_code" in reasons(db)


def test_redirect_uri_must_be_the_one_of_the_request(
    client, db, clock, settings, cast
) -> None:  # OPS-4
    reg = register(
        db,
        clock,
        settings.secret,
        company_ids=[cast.makinen.id],
        redirect_uris=["https://accounting.example/callback", "https://accounting.example/other"],
    )
    rp = relying_party(client._transport, "http://testserver", reg)
    callback = code_for(client, rp, cast.kaisa)
    r = redeem(rp, callback, redirect_uri="https://accounting.example/other")
    assert r.json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_401_with_a_basic_challenge(client, rp, cast) -> None:  # OPS-4
    callback = code_for(client, rp, cast.kaisa)
    r = redeem(rp, callback, auth=(rp.reg.client_id, "wrong"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert r.headers["www-authenticate"].startswith("Basic")
    # The code was not spent by an unauthenticated caller: the real client still gets tokens.
    assert rp.fetch_token(callback)["access_token"]


def test_secret_in_the_body_is_not_accepted(client, rp, cast) -> None:  # OPS-4
    r = httpx.Client(transport=client._transport).post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": "x",
            "redirect_uri": rp.redirect_uri,
            "client_id": rp.reg.client_id,
            "client_secret": rp.reg.client_secret,
        },
    )
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_userinfo_refuses_tokens_it_did_not_issue(client, rp, cast) -> None:  # OPS-4
    http = httpx.Client(transport=client._transport)
    for header in ("", "Bearer nonsense", "Bearer " + rp.authorization_url()):
        r = http.get(
            "http://testserver/oidc/userinfo", headers={"authorization": header} if header else {}
        )
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    # An ID token is not an access token.
    token = rp.fetch_token(code_for(client, rp, cast.kaisa))
    r = http.get(
        "http://testserver/oidc/userinfo", headers={"authorization": f"Bearer {token['id_token']}"}
    )
    assert r.status_code == 401


def test_public_client_must_use_pkce_s256_and_gets_tokens_with_it(
    client, db, clock, settings, cast
) -> None:  # OPS-4
    reg = register(db, clock, settings.secret, auth_method="none", company_ids=[cast.makinen.id])
    assert reg.client_secret is None
    rp = relying_party(
        client._transport, "http://testserver", reg, token_endpoint_auth_method="none"
    )
    force_login(client, cast.kaisa)
    url = rp.authorization_url()
    without = url.split("&code_challenge=")[0]
    r = client.get(local(without))
    assert query_of(r.headers["location"])["error"] == "invalid_request"
    token = rp.fetch_token(return_url(client.get(local(url))))
    assert rp.id_claims(token["id_token"])["sub"] == cast.kaisa.portti_id


def test_private_key_jwt_authenticates_and_an_assertion_is_single_use(
    client, db, clock, settings, cast
) -> None:  # OPS-4
    key = ECKey.generate_key("P-256", {"kid": "rp-1"}, private=True)
    reg = register(
        db,
        clock,
        settings.secret,
        company_ids=[cast.makinen.id],
        auth_method="private_key_jwt",
        jwks={"keys": [key.as_dict(private=False)]},
    )
    rp = relying_party(
        client._transport,
        "http://testserver",
        reg,
        token_endpoint_auth_method=ShortPrivateKeyJWT(TOKEN, alg="ES256"),
        client_secret=key.as_dict(private=True),
    )
    token = rp.fetch_token(code_for(client, rp, cast.kaisa))
    assert rp.id_claims(token["id_token"])["sub"] == cast.kaisa.portti_id

    # The same assertion twice: refused.
    from joserfc import jwt as jjwt

    now = int(time.time())
    assertion = jjwt.encode(
        {"alg": "ES256", "kid": "rp-1"},
        {
            "iss": reg.client_id,
            "sub": reg.client_id,
            "aud": TOKEN,
            "jti": "once",
            "exp": now + 60,
            "iat": now,
        },
        key,
    )
    data = {
        "grant_type": "refresh_token",
        "refresh_token": token["refresh_token"],
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    http = httpx.Client(transport=client._transport)
    assert http.post(TOKEN, data=data).status_code == 200
    replay = http.post(TOKEN, data=data)
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client"
    # Signed by another key: refused.
    other = ECKey.generate_key("P-256", {"kid": "rp-1"}, private=True)
    forged = jjwt.encode(
        {"alg": "ES256", "kid": "rp-1"},
        {"iss": reg.client_id, "sub": reg.client_id, "aud": TOKEN, "jti": "x", "exp": now + 60},
        other,
    )
    r = http.post(TOKEN, data={**data, "client_assertion": forged})
    assert r.status_code == 401


def test_s256_helper_matches_rfc_7636_appendix_b() -> None:  # OPS-4
    from portti.oidc_provider.provider import s256

    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert base64.urlsafe_b64decode(s256(verifier) + "=")
