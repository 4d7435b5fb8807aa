"""The OIDC relying party, end to end against the built-in test provider, and its refusals."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import OKPKey
from pydantic import SecretStr

from portti.config import OidcProviderSettings
from portti.strongauth.discovery import DiscoveryCache, DiscoveryError
from portti.strongauth.oidc.assurance import acr_satisfies
from portti.strongauth.oidc.completion import complete_authorization
from portti.strongauth.oidc.errors import ProviderError, callback_error
from portti.strongauth.oidc.id_token import verify_id_token
from portti.strongauth.oidc.identity import VerifiedIdentity
from portti.strongauth.oidc.jose import AllowListRegistry
from portti.strongauth.oidc.jwks import JwksCache
from portti.strongauth.oidc.request import (
    AuthorizationRequest,
    pkce_challenge,
    start_authorization,
    states_match,
)
from portti.strongauth.stand_in_provider import (
    StandInIdentity,
    derive_signing_key,
    stand_in_provider_settings,
)
from support.idp import FakeClock, idp_app

BASE_URL = "http://testserver"
SEED = b"seed for the unit tests of the relying party"
NOW = datetime(2026, 5, 4, 8, 15, tzinfo=UTC)
REDIRECT_URI = f"{BASE_URL}/login/oidc/test-fi/callback"
IDENTITIES = [
    StandInIdentity("Finnish bank ID", "Aino", "Virtanen", "FI", "131052-308T"),
    StandInIdentity("Estonian ID card", "Mari", "Tamm", "EE", "49403136515"),
]


def make_app(clock: FakeClock, seed: bytes = SEED) -> FastAPI:
    return idp_app(clock, issuer=f"{BASE_URL}/test-idp", seed=seed, identities=IDENTITIES)


class LoginForm(HTMLParser):
    """The login page's form: where it posts, and its hidden fields."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.action = ""
        self.hidden: dict[str, str] = {}
        self.labels: list[str] = []
        self._in_label = False
        self._text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.action = a["action"] or ""
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden[a["name"] or ""] = a["value"] or ""
        elif tag == "label":
            self._in_label, self._text = True, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.labels.append(" ".join("".join(self._text).split()))
            self._in_label = False

    def handle_data(self, data: str) -> None:
        if self._in_label:
            self._text.append(data)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def browser(clock: FakeClock) -> TestClient:
    return TestClient(make_app(clock), base_url=BASE_URL)


@pytest.fixture
def provider() -> OidcProviderSettings:
    return stand_in_provider_settings(BASE_URL, "test-fi", "Test bank ID", "FI")


