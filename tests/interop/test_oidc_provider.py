"""Portti's relying party against a certified OpenID Provider (oidc-provider), over real HTTP:
login, step-up and app activation with RS256, ES256 and PS256, private_key_jwt (and the
audience of its assertion), PAR and JAR, encrypted ID tokens and UserInfo, claims only in
UserInfo, key rotation on both sides, and the refusals: wrong issuer, audience, algorithm
(including ``none`` and HS256), nonce, state and acr, expired tokens, codes replayed or
redeemed by another login or client."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey
from sqlalchemy import select

from interop.conftest import LOA2, LOA3, Interop, account, provider_jwks
from portti.audit.models import AuditEvent
from portti.keys.services import KeyPolicy
from portti.people.models import Person
from portti.strongauth.oidc.jwks import FORCE_INTERVAL
from support import factories as f
from support.web import CSRF_RE

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def people(interop: Interop) -> dict[str, dict[str, str]]:
    """Two people with Finnish identity codes, members of a company."""
    with interop.app.state.runtime.session_factory() as db:
        company = f.company(db, "Interop Oy")
        found: dict[str, dict[str, str]] = {}
        for name in ("Aino", "Eero"):
            p = f.person(db, name, "Interop")
            f.member(db, p, company)
            found[name] = {
                "given_name": p.given_name,
                "family_name": p.family_name,
                "national_id": p.identifiers[0].value,
                "country": "FI",
                "person_id": str(p.id),
            }
        db.commit()
    return found


def identity(who: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in who.items() if k != "person_id"}


def csrf(browser: httpx.Client, path: str) -> str:
    m = CSRF_RE.search(browser.get(path, headers={"accept": "text/html"}).text)
    assert m, path
    return m.group(1)


def start(browser: httpx.Client, provider: str, *, step_up: bool = False) -> httpx.Response:
    if step_up:
        token = csrf(browser, "/step-up?next=/")
        return browser.post(
            "/step-up/start", data={"provider": provider, "next": "/", "csrf_token": token}
        )
    token = csrf(browser, "/login")
    return browser.post(
        "/login/start", data={"provider": provider, "next": "/", "csrf_token": token}
    )


def at_provider(
    interop: Interop,
    authorization_url: str,
    who: dict[str, str] | None,
    *,
    acr: str | None = None,
    amr: str | None = None,
    abort: dict[str, str] | None = None,
    op: httpx.Client | None = None,
) -> str:
    """The person's part at the provider; returns the callback URL it sends the browser to.
    ``op`` is the browser's cookie jar at the provider (a new one: no session there yet)."""
    op = op or interop.op_browser()
    r = op.get(authorization_url)
    assert r.status_code in (302, 303), r.text
    interaction = r.headers["location"]
    if interaction.startswith("/"):
        interaction = interop.op + interaction
    details = op.get(interaction).json()
    interop.seen["params"] = details["params"]
    interop.seen["prompt"] = details["prompt"]
    if abort is not None:
        r = op.post(f"{interaction}/abort", data=abort)
    else:
        assert who is not None
        form = {"account": account(identity(who))}
        if acr:
            form["acr"] = acr
        if amr:
            form["amr"] = amr
        r = op.post(f"{interaction}/login", data=form)
    assert r.status_code in (302, 303), r.text
    resume = r.headers["location"]
    r = op.get(resume if resume.startswith("http") else interop.op + resume)
    assert r.status_code in (302, 303), r.text
    return str(r.headers["location"])


def login(
    interop: Interop, browser: httpx.Client, provider: str, who: dict[str, str], **kw: Any
) -> httpx.Response:
    r = start(browser, provider)
    assert r.status_code == 303, r.text
    return browser.get(at_provider(interop, r.headers["location"], who, **kw))


