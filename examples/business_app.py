"""A business application that logs its users in through Portti, with Authlib's OpenID Connect
client: it shows who logged in, how, and their companies and roles. `make run` starts it at
http://127.0.0.1:8001 beside Portti (registered by `portti clients register`).

At start it tells Portti its customer companies through the companies API, as a machine client
(`portti clients register-machine`, the file in `EXAMPLE_MACHINE`): a token by the client
credentials grant, then one `POST /api/v1/companies` per customer, idempotent by the
application's own customer number (`external_id`), so every start may send them all again."""

from __future__ import annotations

import html
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

REG = json.loads(Path(os.environ.get("EXAMPLE_CLIENT", "var/example-client.json")).read_text())
HERE = os.environ.get("EXAMPLE_URL", "http://127.0.0.1:8001")
MACHINE = Path(os.environ.get("EXAMPLE_MACHINE", "var/example-machine.json"))
sessions: dict[str, dict[str, Any]] = {}  # cookie -> the person's ID token and claims
pending: dict[str, tuple[str, str]] = {}  # state -> (nonce, PKCE verifier)
log = logging.getLogger("business_app")

# The application's customers, by its own customer number: what it tells Portti at start.
CUSTOMERS = [
    {"external_id": "numerot-1001", "name": "Kirjanpito Koivu Oy", "business_id": "3141590-3",
     "default_language": "fi", "timezone": "Europe/Helsinki"},
    {"external_id": "numerot-1002", "name": "Bokföring Björk Ab", "business_id": "3141591-1",
     "default_language": "sv", "timezone": "Europe/Helsinki"},
]  # fmt: skip


def provision_companies(machine: dict[str, Any], http: httpx.Client) -> dict[str, int]:
    """Creates (or finds again) the customers' companies in Portti; their ids by customer
    number. The same request again answers 200 with the same company."""
    token = http.post(
        machine["token_endpoint"],
        data={"grant_type": "client_credentials", "scope": "companies:write"},
        auth=(machine["client_id"], machine["client_secret"]),
    )
    token.raise_for_status()
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    ids = {}
    for customer in CUSTOMERS:
        r = http.post(f"{machine['api']}/api/v1/companies", json=customer, headers=bearer)
        if r.status_code not in (200, 201):
            # A problem document (RFC 9457): what Portti refused, and why.
            log.warning("company %s refused: %s", customer["external_id"], r.text)
            continue
        ids[customer["external_id"]] = r.json()["id"]
    return ids


def provision_at_start(machine_file: Path, attempts: int = 60) -> None:
    """`make run` starts this application beside Portti: Portti may answer a little later."""
    machine = json.loads(machine_file.read_text())
    last: Exception | None = None
    for _ in range(attempts):
        try:
            with httpx.Client(timeout=10) as http:
                created = provision_companies(machine, http)
            log.warning("customer companies in Portti: %s", created)
            return
        except httpx.HTTPError as exc:
            last = exc
            time.sleep(1)
    log.warning("could not create the customer companies in Portti: %s", last)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    if MACHINE.exists():
        threading.Thread(target=provision_at_start, args=(MACHINE,), daemon=True).start()
    yield


app = FastAPI(title="Numerot accounting (example)", lifespan=lifespan)


def provider() -> dict[str, Any]:
    return httpx.get(REG["discovery"]).json()  # type: ignore[no-any-return]


def verify(token: str, **options: Any) -> Any:
    keys = JsonWebKey.import_key_set(httpx.get(provider()["jwks_uri"]).json())
    claims = jwt.decode(token, keys, **options)
    claims.validate(leeway=30)
    return claims


def oauth() -> OAuth2Client:
    return OAuth2Client(
        REG["client_id"], REG["client_secret"], scope="openid profile email companies",
        redirect_uri=f"{HERE}/callback", code_challenge_method="S256",
    )  # fmt: skip


# The application's own texts, in Finnish, Swedish and English by the browser's language.
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Numerot accounting", "log_in": "Log in with Portti", "hello": "Hello, {name}",
        "how": "You logged in through Portti: {acr}, {amr}.", "log_out": "Log out",
        "companies": "Your companies and roles", "no_roles": "no roles",
        "unknown": "This login is unknown or has expired.", "again": "Log in again",
    },
    "fi": {
        "title": "Numerot-kirjanpito", "log_in": "Kirjaudu Portilla", "hello": "Hei, {name}",
        "how": "Kirjauduit Portin kautta: {acr}, {amr}.", "log_out": "Kirjaudu ulos",
        "companies": "Yrityksesi ja roolisi", "no_roles": "ei rooleja",
        "unknown": "Tätä kirjautumista ei tunneta tai se on vanhentunut.",
        "again": "Kirjaudu uudelleen",
    },
    "sv": {
        "title": "Numerot bokföring", "log_in": "Logga in med Portti", "hello": "Hej, {name}",
        "how": "Du loggade in via Portti: {acr}, {amr}.", "log_out": "Logga ut",
        "companies": "Dina företag och roller", "no_roles": "inga roller",
        "unknown": "Inloggningen är okänd eller har gått ut.", "again": "Logga in igen",
    },
}  # fmt: skip
# The roles the application knows, by the codes Portti's `companies` claim carries.
ROLE_NAMES: dict[str, dict[str, str]] = {
    "user_admin": {"en": "User administrator", "fi": "Käyttäjähallinnoija", "sv": "Användaradministratör"},
    "office_main_user": {"en": "Main user at the accounting office", "fi": "Tilitoimiston pääkäyttäjä", "sv": "Huvudanvändare på bokföringsbyrån"},
    "support": {"en": "Customer service", "fi": "Asiakaspalvelu", "sv": "Kundtjänst"},
    "purchase_invoice_inspector": {"en": "Purchase invoice inspector", "fi": "Ostolaskujen tarkastaja", "sv": "Sakgranskare av inköpsfakturor"},
    "purchase_invoice_approver": {"en": "Purchase invoice approver", "fi": "Ostolaskujen hyväksyjä", "sv": "Godkännare av inköpsfakturor"},
    "purchase_invoice_payer": {"en": "Purchase invoice payer", "fi": "Ostolaskujen maksaja", "sv": "Betalare av inköpsfakturor"},
    "bookkeeper": {"en": "Bookkeeper", "fi": "Kirjaaja", "sv": "Bokförare"},
    "payroll": {"en": "Payroll", "fi": "Palkanlaskenta", "sv": "Lönehantering"},
    "reporting": {"en": "Reporting", "fi": "Raportointi", "sv": "Rapportering"},
    "read_only": {"en": "Read-only", "fi": "Vain luku", "sv": "Endast läsbehörighet"},
}  # fmt: skip


