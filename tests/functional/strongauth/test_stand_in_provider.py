"""The built-in test identity provider: its pages, its codes, its token endpoint, its key."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet

from portti.strongauth.oidc.jose import AllowListRegistry
from portti.strongauth.oidc.request import pkce_challenge
from portti.strongauth.stand_in_provider import (
    StandInIdentity,
    derive_signing_key,
    stand_in_provider_settings,
)
from support.idp import FakeClock, idp_app

SEED = b"seed for the unit tests of the test idp"
ISSUER = "http://testserver/test-idp"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
REDIRECT_URI = "http://testserver/login/oidc/callback"
VERIFIER = "v" * 20 + "-._~" + "0123456789abcdefghijklmnopqrstuvwxyz"
IDENTITIES = [
    StandInIdentity(
        "Finnish admin", "Aino", "Virtanen", "FI", "131052-308T", note="Has every role"
    ),
    StandInIdentity("Estonian ID card", "Mari", "Tamm", "EE", "49403136515"),
    StandInIdentity("Swedish BankID", "Sven", "Svensson", "SE", "19121212-1212"),
]


def make_app(clock: FakeClock, seed: bytes = SEED) -> FastAPI:
    return idp_app(clock, issuer=ISSUER, seed=seed, identities=IDENTITIES)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def browser(clock: FakeClock) -> TestClient:
    return TestClient(make_app(clock), base_url="http://testserver")


def auth_params(**overrides: str) -> dict[str, str]:
    params = {
        "client_id": "portti",
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid profile",
        "state": "state-123",
        "nonce": "nonce-456",
        "code_challenge": pkce_challenge(VERIFIER),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v}


class Page(HTMLParser):
    """The parts of the login page a browser (or a screen reader) relies on."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []
        self.selects: list[dict[str, str | None]] = []
        self.labels: dict[str | None, str] = {}
        self.buttons: list[str] = []
        self.links: list[dict[str, str | None]] = []
        self.tags: list[str] = []
        self.legends: list[str] = []
        self._capture: str | None = None
        self._label_for: str | None = None
        self._buffer: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        attributes = dict(attrs)
        if tag == "input":
            self.inputs.append(attributes)
        elif tag == "select":
            self.selects.append(attributes)
        elif tag == "a":
            self.links.append(attributes)
        elif tag in {"label", "button", "legend"}:
            self._capture, self._buffer = tag, []
            self._label_for = attributes.get("for")

    def handle_endtag(self, tag: str) -> None:
        if tag != self._capture:
            return
        text = " ".join("".join(self._buffer).split())
        if tag == "label":
            self.labels[self._label_for] = text
        elif tag == "button":
            self.buttons.append(text)
        else:
            self.legends.append(text)
        self._capture = None

    def handle_data(self, data: str) -> None:
        if self._capture:
            self._buffer.append(data)

    def hidden(self) -> dict[str, str]:
        return {str(i["name"]): str(i["value"]) for i in self.inputs if i.get("type") == "hidden"}


def authorize(browser: TestClient, form: dict[str, str]) -> str:
    response = browser.post("/test-idp/authorize", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def code_from(location: str) -> str:
    return parse_qs(urlsplit(location).query)["code"][0]


def redeem(browser: TestClient, code: str, /, **overrides: str) -> Any:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER,
        "client_id": "portti",
    }
    form.update(overrides)
    return browser.post("/test-idp/token", data=form)


def public_keys(browser: TestClient) -> KeySet:
    return KeySet.import_key_set(browser.get("/test-idp/jwks").json())


def test_discovery_points_at_its_own_endpoints(browser: TestClient) -> None:  # WEB-4
    config = browser.get("/test-idp/.well-known/openid-configuration").json()
    assert config["issuer"] == ISSUER
    assert config["authorization_endpoint"] == f"{ISSUER}/authorize"
    assert config["token_endpoint"] == f"{ISSUER}/token"
    assert config["jwks_uri"] == f"{ISSUER}/jwks"
    assert config["id_token_signing_alg_values_supported"] == ["EdDSA"]
    assert config["code_challenge_methods_supported"] == ["S256"]


