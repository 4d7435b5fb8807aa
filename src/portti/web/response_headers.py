"""Response headers about transport and caching (SEC-30, SEC-31).

SEC-30: with an ``https://`` base URL every response says ``Strict-Transport-Security``: a
browser that once reached Portti over HTTPS never again sends a session cookie over plain HTTP
(one year; ``includeSubDomains`` and ``preload`` are the domain owner's choice, set at the proxy).

SEC-31: an authenticated response — a request carrying the session cookie or an
``Authorization`` header, and everything under the JSON APIs — is ``Cache-Control: no-store``
unless its handler chose otherwise: a shared or browser cache must not keep a person's page for
the next user of the computer (the back button after logout) or a proxy. Static files are left
to their own caching.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS = b"max-age=31536000"
API_PREFIXES = ("/api/", "/app-api/")
STATIC_PREFIXES = ("/static/", "/app/static/")


class ResponseHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, https: bool, session_cookies: tuple[str, ...]) -> None:
        self.app = app
        self.https = https
        self.session_cookies = tuple(f"{name}=".encode() for name in session_cookies)

    def _authenticated(self, scope: Scope) -> bool:
        path: str = scope.get("path", "")
        if path.startswith(API_PREFIXES):
            return True
        if path.startswith(STATIC_PREFIXES):
            return False
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                return True
            if name == b"cookie" and any(c in value for c in self.session_cookies):
                return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = self._authenticated(scope)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                if self.https and b"strict-transport-security" not in present:
                    headers.append((b"strict-transport-security", HSTS))
                if no_store and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)
