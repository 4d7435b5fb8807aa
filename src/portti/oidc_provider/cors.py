"""Cross-origin requests from single-page apps (OIDC-1).

A single-page app (a public client such as one built with ``oidc-client-ts``) calls the
provider from its own origin with ``fetch``: the browser lets it read an answer only when the
answer names its origin (CORS). Who may read what:

- discovery and the JWK set are public documents: any origin (``*``), never with credentials;
- the token, revocation and UserInfo endpoints answer only the web origins registered for the
  client
  (``OidcClient.web_origins``; Keycloak's "Web origins"); a preflight, which does not say which
  client is asking, is allowed for an origin some enabled client registered. A token request
  that comes from a browser origin the client did not register is refused before the code or
  refresh token is spent.

Nothing answers with ``Access-Control-Allow-Credentials``: these endpoints take no cookies."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portti.oidc_provider.models import OidcClient

PUBLIC_PATHS = frozenset({"/.well-known/openid-configuration", "/.well-known/jwks.json"})
MAX_AGE = "600"


def normal_origin(origin: str | None) -> str | None:
    """The Origin header as registered origins are kept (lower case, no trailing slash), or
    None for none, ``null`` or garbage."""
    if not origin or origin == "null" or len(origin) > 300:
        return None
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(origin: str, issuer: str) -> bool:
    own = urlsplit(issuer)
    return origin == f"{own.scheme}://{own.netloc}".lower()


def registered_by_any(db: Session, origin: str) -> bool:
    """Whether an enabled client registered this origin (for preflights, which name no client)."""
    rows = db.scalars(select(OidcClient.web_origins).where(OidcClient.disabled_at.is_(None))).all()
    return any(origin in (origins or []) for origins in rows)


def allowed_for(client: OidcClient | None, origin: str) -> bool:
    return client is not None and origin in (client.web_origins or [])


def cors_headers(origin: str) -> dict[str, str]:
    return {"access-control-allow-origin": origin, "vary": "Origin"}


def preflight_headers(origin: str, methods: str) -> dict[str, str]:
    return {
        **cors_headers(origin),
        "access-control-allow-methods": methods,
        "access-control-allow-headers": "authorization, content-type, accept",
        "access-control-max-age": MAX_AGE,
    }


class PublicDocumentsCors:
    """``Access-Control-Allow-Origin: *`` on discovery and the JWK set, and their preflights
    (a middleware: the JWK set's route belongs to ``portti.keys``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        (b"access-control-allow-origin", b"*"),
                        (b"access-control-allow-methods", b"GET"),
                        (b"access-control-allow-headers", b"accept"),
                        (b"access-control-max-age", MAX_AGE.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"access-control-allow-origin", b"*"),
                ]
            await send(message)

        await self.app(scope, receive, send_wrapper)