def test_jwks_publishes_only_the_public_key(browser: TestClient) -> None:  # WEB-4
    keys = browser.get("/test-idp/jwks").json()["keys"]
    assert len(keys) == 1
    (jwk,) = keys
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and jwk["alg"] == "EdDSA"
    assert "d" not in jwk
    assert jwk["kid"] == derive_signing_key(SEED).thumbprint()


def test_key_is_deterministic_per_seed() -> None:  # WEB-4
    # Several processes given the same seed must sign with, and publish, the same key.
    first, second = derive_signing_key(SEED), derive_signing_key(SEED)
    assert first.as_dict(private=True) == second.as_dict(private=True)
    assert first.kid == second.kid == first.thumbprint()
    assert derive_signing_key(b"another seed").kid != first.kid
    with pytest.raises(ValueError):
        derive_signing_key(b"")


def test_a_code_from_one_process_is_redeemed_by_another(clock: FakeClock) -> None:  # WEB-4
    one = TestClient(make_app(clock), base_url="http://testserver")
    other = TestClient(make_app(clock), base_url="http://testserver")
    code = code_from(authorize(one, {**auth_params(), "identity": "0"}))
    assert redeem(other, code).status_code == 200


def test_authorize_page_lists_identities_with_labels(browser: TestClient) -> None:  # WEB-4
    response = browser.get("/test-idp/authorize", params=auth_params())
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    page = Page(response.text)
    assert "main" in page.tags
    assert "<h1>Test identity provider</h1>" in response.text
    assert "For demos and tests only — not a real bank ID." in response.text

    radios = [i for i in page.inputs if i.get("type") == "radio"]
    assert [r["value"] for r in radios] == ["0", "1", "2"]
    assert "checked" in radios[0]
    for radio, identity in zip(radios, IDENTITIES, strict=True):
        label = page.labels[radio["id"]]
        for part in (identity.label, identity.given_name, identity.family_name):
            assert part in label
        assert identity.country in label and identity.national_id in label
    assert "Has every role" in page.labels["identity-0"]

    # Every visible control has a label; the custom-identity fields carry the expected names.
    visible = [i for i in page.inputs if i.get("type") != "hidden"] + page.selects
    assert all(control.get("id") in page.labels for control in visible)
    field_labels = {page.labels[c["id"]] for c in visible if c.get("type") != "radio"}
    assert field_labels == {"Given name", "Family name", "Country", "National identity number"}
    assert "Another identity" in page.legends
    assert page.buttons == ["Log in"]

    assert page.hidden() == auth_params()
    cancel = next(link["href"] for link in page.links if link.get("href"))
    assert cancel is not None
    assert cancel.startswith(REDIRECT_URI + "?")
    assert parse_qs(urlsplit(cancel).query) == {
        "error": ["access_denied"],
        "state": ["state-123"],
        "iss": [ISSUER],
    }


def test_country_hint_puts_that_country_first(browser: TestClient) -> None:  # WEB-4
    response = browser.get(
        "/test-idp/authorize",
        params={**auth_params(), "provider_hint": "test-ee", "country_hint": "EE"},
    )
    page = Page(response.text)
    radios = [i for i in page.inputs if i.get("type") == "radio"]
    assert radios[0]["value"] == "1" and "checked" in radios[0]
    assert "test-ee" in response.text
    assert 'value="EE" selected' in response.text


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"redirect_uri": "https://evil.example/callback"}, "evil.example"),
        ({"redirect_uri": "http://testserver@evil.example/cb"}, "credentials"),
        ({"redirect_uri": "javascript:alert(1)"}, "http(s)"),
        ({"redirect_uri": ""}, "redirect_uri"),
        ({"response_type": "token"}, "response_type=code"),
        ({"code_challenge_method": "plain"}, "S256"),
        ({"code_challenge": ""}, "PKCE"),
        ({"client_id": ""}, "client_id"),
    ],
)
def test_authorize_refuses_bad_requests(
    browser: TestClient, overrides: dict[str, str], reason: str
) -> None:  # WEB-4
    response = browser.get("/test-idp/authorize", params=auth_params(**overrides))
    assert response.status_code == 400
    assert "This login request was refused" in response.text
    assert reason in response.text
    assert "<form" not in response.text
    # Posting the same parameters does not hand out a code either.
    posted = browser.post(
        "/test-idp/authorize",
        data={**auth_params(**overrides), "identity": "0"},
        follow_redirects=False,
    )
    assert posted.status_code == 400
    assert "location" not in posted.headers