def language(request: Request) -> str:
    """The first of fi, sv, en that the browser's Accept-Language asks for; else English."""
    wanted = []
    for i, part in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        wanted.append((-weight, i, tag.split("-")[0].lower()))
    return next((t for _, _, t in sorted(wanted) if t in TEXTS), "en")


def page(lang: str, body: str, status: int = 200) -> HTMLResponse:
    title = html.escape(TEXTS[lang]["title"])
    return HTMLResponse(
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No icon to fetch: a browser's request for /favicon.ico would be a 404 in its console.
        '<link rel="icon" href="data:,">'
        f"<title>{title}</title></head><body><main>{body}</main></body></html>",
        status,
    )


def role_name(code: str, lang: str) -> str:
    return ROLE_NAMES.get(code, {}).get(lang) or code.replace("_", " ")


@app.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    lang = language(request)
    t = TEXTS[lang]
    s = sessions.get(request.cookies.get("example_sid", ""))
    if s is None:
        return page(lang, f'<h1>{t["title"]}</h1><p><a href="/login">{t["log_in"]}</a></p>')
    c = s["claims"]
    rows = "".join(
        f"<li>{html.escape(co['name'])}: "
        f"{html.escape(', '.join(role_name(r, lang) for r in co['roles']) or t['no_roles'])}</li>"
        for co in c.get("companies", [])
    )
    how = t["how"].format(
        acr=f"<code>{html.escape(str(c['acr']))}</code>",
        amr=", ".join(f"<code>{html.escape(m)}</code>" for m in c["amr"]),
    )
    return page(
        lang,
        f"<h1>{html.escape(t['hello'].format(name=c['name']))}</h1><p>{how}</p>"
        f"<h2>{t['companies']}</h2><ul>{rows}</ul>"
        f'<p><a href="/logout">{t["log_out"]}</a></p>',
    )


@app.get("/login")
def login() -> Response:
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    url, state = oauth().create_authorization_url(
        provider()["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    pending[state] = (nonce, verifier)
    return RedirectResponse(url, 303)


@app.get("/callback")
def callback(request: Request, state: str = "") -> Response:
    if state not in pending:
        t = TEXTS[language(request)]
        body = f'<p>{t["unknown"]}</p><p><a href="/login">{t["again"]}</a></p>'
        return page(language(request), body, 400)
    nonce, verifier = pending.pop(state)
    token = oauth().fetch_token(
        provider()["token_endpoint"], authorization_response=str(request.url),
        code_verifier=verifier, state=state,
    )  # fmt: skip
    claims = verify(
        token["id_token"], claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": REG["issuer"]}},
        claims_params={"nonce": nonce, "client_id": REG["client_id"]},
    )  # fmt: skip
    cookie = secrets.token_urlsafe(32)
    sessions[cookie] = {"claims": dict(claims), "id_token": token["id_token"]}
    response = RedirectResponse("/", 303)
    response.set_cookie("example_sid", cookie, httponly=True, samesite="lax")
    return response


@app.get("/logout")
def logout(request: Request) -> Response:
    s = sessions.pop(request.cookies.get("example_sid", ""), None)
    if s is None:
        return RedirectResponse("/", 303)
    query = urlencode({"id_token_hint": s["id_token"], "post_logout_redirect_uri": f"{HERE}/"})
    return RedirectResponse(f"{provider()['end_session_endpoint']}?{query}", 303)


@app.post("/backchannel-logout")
def backchannel_logout(logout_token: str = Form("")) -> Response:
    """Portti tells us the person's login ended (logout, revoked device, ended membership)."""
    try:
        claims = verify(logout_token, claims_options={
            "iss": {"essential": True, "value": REG["issuer"]},
            "aud": {"essential": True, "value": REG["client_id"]},
        })  # fmt: skip
    except Exception:
        return Response(status_code=400)
    for cookie, s in list(sessions.items()):
        if s["claims"].get("sid") == claims.get("sid"):
            del sessions[cookie]
    return Response(status_code=200, headers={"cache-control": "no-store"})