def browse_to_code(
    browser: TestClient, request: AuthorizationRequest, identity: str = "0"
) -> tuple[str, str]:
    """Play the browser at the provider: open the login page, pick an identity, come back."""
    page = browser.get(request.url)
    assert page.status_code == 200, page.text
    form = LoginForm(page.text)
    response = browser.post(
        form.action, data={**form.hidden, "identity": identity}, follow_redirects=False
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = parse_qs(urlsplit(location).query)
    return query["code"][0], query["state"][0]


def login(
    browser: TestClient,
    provider: OidcProviderSettings,
    *,
    http: httpx.Client | None = None,
    jwks: JwksCache | None = None,
    now: datetime = NOW,
    identity: str = "0",
    nonce: str | None = None,
) -> VerifiedIdentity:
    request = start_authorization(provider, REDIRECT_URI)
    code, state = browse_to_code(browser, request, identity)
    assert states_match(state, request.state)
    http = http or browser
    return complete_authorization(
        provider,
        http=http,
        jwks=jwks or JwksCache(http),
        redirect_uri=REDIRECT_URI,
        code=code,
        code_verifier=request.code_verifier,
        expected_nonce=request.nonce if nonce is None else nonce,
        now=now,
    )


def refused(call: Callable[[], object], detail: str = "") -> str:
    with pytest.raises(ProviderError) as info:
        call()
    assert info.value.message and "eyJ" not in info.value.message  # no token in the message
    assert detail in info.value.message
    return info.value.code


def provider_in_the_middle(
    browser: TestClient, rewrite: Callable[[str], str], seen: list[str] | None = None
) -> httpx.Client:
    """An HTTP client whose token responses pass through ``rewrite`` (the ID token only)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request.url.path)
        upstream = browser.request(
            request.method,
            str(request.url),
            content=request.content,
            headers={"content-type": request.headers.get("content-type", "")},
        )
        body: Any = upstream.json()
        if request.url.path.endswith("/token") and upstream.status_code == 200:
            body["id_token"] = rewrite(body["id_token"])
        return httpx.Response(upstream.status_code, json=body)

    return httpx.Client(transport=httpx.MockTransport(handle))


def real_key() -> OKPKey:
    return derive_signing_key(SEED)


def claims_of(id_token: str) -> dict[str, Any]:
    return dict(jwt.decode(id_token, real_key(), registry=AllowListRegistry(["EdDSA"])).claims)


def resign(id_token: str, **changes: Any) -> str:
    """The same ID token with changed claims, properly signed with the provider's own key."""
    claims = claims_of(id_token)
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    key = real_key()
    return jwt.encode(
        {"alg": "EdDSA", "kid": key.kid}, claims, key, registry=AllowListRegistry(["EdDSA"])
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- the round trip -------------------------------------------------------------------------


def test_round_trip_through_the_test_provider(
    browser: TestClient, provider: OidcProviderSettings
) -> None:  # WEB-4
    request = start_authorization(provider, REDIRECT_URI)
    page = browser.get(request.url)
    labels = LoginForm(page.text).labels
    assert any("Aino Virtanen" in label and "131052-308T" in label for label in labels)
    assert any("Mari Tamm" in label and "EE" in label for label in labels)

    code, state = browse_to_code(browser, request, identity="0")
    assert states_match(state, request.state)
    identity = complete_authorization(
        provider,
        http=browser,
        jwks=JwksCache(browser),
        redirect_uri=REDIRECT_URI,
        code=code,
        code_verifier=request.code_verifier,
        expected_nonce=request.nonce,
        now=NOW,
    )
    assert identity == VerifiedIdentity(
        provider="test-fi",
        subject=identity.subject,
        country="FI",
        national_id="131052-308T",
        given_name="Aino",
        family_name="Virtanen",
        name="Aino Virtanen",
        auth_time=NOW,
        acr="http://ftn.ficora.fi/2017/loa2",
    )
    assert len(identity.subject) == 32


def test_country_comes_from_the_claim(browser: TestClient) -> None:  # WEB-4
    # The ID-card provider is configured for EE, but the chosen identity's claim decides.
    provider = stand_in_provider_settings(BASE_URL, "test-ee", "ID card", "EE")
    identity = login(browser, provider, identity="1")
    assert (identity.country, identity.national_id) == ("EE", "49403136515")
    assert identity.acr == "substantial"


def test_country_from_settings_when_no_country_claim(
    browser: TestClient, provider: OidcProviderSettings
) -> None:  # WEB-4
    provider = provider.model_copy(
        update={"identifier_country_claim": None, "identifier_country": "SE"}
    )
    assert login(browser, provider, identity="1").country == "SE"


def test_start_authorization_builds_a_pkce_request(provider: OidcProviderSettings) -> None:
    provider = provider.model_copy(update={"acr_values": "http://ftn.ficora.fi/2017/loa3"})
    first = start_authorization(provider, REDIRECT_URI)
    second = start_authorization(provider, REDIRECT_URI)
    assert len({first.state, second.state}) == 2 and len({first.nonce, second.nonce}) == 2
    assert 43 <= len(first.code_verifier) <= 128
    parts = urlsplit(first.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{BASE_URL}/test-idp/authorize"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "provider_hint": "test-fi",  # the configured endpoint's own query survives
        "country_hint": "FI",
        "response_type": "code",
        "client_id": "portti",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile",
        "state": first.state,
        "nonce": first.nonce,
        "code_challenge": pkce_challenge(first.code_verifier),
        "code_challenge_method": "S256",
        "acr_values": "http://ftn.ficora.fi/2017/loa3",
    }  # WEB-4


def test_states_match_and_callback_errors() -> None:  # WEB-4
    assert states_match("abc", "abc")
    assert not states_match("abc", "abd")
    assert not states_match("", "abc")
    assert callback_error("access_denied").code == "oidc_provider_error"
    assert "<script>" not in callback_error("<script>").message


def test_client_secret_goes_in_basic_auth(
    browser: TestClient, provider: OidcProviderSettings
) -> None:  # WEB-4
    provider = provider.model_copy(update={"client_secret": SecretStr("s3cr:t/+")})
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        upstream = browser.request(
            request.method,
            str(request.url),
            content=request.content,
            headers={"content-type": request.headers.get("content-type", "")},
        )
        return httpx.Response(upstream.status_code, json=upstream.json())

    http = httpx.Client(transport=httpx.MockTransport(handle))
    assert login(browser, provider, http=http).national_id == "131052-308T"
    (token_request,) = [r for r in seen if r.url.path.endswith("/token")]
    scheme, _, value = token_request.headers["authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(value) == b"portti:s3cr%3At%2F%2B"  # RFC 6749 §2.3.1
    form = parse_qs(token_request.content.decode())
    assert form["grant_type"] == ["authorization_code"] and form["client_id"] == ["portti"]
    assert "client_secret" not in form


# --- refusals -------------------------------------------------------------------------------


def test_wrong_nonce_is_refused(browser: TestClient, provider: OidcProviderSettings) -> None:
    code = refused(lambda: login(browser, provider, nonce="a nonce from another browser"))
    assert code == "oidc_nonce_mismatch"  # WEB-4


def test_missing_nonce_is_refused(browser: TestClient, provider: OidcProviderSettings) -> None:
    http = provider_in_the_middle(browser, lambda token: resign(token, nonce=None))
    assert refused(lambda: login(browser, provider, http=http)) == "oidc_nonce_mismatch"  # WEB-4


def test_tampered_signature_is_refused(
    browser: TestClient, provider: OidcProviderSettings
) -> None:  # WEB-4
    def tamper(token: str) -> str:
        header, payload, signature = token.split(".")
        flipped = "A" if signature[0] != "A" else "B"
        return ".".join([header, payload, flipped + signature[1:]])

    http = provider_in_the_middle(browser, tamper)
    code = refused(lambda: login(browser, provider, http=http), "bad signature")
    assert code == "oidc_invalid_id_token"


def test_changed_claims_break_the_signature(
    browser: TestClient, provider: OidcProviderSettings
) -> None:  # WEB-4
    def swap_identity(token: str) -> str:
        header, _payload, signature = token.split(".")
        claims = claims_of(token) | {"national_id": "010101-0101"}
        return ".".join([header, b64(json.dumps(claims).encode()), signature])

    http = provider_in_the_middle(browser, swap_identity)
    assert refused(lambda: login(browser, provider, http=http)) == "oidc_invalid_id_token"


def hs256_with_public_key(token: str) -> str:
    # The classic confusion attack: the provider's *public* key (public knowledge) used as an
    # HMAC secret, hoping the verifier feeds its key to whatever "alg" the header names.
    # (joserfc itself refuses to sign with such a key, so the token is put together by hand.)
    key = real_key()
    public_pem = key.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    header = b64(json.dumps({"alg": "HS256", "kid": key.kid, "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims_of(token)).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = b64(hmac.new(public_pem, signing_input, hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


def test_hs256_signed_with_the_public_key_is_refused(
    browser: TestClient, provider: OidcProviderSettings
) -> None:  # WEB-4
    http = provider_in_the_middle(browser, hs256_with_public_key)
    code = refused(lambda: login(browser, provider, http=http), "algorithm not allowed")
    assert code == "oidc_invalid_id_token"


def test_hs256_is_refused_even_when_wrongly_allowed(
    browser: TestClient, provider: OidcProviderSettings
) -> None:  # WEB-4
    # Defence in depth: a misconfigured allow-list still cannot make an OKP key an HMAC secret.
    provider = provider.model_copy(update={"algorithms": ["EdDSA", "HS256"]})
    http = provider_in_the_middle(browser, hs256_with_public_key)
    assert refused(lambda: login(browser, provider, http=http)) == "oidc_invalid_id_token"


@pytest.mark.parametrize("allowed", [["EdDSA"], ["EdDSA", "none"]])
def test_alg_none_is_refused(
    browser: TestClient, provider: OidcProviderSettings, allowed: list[str]
) -> None:  # WEB-4
    provider = provider.model_copy(update={"algorithms": allowed})

    def unsigned(token: str) -> str:
        header = {"alg": "none", "kid": real_key().kid, "typ": "JWT"}
        return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims_of(token)).encode())}."

    http = provider_in_the_middle(browser, unsigned)
    code = refused(lambda: login(browser, provider, http=http), "algorithm not allowed")
    assert code == "oidc_invalid_id_token"


def test_wrong_issuer_is_refused(browser: TestClient, provider: OidcProviderSettings) -> None:
    provider = provider.model_copy(update={"issuer": "https://bank.example/oidc"})
    code = refused(lambda: login(browser, provider), "'iss'")
    assert code == "oidc_invalid_id_token"  # WEB-4


def test_issuer_claim_changed_is_refused(
    browser: TestClient, provider: OidcProviderSettings
) -> None:  # WEB-4
    http = provider_in_the_middle(browser, lambda t: resign(t, iss="http://testserver/other"))
    assert refused(lambda: login(browser, provider, http=http)) == "oidc_invalid_id_token"


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "another-client"},
        {"aud": ["another-client", "third"]},
        {"aud": ["portti", "another-client"]},  # several audiences and no azp
        {"aud": ["portti", "another-client"], "azp": "another-client"},
        {"azp": "another-client"},
        {"aud": None},
    ],
)
def test_wrong_audience_is_refused(
    browser: TestClient, provider: OidcProviderSettings, changes: dict[str, Any]
) -> None:  # WEB-4
    http = provider_in_the_middle(browser, lambda token: resign(token, **changes))
    assert refused(lambda: login(browser, provider, http=http)) == "oidc_invalid_id_token"


