"""The authorization code flow driven by Authlib's client: login by bank ID on Portti's page,
company and roles as claims, UserInfo, refresh with rotation, prompt / max_age / login_hint /
acr_values."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portti.audit.models import AuditEvent
from portti.oidc_provider.claims import ACR_BANK_ID, ACR_FTN_LOA2
from support.oidc import RelyingParty, query_of, register, relying_party, return_url
from support.web import local, login


def log_in_at_portti(client, rp: RelyingParty, person, **extra: str) -> str:  # type: ignore[no-untyped-def]
    """The browser goes to the authorize URL, logs in with bank ID on Portti's login page and
    comes back; returns the callback URL the client receives."""
    first = client.get(local(rp.authorization_url(**extra)))
    assert first.status_code == 303, first.text
    next_ = query_of(first.headers["location"])["next"]
    assert first.headers["location"].startswith("/login?next=")
    callback = login(client, person, next_=next_)
    assert callback.status_code == 303, callback.text
    done = client.get(local(callback.headers["location"]))
    return return_url(done)


def test_login_by_bank_id_gives_the_client_company_and_roles(client, rp, cast) -> None:  # WEB-4
    callback = log_in_at_portti(client, rp, cast.kaisa)
    assert callback.startswith("https://accounting.example/callback?")
    got = query_of(callback)
    assert got["state"] == rp.state and got["iss"] == "http://testserver"
    token = rp.fetch_token(callback)
    assert token["token_type"] == "Bearer" and token["refresh_token"]
    claims = rp.id_claims(token["id_token"])
    assert claims["sub"] == cast.kaisa.portti_id
    assert claims["name"] == "Kaisa Mäkinen" and claims["email"] == "kaisa@makinen.example"
    # The broker's level (the test provider says FTN loa2), OIDC-5.
    assert claims["acr"] == ACR_FTN_LOA2 and "mfa" in claims["amr"] and claims["sid"]
    companies = {c["name"]: c["roles"] for c in claims["companies"]}
    assert companies == {"Kahvila Aalto Oy": ["bookkeeper"], "Mäkinen Design Oy": ["user_admin"]}

    info = rp.http.get("http://testserver/oidc/userinfo")
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == claims["sub"]
    assert {c["name"] for c in info.json()["companies"]} == set(companies)


def test_second_authorization_in_the_same_browser_needs_no_login(client, rp, cast) -> None:  # WEB-4
    log_in_at_portti(client, rp, cast.kaisa)
    again = client.get(local(rp.authorization_url()))
    assert again.status_code == 303
    assert again.headers["location"].startswith("https://accounting.example/callback?code=")


def test_refresh_rotates_and_a_reused_refresh_token_ends_the_family(
    client, rp, cast, db
) -> None:  # OPS-4
    token = rp.fetch_token(log_in_at_portti(client, rp, cast.kaisa))
    first = token["refresh_token"]
    new = rp.http.refresh_token("http://testserver/oidc/token", refresh_token=first)
    assert new["refresh_token"] != first and new["access_token"]
    assert rp.id_claims(new["id_token"], nonce=None)["sub"] == cast.kaisa.portti_id
    # The old one again: refused, and the new one dies with it.
    reused = rp.http.post(
        "http://testserver/oidc/token",
        data={"grant_type": "refresh_token", "refresh_token": first},
        auth=(rp.reg.client_id, rp.reg.client_secret),
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    after = rp.http.post(
        "http://testserver/oidc/token",
        data={"grant_type": "refresh_token", "refresh_token": new["refresh_token"]},
        auth=(rp.reg.client_id, rp.reg.client_secret),
    )
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant"
    reasons = [e.details.get("reason") for e in db.scalars(select(AuditEvent)).all()]
    assert "refresh_token_reused" in reasons


def test_company_choice_gives_company_and_roles(client, db, clock, settings, cast) -> None:  # WEB-3
    reg = register(db, clock, settings.secret, company_selection=True)
    rp = relying_party(client._transport, "http://testserver", reg)
    first = client.get(local(rp.authorization_url()))
    callback = login(client, cast.kaisa, next_=query_of(first.headers["location"])["next"])
    page = client.get(local(callback.headers["location"]))
    assert page.status_code == 200 and "Choose company" in page.text
    assert "Kahvila Aalto Oy" in page.text and "Mäkinen Design Oy" in page.text
    from support.web import csrf_from

    handle = query_of(callback.headers["location"])["r"]
    done = client.post(
        "/oidc/company",
        data={"r": handle, "company_id": cast.aalto.id, "csrf_token": csrf_from(page)},
    )
    claims = rp.id_claims(rp.fetch_token(return_url(done))["id_token"])
    assert claims["company"]["name"] == "Kahvila Aalto Oy"
    assert claims["roles"] == ["bookkeeper"] and "companies" not in claims


def test_person_without_membership_for_the_client_gets_a_refusal_page(
    client, db, clock, settings, cast
) -> None:  # WEB-3
    reg = register(db, clock, settings.secret, company_ids=[cast.makinen.id])
    rp = relying_party(client._transport, "http://testserver", reg)
    first = client.get(local(rp.authorization_url()))
    callback = login(client, cast.outsider, next_=query_of(first.headers["location"])["next"])
    page = client.get(local(callback.headers["location"]), headers={"accept": "text/html"})
    assert page.status_code == 403
    assert "no valid user rights in a company that uses Numerot accounting" in page.text
    actions = [(e.action, e.details.get("reason")) for e in db.scalars(select(AuditEvent))]
    assert ("oidc_authorization_refused", "no_membership") in actions


def test_company_restriction_limits_the_companies_claim(
    client, db, clock, settings, cast
) -> None:  # WEB-3
    reg = register(db, clock, settings.secret, company_ids=[cast.makinen.id])
    rp = relying_party(client._transport, "http://testserver", reg)
    claims = rp.id_claims(rp.fetch_token(log_in_at_portti(client, rp, cast.kaisa))["id_token"])
    assert [c["name"] for c in claims["companies"]] == ["Mäkinen Design Oy"]


def test_pairwise_subject_differs_from_the_portti_id(
    client, db, clock, settings, cast
) -> None:  # OPS-4
    reg = register(
        db, clock, settings.secret, subject_type="pairwise", company_ids=[cast.makinen.id]
    )
    rp = relying_party(client._transport, "http://testserver", reg)
    claims = rp.id_claims(rp.fetch_token(log_in_at_portti(client, rp, cast.kaisa))["id_token"])
    assert claims["sub"] != cast.kaisa.portti_id and len(claims["sub"]) == 43


def test_prompt_none_without_a_session_answers_login_required(client, rp) -> None:  # WEB-4
    r = client.get(local(rp.authorization_url(prompt="none")))
    assert r.status_code == 303
    got = query_of(r.headers["location"])
    assert got["error"] == "login_required" and got["state"] == rp.state


def test_prompt_login_and_max_age_send_a_logged_in_person_to_log_in_again(
    client, rp, cast, clock
) -> None:  # WEB-4
    log_in_at_portti(client, rp, cast.kaisa)
    again = client.get(local(rp.authorization_url(prompt="login")))
    assert again.headers["location"].startswith("/login?next=")
    clock.advance(timedelta(minutes=5))
    stale = client.get(local(rp.authorization_url(max_age="0")))
    assert stale.headers["location"].startswith("/login?next=")
    # After logging in again the request completes.
    callback = login(client, cast.kaisa, next_=query_of(stale.headers["location"])["next"])
    done = return_url(client.get(local(callback.headers["location"])))
    claims = rp.id_claims(rp.fetch_token(done)["id_token"], now=int(clock.now().timestamp()))
    assert claims["auth_time"] >= int(clock.now().timestamp()) - 5


def test_login_hint_of_another_person_asks_for_a_login(client, rp, cast) -> None:  # WEB-4
    log_in_at_portti(client, rp, cast.kaisa)
    same = client.get(local(rp.authorization_url(login_hint=cast.kaisa.portti_id)))
    assert same.headers["location"].startswith("https://accounting.example/callback?code=")
    other = client.get(local(rp.authorization_url(login_hint=cast.outsider.portti_id)))
    assert other.headers["location"].startswith("/login?next=")


def test_acr_values_not_met_by_the_session_ask_for_a_login(client, rp, cast) -> None:  # WEB-4
    log_in_at_portti(client, rp, cast.kaisa)
    r = client.get(local(rp.authorization_url(acr_values="urn:portti:acr:app")))
    assert r.headers["location"].startswith("/login?next=")
    ok = client.get(local(rp.authorization_url(acr_values=ACR_BANK_ID)))
    assert ok.headers["location"].startswith("https://accounting.example/callback?code=")


def test_every_grant_is_audited(client, rp, cast, db) -> None:  # OPS-4
    rp.fetch_token(log_in_at_portti(client, rp, cast.kaisa))
    actions = [e.action for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "oidc_authorized" in actions and "oidc_tokens_issued" in actions


def test_key_rotation_keeps_issued_tokens_valid_and_signs_with_the_new_key(
    client, app, rp, cast
) -> None:  # OPS-4
    from joserfc import jws

    token = rp.fetch_token(log_in_at_portti(client, rp, cast.kaisa))
    old_kid = jws.extract_compact(token["id_token"].encode()).protected["kid"]
    store = app.state.runtime.keys
    store.rotate("RS256", immediately=True, purpose="op")
    store.rotate("ES256", immediately=True, purpose="op")
    store.refresh()
    # The access token signed by the previous ES256 key still works while that key is published.
    assert rp.http.get("http://testserver/oidc/userinfo").status_code == 200
    again = client.get(local(rp.authorization_url()))
    new = rp.fetch_token(return_url(again))
    new_kid = jws.extract_compact(new["id_token"].encode()).protected["kid"]
    assert new_kid != old_kid
    kids = {k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]}
    assert {old_kid, new_kid} <= kids
    assert rp.id_claims(new["id_token"])["sub"] == cast.kaisa.portti_id


def test_the_refusal_page_is_in_the_persons_language(
    client, db, clock, settings, cast
) -> None:  # I18N-1
    cast.outsider.language = "sv"
    db.commit()
    reg = register(db, clock, settings.secret, company_ids=[cast.makinen.id])
    rp = relying_party(client._transport, "http://testserver", reg)
    first = client.get(local(rp.authorization_url()))
    callback = login(client, cast.outsider, next_=query_of(first.headers["location"])["next"])
    page = client.get(
        local(callback.headers["location"]),
        headers={"accept": "text/html", "accept-language": "en"},
    )
    assert page.status_code == 403
    assert "Inga användarrättigheter till den här tjänsten" in page.text
    assert "inga giltiga användarrättigheter i ett företag som använder Numerot accounting" in (
        page.text
    )