def events(interop: Interop, action: str) -> list[AuditEvent]:
    with interop.app.state.runtime.session_factory() as db:
        return list(
            db.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def me(browser: httpx.Client) -> dict[str, Any]:
    r = browser.get("/api/v1/me")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def portti_id(interop: Interop, who: dict[str, str]) -> str:
    with interop.app.state.runtime.session_factory() as db:
        return db.get(Person, int(who["person_id"])).portti_id  # type: ignore[union-attr]


# -- logins -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "alg"),
    [("fi_basic", "RS256"), ("fi_es256", "ES256"), ("fi_ps256", "PS256")],
)
def test_login_with_each_signature_algorithm(interop, people, provider, alg) -> None:  # WEB-4
    browser = interop.browser()
    r = login(interop, browser, provider, people["Aino"])
    assert r.status_code == 303, r.text
    assert me(browser)["portti_id"] == portti_id(interop, people["Aino"])
    event = events(interop, "login_succeeded")[-1]
    assert event.details["method"] == f"oidc:{provider}"


def test_private_key_jwt_with_par_and_a_signed_request_object(interop, people) -> None:  # WEB-4
    browser = interop.browser()
    r = start(browser, "fi_ps256")
    query = parse_qs(urlsplit(r.headers["location"]).query)
    # Only the client and the pushed request's handle go through the browser.
    assert set(query) == {"client_id", "request_uri"}
    assert query["request_uri"][0].startswith("urn:ietf:params:oauth:request_uri:")
    callback = at_provider(interop, r.headers["location"], people["Aino"])
    assert interop.seen["params"]["nonce"] and interop.seen["params"]["code_challenge"]
    assert browser.get(callback).status_code == 303


def test_signed_request_object_without_par(interop, people) -> None:  # WEB-4
    browser = interop.browser()
    r = start(browser, "fi_jar")
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert "request" in query and "state" not in query and "nonce" not in query
    assert (
        browser.get(at_provider(interop, r.headers["location"], people["Aino"])).status_code == 303
    )


def test_encrypted_id_token_and_userinfo(interop, people) -> None:  # WEB-4
    browser = interop.browser()
    r = login(interop, browser, "fi_jwe", people["Eero"])
    assert r.status_code == 303, r.text
    assert me(browser)["portti_id"] == portti_id(interop, people["Eero"])


def test_identifier_only_in_userinfo_by_the_provider_defaults(interop, people) -> None:  # WEB-4
    """conformIdTokenClaims (the default): scope claims are in UserInfo, not the ID token."""
    browser = interop.browser()
    r = login(interop, browser, "fi_basic", people["Eero"])
    assert r.status_code == 303, r.text
    assert me(browser)["portti_id"] == portti_id(interop, people["Eero"])


def test_claims_parameter_puts_the_identifier_in_the_id_token(interop, people) -> None:  # WEB-4
    browser = interop.browser()
    r = start(browser, "fi_claims")
    callback = at_provider(interop, r.headers["location"], people["Aino"])
    assert "national_id" in interop.seen["params"]["claims"]
    # UserInfo is never called for this entry, so the identifier came in the ID token.
    assert browser.get(callback).status_code == 303


def test_acr_and_amr_are_recorded(interop, people) -> None:  # WEB-4
    browser = interop.browser()
    r = login(interop, browser, "fi_acr", people["Aino"], acr=LOA2, amr="mfa")
    assert r.status_code == 303, r.text
    assert interop.seen["params"]["acr_values"] == LOA2
    event = events(interop, "login_succeeded")[-1]
    assert event.details["acr"] == LOA2 and event.details["amr"] == ["mfa"]


# -- step-up ----------------------------------------------------------------------------------