def test_several_audiences_with_our_azp_are_accepted(
    browser: TestClient, provider: OidcProviderSettings
) -> None:  # WEB-4
    http = provider_in_the_middle(
        browser, lambda token: resign(token, aud=["portti", "broker"], azp="portti")
    )
    assert login(browser, provider, http=http).national_id == "131052-308T"


def test_expired_id_token_is_refused(browser: TestClient, provider: OidcProviderSettings) -> None:
    # The provider issues the token at NOW for 300 s; the relying party's clock is far ahead.
    later = NOW + timedelta(hours=1)
    assert refused(lambda: login(browser, provider, now=later)) == "oidc_invalid_id_token"
    just_expired = NOW + timedelta(seconds=300)
    assert refused(lambda: login(browser, provider, now=just_expired)) == "oidc_invalid_id_token"
    assert login(browser, provider, now=NOW + timedelta(seconds=299)).country == "FI"  # WEB-4


def test_id_token_from_the_future_is_refused(
    browser: TestClient, provider: OidcProviderSettings
) -> None:  # WEB-4
    earlier = NOW - timedelta(seconds=61)
    assert refused(lambda: login(browser, provider, now=earlier)) == "oidc_invalid_id_token"
    # Within the 60 s leeway for clock skew it is fine.
    assert login(browser, provider, now=NOW - timedelta(seconds=60)).country == "FI"