@pytest.mark.parametrize(
    "redirect_uri",
    ["http://localhost:8000/cb", "http://127.0.0.1:5173/cb", "https://portti.localhost/cb"],
)
def test_authorize_accepts_localhost_redirects(browser: TestClient, redirect_uri: str) -> None:
    response = browser.get("/test-idp/authorize", params=auth_params(redirect_uri=redirect_uri))
    assert response.status_code == 200  # WEB-4


def test_post_redirects_with_code_and_state(browser: TestClient) -> None:  # WEB-4
    location = authorize(browser, {**auth_params(), "identity": "1"})
    assert location.startswith(REDIRECT_URI + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["state-123"]
    claims = jwt.decode(
        query["code"][0], public_keys(browser), registry=AllowListRegistry(["EdDSA"])
    ).claims
    assert claims["typ"] == "code"
    assert claims["national_id"] == "49403136515" and claims["country"] == "EE"
    assert claims["nonce"] == "nonce-456"
    assert claims["exp"] == int(NOW.timestamp()) + 60


def test_another_identity_from_the_form(browser: TestClient) -> None:  # WEB-4
    form = {
        **auth_params(),
        "identity": "0",  # pre-selected radio; the filled-in fields win
        "given_name": "Ola",
        "family_name": "Nordmann",
        "country": "NO",
        "national_id": "01010112345",
    }
    response = redeem(browser, code_from(authorize(browser, form)))
    id_token = response.json()["id_token"]
    claims = jwt.decode(id_token, public_keys(browser), registry=AllowListRegistry(["EdDSA"]))
    assert claims.claims["national_id"] == "01010112345"
    assert claims.claims["national_id_country"] == "NO"
    assert claims.claims["name"] == "Ola Nordmann"
    assert claims.claims["acr"] == "substantial"


def test_incomplete_other_identity_is_shown_again(browser: TestClient) -> None:  # WEB-4
    form = {**auth_params(), "given_name": "Ola", "country": "NO"}
    response = browser.post("/test-idp/authorize", data=form, follow_redirects=False)
    assert response.status_code == 400
    assert 'role="alert"' in response.text
    assert "Give a family name." in response.text
    assert "Give a national identity number." in response.text
    assert 'value="Ola"' in response.text


def test_the_provider_page_speaks_the_browsers_language(browser: TestClient) -> None:  # UX-17
    """The stand-in for a bank is part of Portti's demo: its page, its refusals of a half-filled
    form and the provider it stands for are in the reader's language."""
    form = {**auth_params(), "given_name": "Ola", "country": "NO"}
    swedish = {"accept-language": "sv-SE,sv;q=0.9"}
    page = browser.get("/test-idp/authorize", params=auth_params(), headers=swedish)
    assert '<html lang="sv">' in page.text
    assert "<h1>Testidentitetsleverantör</h1>" in page.text
    assert ">Logga in</button>" in page.text
    assert "Test identity provider" not in page.text
    refused = browser.post(
        "/test-idp/authorize", data=form, headers={"accept-language": "fi"}, follow_redirects=False
    )
    assert refused.status_code == 400
    assert "Anna sukunimi." in refused.text and "Give a family name." not in refused.text


def test_token_endpoint_issues_a_signed_id_token(browser: TestClient) -> None:  # WEB-4
    code = code_from(authorize(browser, {**auth_params(), "identity": "0"}))
    response = redeem(browser, code)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 60 and body["access_token"]
    token = jwt.decode(
        body["id_token"], public_keys(browser), registry=AllowListRegistry(["EdDSA"])
    )
    assert token.header["alg"] == "EdDSA"
    assert token.header["kid"] == derive_signing_key(SEED).kid
    ts = int(NOW.timestamp())
    expected_sub = hashlib.sha256(b"FI131052-308T").hexdigest()[:32]
    assert token.claims == {
        "iss": ISSUER,
        "sub": expected_sub,
        "aud": "portti",
        "exp": ts + 300,
        "iat": ts,
        "auth_time": ts,
        "nonce": "nonce-456",
        "acr": "http://ftn.ficora.fi/2017/loa2",
        "given_name": "Aino",
        "family_name": "Virtanen",
        "name": "Aino Virtanen",
        "national_id": "131052-308T",
        "national_id_country": "FI",
    }


def test_token_endpoint_takes_client_id_from_basic_auth(browser: TestClient) -> None:
    code = code_from(authorize(browser, {**auth_params(), "identity": "0"}))
    basic = base64.b64encode(b"portti:secret").decode()
    response = browser.post(
        "/test-idp/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": VERIFIER,
        },
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200  # WEB-4


def test_pkce_verifier_mismatch_is_invalid_grant(browser: TestClient) -> None:  # WEB-4
    code = code_from(authorize(browser, {**auth_params(), "identity": "0"}))
    response = redeem(browser, code, code_verifier="w" * 64)
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "PKCE verification failed.",
    }