def test_step_up_through_the_provider_is_a_new_authentication(
    interop, people
) -> None:  # SEC-6 ADM-2
    browser, op = interop.browser(), interop.op_browser()
    r = start(browser, "fi_acr")
    callback = at_provider(interop, r.headers["location"], people["Aino"], acr=LOA2, op=op)
    assert browser.get(callback).status_code == 303
    # The provider now has a session with the person; the step-up must not be answered from it.
    r = start(browser, "fi_acr", step_up=True)
    asked = parse_qs(urlsplit(r.headers["location"]).query)
    assert asked["max_age"] == ["0"] and asked["prompt"] == ["login"]
    assert asked["acr_values"] == [LOA3]
    callback = at_provider(interop, r.headers["location"], people["Aino"], acr=LOA3, op=op)
    assert interop.seen["prompt"]["name"] == "login"
    assert "login_prompt" in interop.seen["prompt"]["reasons"]
    assert "no_session" not in interop.seen["prompt"]["reasons"]
    r = browser.get(callback)
    assert r.status_code == 303, r.text
    event = events(interop, "step_up_succeeded")[-1]
    assert event.details["acr"] == LOA3


def test_a_step_up_answered_with_an_old_authentication_is_refused(
    interop, people
) -> None:  # SEC-6 ADM-2
    """The interaction vouches for a login of an hour ago; oidc-provider passes that on as
    ``auth_time`` despite max_age=0, and Portti refuses the step-up (and audits it)."""
    browser, op = interop.browser(), interop.op_browser()
    assert login(interop, browser, "fi_acr", people["Aino"], acr=LOA2, op=op).status_code == 303
    r = start(browser, "fi_acr", step_up=True)
    r = op.get(r.headers["location"])
    interaction = interop.op + r.headers["location"]
    an_hour_ago = str(int(time.time()) - 3600)
    form = {"account": account(identity(people["Aino"])), "acr": LOA3, "ts": an_hour_ago}
    r = op.post(f"{interaction}/login", data=form)
    r = op.get(r.headers["location"])
    assert r.headers["location"].startswith(f"{interop.portti}/login/callback?")
    r = browser.get(r.headers["location"])
    assert r.status_code == 400
    assert "did not authenticate you again" in r.text
    event = events(interop, "step_up_failed")[-1]
    assert event.details["reason"] == "oidc_authentication_not_fresh"
    assert event.details["method"] == "oidc:fi_acr"


def test_step_up_with_a_weaker_acr_is_refused(interop, people) -> None:  # SEC-6 ADM-2
    browser = interop.browser()
    assert login(interop, browser, "fi_acr", people["Aino"], acr=LOA2).status_code == 303
    r = start(browser, "fi_acr", step_up=True)
    r = browser.get(at_provider(interop, r.headers["location"], people["Aino"], acr=LOA2))
    assert r.status_code == 400
    assert "not strong enough" in r.text
    assert events(interop, "step_up_failed")[-1].details["reason"] == "oidc_acr_too_weak"


# -- app activation ---------------------------------------------------------------------------


def test_app_activation_with_bank_id(interop, people) -> None:  # APP-9 WEB-4
    app_browser = interop.browser()
    verifier = secrets.token_urlsafe(32)
    challenge = (
        __import__("base64")
        .urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        .rstrip(b"=")
        .decode()
    )
    r = app_browser.post(
        "/app-api/v1/activations/bank-id",
        json={"provider": "fi_es256", "code_challenge": challenge},
    )
    assert r.status_code == 200, r.text
    callback = at_provider(interop, r.json()["authorization_url"], people["Eero"])
    r = interop.browser().get(callback)
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith("portti-app://activation?handoff=")


# -- key rotation -----------------------------------------------------------------------------