def test_missing_identifier_is_refused(
    browser: TestClient, provider: OidcProviderSettings
) -> None:  # WEB-4
    other_claim = provider.model_copy(update={"identifier_claim": "hetu"})
    assert refused(lambda: login(browser, other_claim)) == "oidc_missing_identifier"
    http = provider_in_the_middle(browser, lambda t: resign(t, national_id_country=None))
    assert refused(lambda: login(browser, provider, http=http)) == "oidc_missing_identifier"


def test_pkce_verifier_mismatch_fails_the_exchange(
    browser: TestClient, provider: OidcProviderSettings
) -> None:  # WEB-4
    request = start_authorization(provider, REDIRECT_URI)
    code, _ = browse_to_code(browser, request)
    other_verifier = start_authorization(provider, REDIRECT_URI).code_verifier
    error = refused(
        lambda: complete_authorization(
            provider,
            http=browser,
            jwks=JwksCache(browser),
            redirect_uri=REDIRECT_URI,
            code=code,
            code_verifier=other_verifier,
            expected_nonce=request.nonce,
            now=NOW,
        )
    )
    assert error == "oidc_token_exchange_failed"


def test_expired_code_fails_the_exchange(
    browser: TestClient, provider: OidcProviderSettings, clock: FakeClock
) -> None:  # WEB-4
    request = start_authorization(provider, REDIRECT_URI)
    code, _ = browse_to_code(browser, request)
    clock.current = NOW + timedelta(seconds=61)
    with pytest.raises(ProviderError) as info:
        complete_authorization(
            provider,
            http=browser,
            jwks=JwksCache(browser),
            redirect_uri=REDIRECT_URI,
            code=code,
            code_verifier=request.code_verifier,
            expected_nonce=request.nonce,
            now=clock.current,
        )
    assert info.value.code == "oidc_token_exchange_failed"
    assert "invalid_grant" in info.value.message
    assert "expired" not in info.value.message  # the provider's free text stays out


