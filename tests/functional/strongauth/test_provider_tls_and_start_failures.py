"""A broker behind an internal CA (PORTTI_CA_BUNDLE, OIDC-10) and logins that cannot even be
started (OIDC-8): a real HTTPS server whose certificate a CA made in the test signed."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from portti.app import create_app
from portti.config import OidcProviderSettings, Settings
from portti.infra.tls import CaBundleError, ssl_context
from portti.strongauth.models import OidcFlow
from support.db import audit_events
from support.tls import LocalCa, https_json_server, make_ca
from support.web import HTML, csrf_from

CLIENT_ID = "portti-at-broker"


@pytest.fixture
def ca(tmp_path) -> LocalCa:  # type: ignore[no-untyped-def]
    return make_ca(tmp_path)


def _broker(par_status: int = 201) -> Any:
    def answer(method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        if path.startswith("/par") and method == "POST":
            if par_status != 201:
                return par_status, {"error": "invalid_request", "error_description": "no"}
            return 201, {"request_uri": "urn:ietf:params:oauth:request_uri:abc", "expires_in": 60}
        return 404, {"error": "not_found"}

    return answer


def _provider(base: str) -> OidcProviderSettings:
    return OidcProviderSettings(
        key="fi_broker",
        label="Finnish bank ID (broker)",
        issuer=base,
        client_id=CLIENT_ID,
        client_secret="broker-secret-" + "y" * 20,
        authorization_endpoint=f"{base}/authorize",
        token_endpoint=f"{base}/token",
        jwks_uri=f"{base}/jwks",
        pushed_authorization_request_endpoint=f"{base}/par",
        par=True,
    )


@pytest.fixture
def portti_with(settings, clock) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """Portti with one broker and a CA setting, its real HTTP client (not routed in-process)."""
    made: list[Any] = []

    def build(base: str, ca_bundle: str | None) -> tuple[TestClient, Any]:
        app = create_app(
            Settings(
                **{
                    **settings.model_dump(),
                    "oidc_providers": [_provider(base)],
                    "ca_bundle": ca_bundle,
                    "test_idp_enabled": False,
                }
            ),
            clock=clock,
        )
        client = TestClient(app, base_url="http://testserver", follow_redirects=False)
        client.__enter__()
        made.append(client)
        return client, app.state.runtime

    yield build
    for client in made:
        client.__exit__(None, None, None)


def _press_login(client: TestClient) -> httpx.Response:
    page = client.get("/login", headers=HTML)
    return client.post(
        "/login/start",
        data={"provider": "fi_broker", "next": "/", "csrf_token": csrf_from(page)},
        headers=HTML,
    )


def test_the_ca_bundle_setting_trusts_an_internal_ca_and_only_then(ca) -> None:  # OIDC-10
    with https_json_server(ca, lambda m, p, b: (200, {"ok": True})) as base:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(base, verify=ssl_context(None))
        # The OS store does not hold a CA made a moment ago either.
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(base, verify=ssl_context("system"))
        assert httpx.get(base, verify=ssl_context(str(ca.ca_pem))).json() == {"ok": True}
        # The file extends certifi's bundle: the public CAs stay trusted.
        extended = ssl_context(str(ca.ca_pem))
        assert (
            any("Portti test internal CA" in json.dumps(c) for c in extended.get_ca_certs())
            and len(extended.get_ca_certs()) > 10
        )


def test_an_unreadable_ca_bundle_is_refused_at_start(tmp_path) -> None:  # OIDC-10
    missing = tmp_path / "nope.pem"
    with pytest.raises(CaBundleError, match="PORTTI_CA_BUNDLE"):
        ssl_context(str(missing))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(CaBundleError):
        ssl_context(str(garbage))


def test_login_through_a_broker_behind_an_internal_ca(ca, portti_with) -> None:  # OIDC-10
    with https_json_server(ca, _broker()) as base:
        client, _ = portti_with(base, str(ca.ca_pem))
        r = _press_login(client)
        assert r.status_code == 303, r.text
        assert r.headers["location"].startswith(f"{base}/authorize?client_id={CLIENT_ID}")
        assert "request_uri=urn" in r.headers["location"]


def test_a_tls_failure_at_login_start_is_audited_and_logged(
    ca, portti_with, caplog
) -> None:  # OIDC-8 OIDC-10
    with https_json_server(ca, _broker()) as base:
        client, rt = portti_with(base, None)
        r = _press_login(client)
    assert r.status_code == 400
    assert "The login could not be started at the identity provider." in r.text
    with rt.session_factory() as db:
        [event] = audit_events(db, "login_failed")
        assert event.details["cause"] == "tls_failed"
        assert event.details["stage"] == "start" and event.details["method"] == "oidc:fi_broker"
        assert event.details["reason"] == "oidc_provider_error"
        assert db.scalar(select(func.count()).select_from(OidcFlow)) == 0
    assert "login_start_failed" in caplog.text and "tls_failed" in caplog.text
    assert "broker-secret" not in caplog.text


def test_a_refused_pushed_request_is_audited_with_the_brokers_error(
    ca, portti_with
) -> None:  # OIDC-8
    with https_json_server(ca, _broker(par_status=400)) as base:
        client, rt = portti_with(base, str(ca.ca_pem))
        r = _press_login(client)
    assert r.status_code == 400 and "(invalid_request)" in r.text
    with rt.session_factory() as db:
        [event] = audit_events(db, "login_failed")
        assert event.details["cause"] == "par_refused"
        assert event.details["error"] == "invalid_request"
        assert db.scalar(select(func.count()).select_from(OidcFlow)) == 0


def test_a_broker_that_cannot_be_reached_is_audited(portti_with) -> None:  # OIDC-8
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Nobody listens on the port any more.
    client, rt = portti_with(f"https://127.0.0.1:{port}", None)
    r = _press_login(client)
    assert r.status_code == 400
    with rt.session_factory() as db:
        [event] = audit_events(db, "login_failed")
        assert event.details["cause"] == "provider_unreachable"