def test_portti_key_rotation_is_picked_up_by_the_provider(interop, people) -> None:  # WEB-4 OPS-4
    """The provider caches Portti's key set (oidc-provider: at least a minute, here the five
    minutes of its Cache-Control). A key published before it is used is in that cache when it
    starts signing; that is what the pre-publication period is for."""
    keys = interop.app.state.runtime.keys
    policy = keys.policy
    # A pre-publication period of a second, so the test need not move any clock.
    keys.policy = KeyPolicy(
        prepublish=timedelta(seconds=1), retain=policy.retain, rotate_after=None
    )
    try:
        old = keys.active("ES256")
        new = keys.rotate("ES256")
        keys.refresh()
        browser = interop.browser()
        # Published, not yet used: the login goes on with the old key, and the provider reads
        # (and caches) the key set with both.
        assert login(interop, browser, "fi_rotating", people["Aino"]).status_code == 303
        time.sleep(1.1)
        keys.refresh()
        assert keys.active("ES256").kid == new.kid != old.kid
        # The client assertion is now signed with the new key, which the provider's cached set
        # already holds.
        browser = interop.browser()
        r = login(interop, browser, "fi_rotating", people["Aino"])
        assert r.status_code == 303, r.text
    finally:
        keys.policy = policy


def test_provider_key_rotation_is_followed_with_one_refetch(interop, people) -> None:  # WEB-4
    """The provider rotates its signing keys (new kids), then puts a new key under a kid in use,
    then signs with a key it no longer publishes. Each time Portti reads the provider's key set
    exactly once: the first two logins go on, the last is refused."""
    browser = interop.browser()
    assert login(interop, browser, "fi_basic", people["Aino"]).status_code == 303
    interop.op_seen()
    rotated = provider_jwks()
    interop.op_switch("keys", {"jwks": rotated})
    try:
        for _ in range(2):
            r = login(interop, interop.browser(), "fi_basic", people["Aino"])
            assert r.status_code == 303, r.text
        assert interop.op_seen()["jwksFetches"] == 1

        rsa = rotated["keys"][0]
        same_kid = RSAKey.generate_key(2048, parameters={"use": "sig", "kid": rsa["kid"]})
        reused = {"keys": [same_kid.as_dict(private=True), rotated["keys"][1]]}
        interop.op_switch("keys", {"jwks": reused})
        # A known kid whose signature fails is read again at most every FORCE_INTERVAL seconds.
        time.sleep(FORCE_INTERVAL)
        r = login(interop, interop.browser(), "fi_basic", people["Aino"])
        assert r.status_code == 303, r.text
        assert interop.op_seen()["jwksFetches"] == 1

        retired = provider_jwks()
        published = {
            "keys": [RSAKey.import_key(k).as_dict(private=False) for k in reused["keys"][:1]]
        }
        interop.op_switch("keys", {"jwks": retired, "published": published})
        r = login(interop, interop.browser(), "fi_basic", people["Aino"])
        refused(r, "oidc_invalid_id_token", interop)
        assert "unknown signing key" in r.text
        assert interop.op_seen()["jwksFetches"] == 1
    finally:
        interop.op_switch("keys", {"jwks": provider_jwks()})


@pytest.mark.parametrize(
    ("provider", "audience"),
    [
        ("fi_es256", ""),
        ("fi_es256_token_aud", "/token"),
        ("fi_ps256", ""),
        ("fi_ps256_token_aud", "/token"),
    ],
)
def test_the_client_assertion_audience(interop, people, provider, audience) -> None:  # WEB-4
    """private_key_jwt: the assertion's ``aud`` is the provider's issuer identifier, at the PAR
    endpoint too, unless the provider entry asks for the token endpoint URL."""
    interop.op_seen()
    r = login(interop, interop.browser(), provider, people["Eero"])
    assert r.status_code == 303, r.text
    sent = interop.op_seen()["assertions"]
    endpoints = ["/request", "/token"] if provider.startswith("fi_ps256") else ["/token"]
    assert [a["endpoint"] for a in sent] == endpoints
    assert {a["aud"] for a in sent} == {interop.op + audience}


# -- refusals ---------------------------------------------------------------------------------


def refused(r: httpx.Response, reason: str, interop: Interop, action: str = "login_failed") -> None:
    assert r.status_code in (400, 403), r.text
    assert "set-cookie" not in r.headers or "portti_session=" not in r.headers["set-cookie"]
    assert events(interop, action)[-1].details["reason"] == reason


