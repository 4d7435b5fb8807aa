"""A business application that logs its users in through Portti, with Authlib's OpenID Connect
client: it shows who logged in, how, and their companies and roles. `make run` starts it at
http://127.0.0.1:8001 beside Portti (registered by `portti clients register`)."""

from __future__ import annotations

import html
import json
import os
import secrets
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
sessions: dict[str, dict[str, Any]] = {}  # cookie -> the person's ID token and claims
pending: dict[str, tuple[str, str]] = {}  # state -> (nonce, PKCE verifier)
app = FastAPI(title="Numerot accounting (example)")


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


@app.get("/", response_class=HTMLResponse)
def home(request: Request) -> str:
    s = sessions.get(request.cookies.get("example_sid", ""))
    if s is None:
        return '<h1>Numerot accounting</h1><p><a href="/login">Log in with Portti</a></p>'
    c = s["claims"]
    rows = "".join(
        f"<li>{html.escape(co['name'])}: {html.escape(', '.join(co['roles']))}</li>"
        for co in c.get("companies", [])
    )
    return (
        f"<h1>Hello, {html.escape(c['name'])}</h1><p>Logged in through Portti ({c['acr']}, "
        f"{', '.join(c['amr'])}).</p><h2>Your companies and roles</h2><ul>{rows}</ul>"
        '<p><a href="/logout">Log out</a></p>'
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
        return HTMLResponse("Unknown login; <a href='/login'>start again</a>.", 400)
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
