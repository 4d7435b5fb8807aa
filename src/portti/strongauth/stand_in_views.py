"""The stand-in identity provider's routes under ``/test-idp``: discovery, key set, the login page
listing the identities it offers, and the token endpoint (see ``stand_in_provider``)."""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from joserfc import jwt
from joserfc.errors import JoseError

from portti.i18n import LazyText, _l
from portti.infra.clock import Clock, SystemClock
from portti.strongauth.oidc.jose import AllowListRegistry
from portti.strongauth.oidc.request import pkce_challenge
from portti.strongauth.stand_in_provider import (
    ALGORITHM,
    COUNTRIES,
    PATH,
    StandInIdentity,
    code_claims,
    derive_signing_key,
    discovery_document,
    id_token_claims,
)

__all__ = ["build_stand_in_router"]

# The providers the built-in one stands in for (``provider_hint``), by name on its page.
PROVIDER_NAMES: dict[str, LazyText] = {
    "fi_bank": _l("Finnish bank ID or mobile certificate"),
    "ee_id": _l("Estonian ID card"),
    "no_id": _l("Norwegian ID card"),
    "se_id": _l("Swedish ID card"),
}
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_PKCE_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_MAX_FIELD = 100
# The query parameters of an authorization request this provider reads and carries through its
# login form. ``provider_hint`` and ``country_hint`` come from the configured endpoint URL (see
# ``stand_in_provider_settings``) and only shape the page.
_AUTH_PARAMS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "provider_hint",
    "country_hint",
    "max_age",
    "prompt",
    "acr_values",
)


@dataclass
class _OtherIdentity:
    given_name: str = ""
    family_name: str = ""
    country: str = "FI"
    national_id: str = ""
    errors: list[LazyText] = field(default_factory=list)

    @property
    def filled(self) -> bool:
        return bool(self.given_name or self.family_name or self.national_id)