def test_token_response_without_id_token(provider: OidcProviderSettings) -> None:  # WEB-4
    http = httpx.Client(
        transport=httpx.MockTransport(
            lambda _: httpx.Response(200, json={"access_token": "x", "token_type": "Bearer"})
        )
    )
    error = refused(
        lambda: complete_authorization(
            provider,
            http=http,
            jwks=JwksCache(http),
            redirect_uri=REDIRECT_URI,
            code="c",
            code_verifier="v" * 43,
            expected_nonce="n",
            now=NOW,
        )
    )
    assert error == "oidc_token_exchange_failed"


def test_redirect_uri_to_a_foreign_host_is_refused_at_authorize(
    browser: TestClient, provider: OidcProviderSettings
) -> None:  # WEB-4
    request = start_authorization(provider, "https://evil.example/callback")
    response = browser.get(request.url)
    assert response.status_code == 400
    assert "evil.example" in response.text
    assert "<form" not in response.text


# --- the key set ----------------------------------------------------------------------------


class Swappable:
    """An ASGI app whose implementation can be replaced: the provider rotating its key."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def test_key_rotation_triggers_one_refetch(
    clock: FakeClock, provider: OidcProviderSettings
) -> None:  # WEB-4
    provider_app = Swappable(make_app(clock, seed=b"key one"))
    browser = TestClient(provider_app, base_url=BASE_URL)
    paths: list[str] = []
    http = provider_in_the_middle(browser, lambda token: token, seen=paths)
    jwks = JwksCache(http)

    def jwks_fetches() -> int:
        return paths.count("/test-idp/jwks")

    assert login(browser, provider, http=http, jwks=jwks).national_id == "131052-308T"
    assert jwks_fetches() == 1
    assert login(browser, provider, http=http, jwks=jwks).national_id == "131052-308T"
    assert jwks_fetches() == 1  # cached

    provider_app.app = make_app(clock, seed=b"key two")  # same issuer, new key
    assert login(browser, provider, http=http, jwks=jwks).national_id == "131052-308T"
    assert jwks_fetches() == 2
    assert login(browser, provider, http=http, jwks=jwks).national_id == "131052-308T"
    assert jwks_fetches() == 2


def jwks_server(sets: list[dict[str, Any]], calls: list[int]) -> httpx.Client:
    def handle(_: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, json=sets[0])

    return httpx.Client(transport=httpx.MockTransport(handle))


def public_set(*keys: OKPKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False) for key in keys]}


def test_jwks_cache_ttl_and_unknown_kid() -> None:  # WEB-4
    one, two = derive_signing_key(b"one"), derive_signing_key(b"two")
    sets = [public_set(one)]
    calls: list[int] = []
    ticks = [0.0]
    cache = JwksCache(jwks_server(sets, calls), clock=lambda: ticks[0])
    uri = "https://idp.example/jwks"

    assert [k.kid for k in cache.get(uri, kid=one.kid)] == [one.kid]
    ticks[0] = 599.0
    cache.get(uri, kid=one.kid)
    cache.get(uri)
    assert len(calls) == 1

    # An unknown kid: exactly one refetch per lookup, then the caller refuses the token.
    assert [k.kid for k in cache.get(uri, kid="unknown")] == [one.kid]
    assert len(calls) == 2

    sets[0] = public_set(two)
    assert [k.kid for k in cache.get(uri, kid=two.kid)] == [two.kid]
    assert len(calls) == 3

    ticks[0] += 600.0  # stale after ten minutes
    cache.get(uri, kid=two.kid)
    assert len(calls) == 4


def test_jwks_drops_private_and_encryption_keys() -> None:  # WEB-4
    signing, leaked = derive_signing_key(b"sig"), derive_signing_key(b"leaked")
    body = {
        "keys": [
            signing.as_dict(private=False),
            leaked.as_dict(private=True),
            {**derive_signing_key(b"enc").as_dict(private=False), "use": "enc"},
        ]
    }
    cache = JwksCache(jwks_server([body], []))
    assert [k.kid for k in cache.get("https://idp.example/jwks")] == [signing.kid]


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, text="down"),
        httpx.Response(200, text="not json"),
        httpx.Response(200, json={"keys": []}),
        httpx.Response(200, json=["not", "a", "set"]),
    ],
)
def test_unusable_jwks_is_a_provider_error(response: httpx.Response) -> None:  # WEB-4
    http = httpx.Client(transport=httpx.MockTransport(lambda _: response))
    cache = JwksCache(http)
    assert refused(lambda: cache.get("https://idp.example/jwks")) == "oidc_provider_error"


def test_acr_meets_what_was_asked_or_a_higher_level_of_the_same_table() -> None:  # SEC-6
    loa2, loa3 = "http://ftn.ficora.fi/2017/loa2", "http://ftn.ficora.fi/2017/loa3"
    assert acr_satisfies(None, None) and acr_satisfies("anything", "")
    assert acr_satisfies(loa3, loa3) and acr_satisfies(loa3, loa2)
    assert not acr_satisfies(loa2, loa3)
    assert not acr_satisfies(None, loa2)
    assert acr_satisfies(loa2, f"{loa3} {loa2}")
    assert not acr_satisfies("urn:unknown", loa2) and acr_satisfies("urn:x", "urn:x")
    assert acr_satisfies("http://eidas.europa.eu/LoA/high", loa3)


def test_step_up_request_asks_for_a_new_authentication_and_its_acr() -> None:  # SEC-6
    provider = stand_in_provider_settings(BASE_URL, "fi", "FI", "FI").model_copy(
        update={"acr_values": "a", "step_up_acr_values": "b"}
    )
    login = parse_qs(urlsplit(start_authorization(provider, REDIRECT_URI).url).query)
    assert login["acr_values"] == ["a"] and "max_age" not in login and "prompt" not in login
    fresh = parse_qs(urlsplit(start_authorization(provider, REDIRECT_URI, fresh=True).url).query)
    assert fresh["acr_values"] == ["b"] and fresh["max_age"] == ["0"]
    assert fresh["prompt"] == ["login"]


def _signed_id_token(key: OKPKey, kid: str, issuer: str, nonce: str) -> str:
    now = int(NOW.timestamp())
    claims = {
        "iss": issuer,
        "aud": "portti",
        "sub": "s1",
        "exp": now + 300,
        "iat": now,
        "nonce": nonce,
        "national_id": "131052-308T",
    }
    return jwt.encode(
        {"alg": "EdDSA", "kid": kid}, claims, key, registry=AllowListRegistry(["EdDSA"])
    )


def test_a_reused_kid_with_a_new_key_triggers_one_refetch() -> None:  # WEB-4
    def as_kid(seed: bytes) -> OKPKey:
        return OKPKey.import_key(derive_signing_key(seed).as_dict(private=True) | {"kid": "k1"})

    old, new, forged = as_kid(b"old"), as_kid(b"new"), as_kid(b"forged")
    uri = "https://idp.example/jwks"
    provider = OidcProviderSettings(
        key="x", label="x", issuer="https://idp.example", client_id="portti",
        authorization_endpoint="https://idp.example/auth", token_endpoint="https://idp.example/token",
        jwks_uri=uri, algorithms=["EdDSA"],
    )  # fmt: skip
    sets = [public_set(old)]
    calls: list[int] = []
    ticks = [0.0]
    cache = JwksCache(jwks_server(sets, calls), clock=lambda: ticks[0])
    cache.get(uri)
    sets[0] = public_set(new)  # the provider put a new key under the same kid
    ticks[0] = 10.0
    token = _signed_id_token(new, "k1", provider.issuer, "n")
    claims = verify_id_token(provider, token, jwks=cache, expected_nonce="n", now=NOW)
    assert claims["sub"] == "s1" and len(calls) == 2
    # A token that fails again right after is refused without another fetch.
    bad = _signed_id_token(forged, "k1", provider.issuer, "n")
    with pytest.raises(ProviderError, match="bad signature"):
        verify_id_token(provider, bad, jwks=cache, expected_nonce="n", now=NOW)
    assert len(calls) == 2


def test_discovery_by_issuer_cached_kept_on_failure_and_checked() -> None:  # WEB-4
    issuer = "https://broker.example"
    doc = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/auth",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "pushed_authorization_request_endpoint": f"{issuer}/par",
        "authorization_response_iss_parameter_supported": True,
    }
    answers = [httpx.Response(200, json=doc)]
    calls: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return answers[0]

    ticks = [0.0]
    cache = DiscoveryCache(
        httpx.Client(transport=httpx.MockTransport(handle)), clock=lambda: ticks[0]
    )
    provider = OidcProviderSettings(key="b", label="b", issuer=issuer, client_id="portti")
    e = cache.endpoints(provider)
    assert (e.token_endpoint, e.userinfo_endpoint) == (f"{issuer}/token", f"{issuer}/userinfo")
    assert e.pushed_authorization_request_endpoint == f"{issuer}/par"
    assert e.iss_parameter_supported
    assert calls == [f"{issuer}/.well-known/openid-configuration"]
    cache.endpoints(provider)
    assert len(calls) == 1
    # A configured endpoint wins over the discovered one.
    override = provider.model_copy(update={"token_endpoint": "https://other.example/token"})
    assert cache.endpoints(override).token_endpoint == "https://other.example/token"
    # Stale and the provider down: the last good copy is used.
    ticks[0] = 7200.0
    answers[0] = httpx.Response(503)
    assert cache.endpoints(provider).authorization_endpoint == f"{issuer}/auth"
    # Dropped (after a failed login) and the document names another issuer: refused.
    cache.invalidate(issuer)
    answers[0] = httpx.Response(200, json={**doc, "issuer": "https://evil.example"})
    with pytest.raises(DiscoveryError):
        cache.endpoints(provider)
