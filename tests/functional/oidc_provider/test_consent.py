"""Consent (OIDC-4): an application that is not the operator's own is allowed by the person,
once, on a page that names what it gets; remembered, listed and revocable in basic settings;
``prompt=consent`` always asks."""

from __future__ import annotations

import re

from sqlalchemy import select

from portti.oidc_provider.models import OidcConsent
from support.db import audit_events, fresh
from support.oidc import query_of, register, relying_party, return_url
from support.web import HTML, csrf_from, force_login, local, page_csrf

COMPANY_FIELD = re.compile(r'name="company_id" value="(\d*)"')
SCOPE = "openid profile email companies offline_access"


def third_party(client, db, clock, settings, cast, **fields):  # type: ignore[no-untyped-def]
    reg = register(
        db,
        clock,
        settings.secret,
        first_party=False,
        company_ids=[cast.makinen.id, cast.aalto.id],
        allowed_scopes=SCOPE.split(),
        **fields,
    )
    return relying_party(client._transport, "http://testserver", reg, scope=SCOPE)


def answer(client, page, decision: str):  # type: ignore[no-untyped-def]
    handle = re.search(r'name="r" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return client.post(
        "/oidc/consent",
        data={
            "r": handle,
            "decision": decision,
            "company_id": COMPANY_FIELD.search(page.text).group(1),  # type: ignore[union-attr]
            "csrf_token": csrf_from(page),
        },
    )


def test_a_third_party_application_asks_once_naming_what_it_gets(
    client, db, clock, settings, cast
) -> None:  # OIDC-4
    rp = third_party(client, db, clock, settings, cast)
    force_login(client, cast.kaisa)
    page = client.get(local(rp.authorization_url()), headers=HTML)
    assert page.status_code == 200
    assert "Allow Numerot accounting?" in page.text
    for shown in (
        "Your name",
        "Your e-mail address",
        "Kahvila Aalto Oy: Bookkeeper",
        "Mäkinen Design Oy: User administrator",
        "while you are not logged in",
    ):
        assert shown in page.text, shown
    assert "code=" not in page.text
    assert "user_admin" not in page.text and "bookkeeper" not in page.text
    token = rp.fetch_token(return_url(answer(client, page, "allow")))
    assert {c["name"] for c in rp.id_claims(token["id_token"])["companies"]} == {
        "Kahvila Aalto Oy",
        "Mäkinen Design Oy",
    }
    [granted] = audit_events(db, "oidc_consent_granted")
    assert granted.details["scope"] == "companies email offline_access openid profile"
    # Remembered: the next login goes straight back.
    again = client.get(local(rp.authorization_url()))
    assert again.headers["location"].startswith("https://accounting.example/callback?code=")


def test_prompt_consent_always_asks_and_a_wider_scope_asks_again(
    client, db, clock, settings, cast
) -> None:  # OIDC-4
    rp = third_party(client, db, clock, settings, cast)
    force_login(client, cast.kaisa)
    narrow = client.get(local(rp.authorization_url(scope="openid profile")), headers=HTML)
    assert "Allow Numerot accounting?" in narrow.text and "Your companies" not in narrow.text
    answer(client, narrow, "allow")
    asked = client.get(local(rp.authorization_url(scope="openid profile", prompt="consent")))
    assert asked.status_code == 200 and "Allow Numerot accounting?" in asked.text
    wider = client.get(local(rp.authorization_url()), headers=HTML)
    assert wider.status_code == 200 and "Your companies and roles" in wider.text


def test_a_first_party_application_is_not_asked(
    client, db, clock, settings, cast
) -> None:  # OIDC-4
    reg = register(db, clock, settings.secret, company_ids=[cast.makinen.id], first_party=True)
    rp = relying_party(client._transport, "http://testserver", reg)
    force_login(client, cast.kaisa)
    r = client.get(local(rp.authorization_url()))
    assert r.headers["location"].startswith("https://accounting.example/callback?code=")
    fresh(db)
    assert db.scalars(select(OidcConsent)).all() == []