def _str(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


def _with_query(url: str, params: Mapping[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def build_stand_in_router(
    *,
    issuer: str,
    signing_seed: bytes,
    identities: Callable[[], list[StandInIdentity]],
    templates: Jinja2Templates,
    clock: Clock | None = None,
) -> APIRouter:
    """The ``/test-idp`` routes. ``issuer`` is the absolute URL the router is mounted at."""
    issuer = issuer.rstrip("/")
    issuer_host = (urlsplit(issuer).hostname or "").lower()
    key = derive_signing_key(signing_seed)
    kid = key.kid
    registry = AllowListRegistry([ALGORITHM])
    public_jwks = {"keys": [key.as_dict(private=False)]}
    the_clock: Clock = clock or SystemClock()
    router = APIRouter(prefix=PATH, tags=["test identity provider"])

    def now_ts() -> int:
        return int(the_clock.now().timestamp())

    def sign(claims: dict[str, Any]) -> str:
        return jwt.encode({"alg": ALGORITHM, "kid": kid}, claims, key, registry=registry)

    def redirect_uri_problem(redirect_uri: str, request: Request) -> str | None:
        if not redirect_uri:
            return "The request has no redirect_uri."
        parts = urlsplit(redirect_uri)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            return "The redirect_uri must be an absolute http(s) URL."
        if parts.username is not None or parts.fragment:
            return "The redirect_uri must not contain credentials or a fragment."
        host = parts.hostname.lower()
        # A test provider hands out identities to anyone, so its codes may only go back to the
        # service it is part of (or a developer's machine), never to another site.
        allowed = {issuer_host, (request.url.hostname or "").lower()}
        if host in allowed or host in _LOCAL_HOSTS or host.endswith(".localhost"):
            return None
        return f"The redirect_uri host {host!r} is not this service or localhost."

    def request_problem(params: Mapping[str, str], request: Request) -> str | None:
        problem = redirect_uri_problem(params["redirect_uri"], request)
        if problem:
            return problem
        if not params["client_id"]:
            return "The request has no client_id."
        if params["response_type"] != "code":
            return "Only response_type=code is supported."
        if params["code_challenge_method"] != "S256" or not params["code_challenge"]:
            return "PKCE is required: code_challenge with code_challenge_method=S256."
        if params["max_age"] and not params["max_age"].isdigit():
            return "max_age must be a number of seconds."
        if params["prompt"] and not set(params["prompt"].split()) <= {
            "login",
            "consent",
            "select_account",
        }:
            # "none" included: this provider has no session to answer from without a page.
            return "Only prompt=login, consent or select_account is supported."
        return None

    def read_params(data: Mapping[str, Any]) -> dict[str, str]:
        return {name: _str(data, name) for name in _AUTH_PARAMS}

    def refuse_page(request: Request, problem: str) -> Response:
        return templates.TemplateResponse(
            request,
            "test_idp/authorize.html",
            {"error": problem},
            status_code=400,
            headers={"Cache-Control": "no-store"},
        )

    def login_page(
        request: Request,
        params: dict[str, str],
        *,
        other: _OtherIdentity | None = None,
        selected: int | None = None,
        status_code: int = 200,
    ) -> Response:
        people = list(enumerate(identities()))
        hint = params["country_hint"].upper()
        if hint in COUNTRIES:
            # The hinted country's identities first; indices stay those of the full list.
            people.sort(key=lambda pair: pair[1].country != hint)
        if other is None:
            other = _OtherIdentity(country=hint if hint in COUNTRIES else "FI")
        if selected is None and people:
            selected = people[0][0]
        cancel = {"error": "access_denied", "iss": issuer}
        if params["state"]:
            cancel["state"] = params["state"]
        return templates.TemplateResponse(
            request,
            "test_idp/authorize.html",
            {
                "error": None,
                "action": f"{issuer}/authorize",
                "hidden": {name: value for name, value in params.items() if value},
                "identities": people,
                "selected": selected,
                "other": other,
                "countries": COUNTRIES,
                "provider_hint": PROVIDER_NAMES.get(
                    params["provider_hint"], params["provider_hint"]
                ),
                "cancel_url": _with_query(params["redirect_uri"], cancel),
            },
            status_code=status_code,
            headers={"Cache-Control": "no-store"},
        )

    @router.get("/.well-known/openid-configuration")
    def discovery() -> dict[str, Any]:
        return discovery_document(issuer)

    @router.get("/jwks")
    def jwks() -> dict[str, Any]:
        return public_jwks

    @router.get("/authorize")
    def authorize_page(request: Request) -> Response:
        params = read_params(request.query_params)
        problem = request_problem(params, request)
        if problem:
            return refuse_page(request, problem)
        return login_page(request, params)

    # No CSRF token on this form: the provider is for demos and tests only, and whoever can post
    # it can equally pick any identity on the page; the code only travels to an allowed host.
    @router.post("/authorize")
    async def authorize_submit(request: Request) -> Response:
        form = await request.form()
        params = read_params(form)
        problem = request_problem(params, request)
        if problem:
            return refuse_page(request, problem)

        other = _OtherIdentity(
            given_name=_str(form, "given_name"),
            family_name=_str(form, "family_name"),
            country=_str(form, "country").upper() or "FI",
            national_id=_str(form, "national_id"),
        )
        choice = _str(form, "identity")
        chosen = _chosen_identity(other, choice, identities)
        if chosen is None:
            selected = int(choice) if choice.isdigit() else None
            return login_page(request, params, other=other, selected=selected, status_code=400)

        # Stateless, so a code can be redeemed more than once within its minute; acceptable for
        # a test provider, and it lets any process redeem it.
        # RFC 9207: the response names its issuer.
        back = {"code": sign(code_claims(chosen, params, now_ts())), "iss": issuer}
        if params["state"]:
            back["state"] = params["state"]
        return RedirectResponse(_with_query(params["redirect_uri"], back), status_code=303)

    @router.post("/token")
    async def token(request: Request) -> Response:
        form = await request.form()

        def fail(error: str, description: str) -> Response:
            return JSONResponse(
                {"error": error, "error_description": description},
                status_code=400,
                headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
            )

        if _str(form, "grant_type") != "authorization_code":
            return fail("unsupported_grant_type", "Only authorization_code is supported.")
        client_id = _str(form, "client_id") or _basic_client_id(request)
        code = _str(form, "code")
        if not code:
            return fail("invalid_request", "The code is missing.")
        try:
            claims = jwt.decode(code, key, registry=registry).claims
        except JoseError:
            return fail("invalid_grant", "The code is not valid.")
        if claims.get("typ") != "code":
            return fail("invalid_grant", "The code is not valid.")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= now_ts():
            return fail("invalid_grant", "The code has expired.")
        if claims.get("redirect_uri") != _str(form, "redirect_uri"):
            return fail("invalid_grant", "The redirect_uri does not match the authorization.")
        if not client_id or claims.get("client_id") != client_id:
            return fail("invalid_grant", "The client_id does not match the authorization.")
        verifier = _str(form, "code_verifier")
        challenge = claims.get("code_challenge")
        if (
            not _PKCE_VERIFIER.match(verifier)
            or not isinstance(challenge, str)
            or not hmac.compare_digest(pkce_challenge(verifier), challenge)
        ):
            return fail("invalid_grant", "PKCE verification failed.")

        id_claims = id_token_claims(claims, issuer=issuer, client_id=client_id, now=now_ts())
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(32),
                "token_type": "Bearer",
                "expires_in": 60,
                "id_token": sign(id_claims),
            },
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    return router


def _chosen_identity(
    other: _OtherIdentity, choice: str, identities: Callable[[], list[StandInIdentity]]
) -> StandInIdentity | None:
    """The identity picked on the login page: the filled-in one (which wins over the
    pre-selected radio button) or the listed one; ``None``, with ``other.errors``, if neither."""
    if other.filled:
        for name, missing, too_long in (
            ("given_name", _l("Give a given name."), _l("The given name is too long.")),
            ("family_name", _l("Give a family name."), _l("The family name is too long.")),
            (
                "national_id",
                _l("Give a national identity number."),
                _l("The national identity number is too long."),
            ),
        ):
            value = getattr(other, name)
            if not value:
                other.errors.append(missing)
            elif len(value) > _MAX_FIELD:
                other.errors.append(too_long)
        if other.country not in COUNTRIES:
            other.errors.append(_l("Choose a country from the list."))
        if other.errors:
            return None
        return StandInIdentity(
            label="Another identity",
            given_name=other.given_name,
            family_name=other.family_name,
            country=other.country,
            national_id=other.national_id,
        )
    people = identities()
    if choice.isdigit() and int(choice) < len(people):
        return people[int(choice)]
    other.errors.append(_l("Choose an identity, or fill in another identity."))
    return None


def _basic_client_id(request: Request) -> str:
    """The client_id of HTTP Basic client authentication (the secret is not checked here)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return ""
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return ""
    return unquote(decoded.partition(":")[0])