def test_code_expires_after_sixty_seconds(browser: TestClient, clock: FakeClock) -> None:
    first = code_from(authorize(browser, {**auth_params(), "identity": "0"}))
    second = code_from(authorize(browser, {**auth_params(), "identity": "0"}))
    clock.current = NOW + timedelta(seconds=59)
    assert redeem(browser, first).status_code == 200
    clock.current = NOW + timedelta(seconds=60)
    response = redeem(browser, second)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "expired" in response.json()["error_description"]  # WEB-4


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"redirect_uri": "http://testserver/elsewhere"}, "invalid_grant"),
        ({"client_id": "someone-else"}, "invalid_grant"),
        ({"code_verifier": "short"}, "invalid_grant"),
        ({"grant_type": "refresh_token"}, "unsupported_grant_type"),
        ({"code": ""}, "invalid_request"),
    ],
)
def test_token_endpoint_refusals(
    browser: TestClient, overrides: dict[str, str], error: str
) -> None:  # WEB-4
    code = code_from(authorize(browser, {**auth_params(), "identity": "0"}))
    response = redeem(browser, code, **overrides)
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_tampered_or_foreign_codes_are_refused(browser: TestClient) -> None:  # WEB-4
    code = code_from(authorize(browser, {**auth_params(), "identity": "0"}))
    header, _payload, signature = code.split(".")
    claims = jwt.decode(code, public_keys(browser), registry=AllowListRegistry(["EdDSA"])).claims
    claims["national_id"] = "010101-0101"
    # The same signature over changed claims.
    swapped = ".".join([header, jwt_payload(claims), signature])
    assert redeem(browser, swapped).json()["error"] == "invalid_grant"

    other_key = derive_signing_key(b"a different provider")
    foreign = jwt.encode(
        {"alg": "EdDSA", "kid": other_key.kid},
        claims,
        other_key,
        registry=AllowListRegistry(["EdDSA"]),
    )
    assert redeem(browser, foreign).json()["error"] == "invalid_grant"

    # An ID token is signed with the same key but is not a code.
    id_token = redeem(browser, code).json()["id_token"]
    assert redeem(browser, id_token).json()["error"] == "invalid_grant"


def jwt_payload(claims: dict[str, Any]) -> str:
    raw = json.dumps(claims, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_provider_settings_for_the_built_in_provider() -> None:  # WEB-4
    settings = stand_in_provider_settings("http://127.0.0.1:8000/", "test-ee", "ID card", "EE")
    assert settings.issuer == "http://127.0.0.1:8000/test-idp"
    assert settings.authorization_endpoint == (
        "http://127.0.0.1:8000/test-idp/authorize?"
        + urlencode({"provider_hint": "test-ee", "country_hint": "EE"})
    )
    assert settings.token_endpoint == "http://127.0.0.1:8000/test-idp/token"
    assert settings.jwks_uri == "http://127.0.0.1:8000/test-idp/jwks"
    assert settings.algorithms == ["EdDSA"]
    assert settings.client_id == "portti"
    assert settings.identifier_claim == "national_id"
    assert settings.identifier_country_claim == "national_id_country"
    assert settings.identifier_country == "EE"
    assert stand_in_provider_settings("http://x", "t", "T", None).identifier_country == "FI"