def test_not_allowing_sends_access_denied_and_remembers_nothing(
    client, db, clock, settings, cast
) -> None:  # OIDC-4
    rp = third_party(client, db, clock, settings, cast)
    force_login(client, cast.kaisa)
    page = client.get(local(rp.authorization_url()), headers=HTML)
    got = query_of(return_url(answer(client, page, "deny")))
    assert got["error"] == "access_denied" and got["state"] == rp.state and "code" not in got
    fresh(db)
    assert db.scalars(select(OidcConsent)).all() == []
    assert [e.details["reason"] for e in audit_events(db, "oidc_authorization_refused")] == [
        "consent_denied"
    ]


def test_prompt_none_without_consent_answers_consent_required(
    client, db, clock, settings, cast
) -> None:  # OIDC-4
    rp = third_party(client, db, clock, settings, cast)
    force_login(client, cast.kaisa)
    r = client.get(local(rp.authorization_url(prompt="none")))
    assert query_of(r.headers["location"])["error"] == "consent_required"


def test_consent_is_listed_and_revoked_in_basic_settings(
    client, db, clock, settings, cast
) -> None:  # OIDC-4
    rp = third_party(client, db, clock, settings, cast)
    force_login(client, cast.kaisa)
    page = client.get(local(rp.authorization_url()), headers=HTML)
    token = rp.fetch_token(return_url(answer(client, page, "allow")))
    basic = client.get("/settings", headers=HTML)
    assert "Applications you have allowed" in basic.text
    assert "Revoke permission of Numerot accounting" in basic.text
    assert "companies and roles" in basic.text
    # What it gets, in words: the scopes' names are the protocol's, not the person's.
    gets = re.search(r'data-label="What it gets">([^<]*)<', basic.text).group(1)  # type: ignore[union-attr]
    assert "openid" not in gets and "Portti ID" in gets
    fresh(db)
    [consent] = db.scalars(select(OidcConsent)).all()
    r = client.post(
        f"/settings/applications/{consent.id}/revoke", data={"csrf_token": page_csrf(client)}
    )
    assert r.status_code == 303
    fresh(db)
    assert db.scalars(select(OidcConsent)).all() == []
    assert audit_events(db, "oidc_consent_revoked")
    # What the consent gave ends with it: the refresh token, the access token at UserInfo.
    refused = rp.http.post(
        "http://testserver/oidc/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(rp.reg.client_id, rp.reg.client_secret),
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert rp.http.get("http://testserver/oidc/userinfo").status_code == 401
    # And the next login asks again.
    again = client.get(local(rp.authorization_url()), headers=HTML)
    assert again.status_code == 200 and "Allow Numerot accounting?" in again.text


def test_another_persons_consent_cannot_be_revoked(
    client, db, clock, settings, cast
) -> None:  # OIDC-4
    rp = third_party(client, db, clock, settings, cast)
    force_login(client, cast.kaisa)
    answer(client, client.get(local(rp.authorization_url()), headers=HTML), "allow")
    fresh(db)
    [consent] = db.scalars(select(OidcConsent)).all()
    force_login(client, cast.outsider)
    r = client.post(
        f"/settings/applications/{consent.id}/revoke",
        data={"csrf_token": page_csrf(client)},
        headers=HTML,
    )
    assert r.status_code == 404
    fresh(db)
    assert len(db.scalars(select(OidcConsent)).all()) == 1


def test_the_consent_page_is_in_finnish_and_swedish(
    client, db, clock, settings, cast
) -> None:  # OIDC-4
    rp = third_party(client, db, clock, settings, cast)
    force_login(client, cast.kaisa)
    fi = client.get(local(rp.authorization_url()), headers={**HTML, "accept-language": "fi"})
    assert "Sallitko sovelluksen Numerot accounting?" in fi.text and "Älä salli" in fi.text
    # The roles by their names in the reader's language, not their codes.
    assert "Mäkinen Design Oy: Käyttäjähallinnoija" in fi.text
    assert "Kahvila Aalto Oy: Kirjaaja" in fi.text
    sv = client.get(local(rp.authorization_url()), headers={**HTML, "accept-language": "sv"})
    assert "Tillåta Numerot accounting?" in sv.text and "Tillåt inte" in sv.text
    assert "Kahvila Aalto Oy: Bokförare" in sv.text
