"""ASGI middleware: a per-browser id cookie (for CSRF before login) and security headers."""

from __future__ import annotations

import secrets
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portti.i18n import LANGUAGE_COOKIE, begin_request
from portti.web.cookies import BROWSER, cookie_name

NO_BROWSER_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def content_security_policy(form_targets: list[str]) -> str:
    """Forms post only here, or (through a redirect) to the configured identity providers."""
    targets = " ".join(["'self'", *sorted(set(form_targets))])
    return (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        f"connect-src 'self'; form-action {targets}; frame-ancestors 'none'; base-uri 'none'"
    )


class BrowserMiddleware:
    def __init__(self, app: ASGIApp, *, secure: bool, csp: str) -> None:
        self.app = app
        self.secure = secure
        self.browser_cookie = cookie_name(BROWSER, secure=secure)
        self.csp = csp.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookies: SimpleCookie = SimpleCookie()
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                try:
                    cookies.load(value.decode("latin-1"))
                except Exception:  # noqa: S112 - a malformed cookie header is ignored
                    continue
        existing = cookies.get(self.browser_cookie)
        browser_id = existing.value if existing and 20 <= len(existing.value) <= 64 else None
        # Probes and the metrics scrape are no browser's: they get no cookie to keep.
        new_cookie = browser_id is None and scope.get("path") not in NO_BROWSER_PATHS
        if browser_id is None:
            browser_id = secrets.token_urlsafe(24)
        scope.setdefault("state", {})["browser_id"] = browser_id

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = {
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"same-origin",
                    b"content-security-policy": self.csp,
                }
                headers += [(k, v) for k, v in extra.items() if k not in present]
                if new_cookie:
                    attrs = f"{self.browser_cookie}={browser_id}; Path=/; HttpOnly; SameSite=Lax"
                    if self.secure:
                        attrs += "; Secure"
                    headers.append((b"set-cookie", attrs.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)


class LocaleMiddleware:
    """Starts the request's language (``portti.i18n``) from the switcher's cookie or the
    browser's ``Accept-Language``; dependencies refine it with the person's own setting and the
    company's default. Answers say which language they are in."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        cookie_value = accept = None
        for name, value in scope.get("headers", []):
            if name == b"accept-language":
                accept = value.decode("latin-1")[:500]
            elif name == b"cookie":
                cookies: SimpleCookie = SimpleCookie()
                try:
                    cookies.load(value.decode("latin-1"))
                except Exception:  # noqa: S112 - a malformed cookie header is ignored
                    continue
                if LANGUAGE_COOKIE in cookies:
                    cookie_value = cookies[LANGUAGE_COOKIE].value
        choice = begin_request(cookie_value, accept)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-language", choice.language.encode()))
                headers.append((b"vary", b"Accept-Language, Cookie"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)