def test_a_signature_algorithm_not_allowed_is_refused(interop, people) -> None:  # WEB-4
    r = login(interop, interop.browser(), "fi_wrong_alg", people["Aino"])
    refused(r, "oidc_invalid_id_token", interop)
    assert "signature algorithm not allowed" in r.text


def test_an_answer_from_another_issuer_is_refused(interop, people) -> None:  # WEB-4
    r = login(interop, interop.browser(), "fi_wrong_iss", people["Aino"])
    refused(r, "oidc_issuer_mismatch", interop)


def test_an_expired_id_token_is_refused(interop, people) -> None:  # WEB-4
    browser = interop.browser()
    r = start(browser, "fi_basic")
    callback = at_provider(interop, r.headers["location"], people["Aino"])
    # The provider's ID tokens live 60 s; Portti's clock is two minutes on.
    interop.clock.advance(timedelta(minutes=2))
    try:
        r = browser.get(callback)
    finally:
        interop.clock.advance(-timedelta(minutes=2))
    refused(r, "oidc_invalid_id_token", interop)
    assert "claim &#39;exp&#39; not accepted" in r.text


def test_a_tampered_state_is_refused(interop, people) -> None:  # WEB-4
    browser = interop.browser()
    r = start(browser, "fi_basic")
    callback = at_provider(interop, r.headers["location"], people["Aino"])
    r = browser.get(re.sub(r"state=([^&]+)", "state=forged", callback))
    refused(r, "oidc_state_mismatch", interop)


def test_a_code_for_another_login_is_refused(interop, people) -> None:  # WEB-4
    """A code from one login put into another's callback: its PKCE verifier and nonce are the
    other login's, so the provider refuses to redeem it."""
    browser = interop.browser()
    first = start(browser, "fi_basic")
    second = start(browser, "fi_basic")
    stolen = at_provider(interop, first.headers["location"], people["Eero"])
    mine = at_provider(interop, second.headers["location"], people["Aino"])
    code = parse_qs(urlsplit(stolen).query)["code"][0]
    r = browser.get(re.sub(r"code=([^&]+)", f"code={code}", mine))
    refused(r, "oidc_token_exchange_failed", interop)


def test_a_code_for_another_client_is_refused(interop, people) -> None:  # WEB-4
    browser = interop.browser()
    theirs = start(browser, "fi_es256")
    mine = start(browser, "fi_basic")
    stolen = at_provider(interop, theirs.headers["location"], people["Eero"])
    callback = at_provider(interop, mine.headers["location"], people["Aino"])
    code = parse_qs(urlsplit(stolen).query)["code"][0]
    r = browser.get(re.sub(r"code=([^&]+)", f"code={code}", callback))
    refused(r, "oidc_token_exchange_failed", interop)


def test_a_replayed_callback_is_refused(interop, people) -> None:  # WEB-4
    browser = interop.browser()
    r = start(browser, "fi_basic")
    callback = at_provider(interop, r.headers["location"], people["Aino"])
    interop.op_seen()
    assert browser.get(callback).status_code == 303
    refused(browser.get(callback), "oidc_state_mismatch", interop)
    # The code was redeemed once: the replay never reached the provider.
    assert interop.op_seen()["tokenRequests"] == 1


def test_a_callback_in_another_browser_leaves_the_login_intact(interop, people) -> None:  # WEB-4
    browser = interop.browser()
    r = start(browser, "fi_basic")
    callback = at_provider(interop, r.headers["location"], people["Aino"])
    refused(interop.browser().get(callback), "oidc_browser_mismatch", interop)
    assert browser.get(callback).status_code == 303


