"""A single-page app logs in through Portti with `oidc-client-ts` (a library nobody here wrote)
in Chromium: a public client on another origin, authorization code with PKCE, the token
endpoint, UserInfo and revocation fetched across origins (CORS), a refresh, and RP-initiated
logout.

The app (tests/interop/oidc_client_ts/spa) is served by a small server on a port of its own;
the library comes from npm (`make interop-deps` runs `npm ci` in tests/interop/oidc_client_ts).
Without it the test is skipped loudly, and under CI=true it fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from portti.oidc_provider.models import OidcLogin, RefreshToken
from portti.weblogin.models import WebSession
from support.db import fresh

pytestmark = [pytest.mark.e2e]

INTEROP = Path(__file__).resolve().parents[1] / "interop" / "oidc_client_ts"
LIBRARY = INTEROP / "node_modules" / "oidc-client-ts" / "dist" / "browser" / "oidc-client-ts.min.js"
NO_LIBRARY = (
    "OIDC-CLIENT-TS SPA TEST SKIPPED: tests/interop/oidc_client_ts/node_modules is missing; "
    "run `make interop-deps` (npm ci)"
)


def _library() -> bytes:
    if not LIBRARY.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(NO_LIBRARY)
        warnings.warn(NO_LIBRARY, stacklevel=1)
        pytest.skip(NO_LIBRARY)
    return LIBRARY.read_bytes()


class SpaServer(ThreadingHTTPServer):
    def __init__(self, files: dict[str, tuple[str, bytes]]) -> None:
        super().__init__(("127.0.0.1", 0), _SpaHandler)
        self.files = files

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _SpaHandler(BaseHTTPRequestHandler):
    server: SpaServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        found = self.server.files.get(path)
        if found is None:
            self.send_error(404)
            return
        content_type, body = found
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.send_header("cache-control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def spa(live_server, tmp_path) -> Iterator[tuple[SpaServer, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    library = _library()
    server = SpaServer({})
    here = server.origin
    out = tmp_path / "spa-client.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTTI_")} | {
        "PORTTI_MODE": "demo",
        "PORTTI_DATABASE_URL": live_server.database_url,
        "PORTTI_BASE_URL": live_server.url,
        "PORTTI_SECRET_KEY": live_server.secret_key,
    }
    done = subprocess.run(
        [sys.executable, "-m", "portti.cli", "clients", "register", "--name", "Numerot SPA",
         "--auth-method", "none", "--redirect-uri", f"{here}/",
         "--post-logout-redirect-uri", f"{here}/", "--web-origin", here,
         "--first-party",  # the operator's own app: no consent page (tests/…/test_consent.py)
         "--json-out", str(out)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    reg = json.loads(out.read_text())
    config = {"issuer": live_server.url, "clientId": reg["client_id"]}
    spa_dir = INTEROP / "spa"
    server.files.update(
        {
            "/": ("text/html; charset=utf-8", (spa_dir / "index.html").read_bytes()),
            "/spa.js": ("text/javascript", (spa_dir / "spa.js").read_bytes()),
            "/oidc-client-ts.min.js": ("text/javascript", library),
            "/config.js": (
                "text/javascript",
                f"window.SPA_CONFIG = {json.dumps(config)};".encode(),
            ),
        }
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, reg
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
def test_a_single_page_app_logs_in_refreshes_and_logs_out_with_oidc_client_ts(
    page, live_server, live_db, spa
) -> None:  # OIDC-1 OIDC-2
    from playwright.sync_api import expect

    server, reg = spa
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server.origin + "/")
    expect(page.get_by_role("status")).to_have_text("Logged out")
    page.get_by_role("button", name="Log in with Portti").click()
    page.get_by_role("button", name="Log in with Finnish bank ID or mobile certificate").click()
    page.get_by_label("Kaisa Mäkinen").check()
    page.get_by_role("button", name="Log in", exact=True).click()
    # Back at the app: the code exchanged and UserInfo read from the app's origin.
    expect(page.get_by_role("status")).to_contain_text("Logged in as Kaisa Mäkinen")
    assert page.url.startswith(server.origin)
    expect(page.get_by_role("alert")).to_have_text("")

    page.get_by_role("button", name="Refresh tokens").click()
    expect(page.get_by_text("Tokens refreshed")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_have_text("Logged out")
    assert page.url.startswith(server.origin)
    assert not [e for e in errors if "CORS" in e or "Failed to fetch" in e], errors

    fresh(live_db)
    logins = live_db.scalars(select(OidcLogin).where(OidcLogin.client_id == reg["client_id"]))
    login = logins.one()
    # Revoked by the app before it went to Portti's logout (revokeTokensOnSignout).
    assert login.ended_at is not None and login.end_reason == "tokens_revoked"
    assert all(grant.revoked_at is not None for grant in login_grants(live_db, login.id))
    assert len(login_grants(live_db, login.id)) == 2  # the first, and its rotation
    # The Portti session ended too (RP-initiated logout).
    ws = live_db.get(WebSession, login.web_session_id)
    assert ws is not None and ws.revoked_at is not None


def login_grants(db, login_id: int) -> list[RefreshToken]:  # type: ignore[no-untyped-def]
    return list(db.scalars(select(RefreshToken).where(RefreshToken.login_id == login_id)))
