"""Portti as an OpenID Provider from a test: registering clients, a relying party built from
Authlib's client (a library nobody here wrote), and a small RP server that receives back-channel
logout tokens."""

from __future__ import annotations

import html
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken
from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.audit.services import AuditLog
from portti.infra.clock import Clock
from portti.oidc_provider.client_settings import ClientInput, RegisteredClient
from portti.oidc_provider.clients import ClientService

REDIRECT_URI = "https://accounting.example/callback"
SCOPE = "openid profile email companies"
RETURN_URL = re.compile(r'<a id="continue" href="([^"]+)"')


def register(
    db: Session, clock: Clock, secret: bytes, *, first_party: bool = True, **fields: Any
) -> RegisteredClient:
    """A client registered as an operator would (the command line: no person acting). First
    party unless a test says otherwise: only the consent tests (OIDC-4) want the question."""
    data = {
        "name": "Numerot accounting",
        "redirect_uris": [REDIRECT_URI],
        "first_party": first_party,
        **fields,
    }
    reg = ClientService(db, clock, AuditLog(db, clock), secret).register(
        ClientInput(**data), actor_person_id=None
    )
    db.commit()
    return reg


def every_company(db: Session) -> list[int]:
    """Every company of the test's cast: a client registered for them gets the list
    `companies` at once (one open to every company would have a person in two pick one, SEC-24)."""
    from portti.companies.models import Company

    return list(db.scalars(select(Company.id).order_by(Company.id)))


@dataclass
class RelyingParty:
    """A business application's side of the login, with Authlib's OAuth 2 client."""

    reg: RegisteredClient
    http: OAuth2Client
    issuer: str
    redirect_uri: str = REDIRECT_URI
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    state: str = ""

    def authorization_url(self, **extra: str) -> str:
        url, self.state = self.http.create_authorization_url(
            f"{self.issuer}/oidc/authorize", code_verifier=self.verifier, nonce=self.nonce, **extra
        )
        return str(url)

    def fetch_token(self, callback_url: str, **kwargs: Any) -> dict[str, Any]:
        token = self.http.fetch_token(
            f"{self.issuer}/oidc/token",
            authorization_response=callback_url,
            code_verifier=self.verifier,
            **kwargs,
        )
        return dict(token)

    def jwks(self) -> Any:
        return JsonWebKey.import_key_set(
            self.http.get(f"{self.issuer}/.well-known/jwks.json").json()
        )

    def id_claims(
        self, id_token: str, *, nonce: str | None = "same", now: int | None = None
    ) -> dict[str, Any]:
        """The ID token checked as OIDC Core §3.1.3.7 says, by Authlib."""
        claims = jwt.decode(
            id_token,
            self.jwks(),
            claims_cls=CodeIDToken,
            claims_options={"iss": {"essential": True, "value": self.issuer}},
            claims_params={
                "nonce": self.nonce if nonce == "same" else nonce,
                "client_id": self.reg.client_id,
            },
        )
        claims.validate(now=now, leeway=5)
        return dict(claims)


def relying_party(
    transport: httpx.BaseTransport, issuer: str, reg: RegisteredClient, **kw: Any
) -> RelyingParty:
    http = OAuth2Client(
        client_id=reg.client_id,
        client_secret=kw.pop("client_secret", reg.client_secret),
        scope=kw.pop("scope", SCOPE),
        redirect_uri=kw.get("redirect_uri", REDIRECT_URI),
        code_challenge_method="S256",
        token_endpoint_auth_method=kw.pop("token_endpoint_auth_method", "client_secret_basic"),
        transport=transport,
    )
    return RelyingParty(reg=reg, http=http, issuer=issuer, **kw)


def return_url(page: httpx.Response) -> str:
    """Where Portti sends the browser back: a redirect, or the "Returning to …" page's link."""
    if page.status_code in (302, 303):
        return page.headers["location"]
    m = RETURN_URL.search(page.text)
    assert m, page.text
    return html.unescape(m.group(1))


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class _Handler(BaseHTTPRequestHandler):
    server: LogoutReceiver

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        body = parse_qs(self.rfile.read(length).decode())
        self.server.tokens.append(body.get("logout_token", [""])[0])
        self.server.arrived.set()
        self.send_response(self.server.status)
        self.send_header("cache-control", "no-store")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LogoutReceiver(ThreadingHTTPServer):
    """A relying party's back-channel logout endpoint on a free local port."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tokens: list[str] = []
        self.arrived = threading.Event()
        self.status = 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/backchannel-logout"


@contextmanager
def logout_receiver() -> Iterator[LogoutReceiver]:
    server = LogoutReceiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def verify_logout_token(
    token: str, jwks: Any, issuer: str, client_id: str, *, now: int | None = None
) -> dict[str, Any]:
    """OIDC Back-Channel Logout §2.6, with Authlib's JWT (at ``now``: the test clock's)."""
    claims = jwt.decode(
        token,
        jwks,
        claims_options={
            "iss": {"essential": True, "value": issuer},
            "aud": {"essential": True, "value": client_id},
            "iat": {"essential": True},
            "jti": {"essential": True},
            "events": {"essential": True},
        },
    )
    claims.validate(now=now, leeway=5)
    assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"]
    assert "nonce" not in claims
    assert claims.header.get("typ") == "logout+jwt"
    return dict(claims)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