def test_a_provider_error_is_told_and_audited(interop, people) -> None:  # WEB-4
    browser = interop.browser()
    r = start(browser, "fi_basic")
    callback = at_provider(
        interop,
        r.headers["location"],
        None,
        abort={"error": "login_required", "error_description": "The bank session ended"},
    )
    assert "iss=" in callback
    r = browser.get(callback)
    assert r.status_code == 400
    assert "needs you to log in again" in r.text
    event = events(interop, "login_failed")[-1]
    assert event.details["error"] == "login_required"
    assert event.details["error_description"] == "The bank session ended"
    assert event.details["method"] == "oidc:fi_basic"


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        ({"aud": "es256"}, "claim &#39;aud&#39; not accepted"),
        ({"aud": ["tampered", "es256"]}, "authorized party mismatch"),
        ({"aud": ["tampered", "es256"], "azp": "es256"}, "authorized party mismatch"),
    ],
)
def test_an_id_token_for_another_client_is_refused(
    interop, people, claims, detail
) -> None:  # WEB-4
    """The provider signs (with its own key) an ID token meant for another of its clients."""
    interop.op_switch("id-token", {"client_id": "tampered", "claims": claims})
    r = login(interop, interop.browser(), "fi_tampered", people["Aino"])
    refused(r, "oidc_invalid_id_token", interop)
    assert "The identity provider&#39;s answer was refused" in r.text and detail in r.text
    assert events(interop, "login_failed")[-1].details["method"] == "oidc:fi_tampered"


def test_an_id_token_with_another_nonce_is_refused(interop, people) -> None:  # WEB-4
    """The authorization request reaches the provider with a nonce Portti did not send (as
    when someone else's request is answered); the provider's ID token carries it."""
    forged = secrets.token_urlsafe(32)
    interop.op_switch("nonce", {"client_id": "tampered", "nonce": forged})
    r = login(interop, interop.browser(), "fi_tampered", people["Aino"])
    assert interop.seen["params"]["nonce"] == forged
    refused(r, "oidc_nonce_mismatch", interop)
    assert "could not be matched to this browser" in r.text


def test_an_id_token_from_another_issuer_is_refused(interop, people) -> None:  # WEB-4
    interop.op_switch("id-token", {"client_id": "tampered", "claims": {"iss": interop.portti}})
    r = login(interop, interop.browser(), "fi_tampered", people["Aino"])
    refused(r, "oidc_invalid_id_token", interop)
    assert "claim &#39;iss&#39; not accepted" in r.text


def test_plain_userinfo_is_refused_when_encryption_is_required(interop, people) -> None:  # WEB-4
    """The ID token comes encrypted, UserInfo as plain JSON: with ``require_encryption`` (the
    FTN profile) both must be JWE."""
    r = login(interop, interop.browser(), "fi_plain_userinfo", people["Aino"])
    refused(r, "oidc_invalid_id_token", interop)
    assert "UserInfo not encrypted" in r.text


def test_an_unsigned_id_token_is_refused(interop, people) -> None:  # WEB-4
    interop.op_switch("id-token", {"client_id": "tampered", "alg": "none"})
    r = login(interop, interop.browser(), "fi_tampered", people["Aino"])
    refused(r, "oidc_invalid_id_token", interop)
    assert "signature algorithm not allowed" in r.text


def test_an_hs256_id_token_is_refused(interop, people) -> None:  # WEB-4
    """The provider signs this client's ID tokens with HS256 and the client secret, which it
    allows; Portti's entry lists only asymmetric algorithms."""
    r = login(interop, interop.browser(), "fi_hs256", people["Aino"])
    refused(r, "oidc_invalid_id_token", interop)
    assert "signature algorithm not allowed" in r.text


def test_a_login_below_the_asked_acr_is_refused(interop, people) -> None:  # WEB-4
    r = login(interop, interop.browser(), "fi_loa3", people["Aino"], acr=LOA2)
    assert interop.seen["params"]["acr_values"] == LOA3
    refused(r, "oidc_acr_too_weak", interop)
    assert "not strong enough" in r.text
