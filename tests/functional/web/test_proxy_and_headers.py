"""Behind a reverse proxy (OPS-15) and the transport and caching headers (SEC-30, SEC-31)."""

from __future__ import annotations

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy import select

from portti.app import create_app
from portti.audit.models import AuditEvent
from portti.config import Settings
from portti.web.deps import client_ip
from portti.web.proxy import forwarded_client, parse_networks
from support.network import client_at
from support.web import HTML, force_login, login


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"trusted_proxies": ["127.0.0.0/8", "10.0.0.0/8"]})


@pytest.fixture
def seen(app):  # type: ignore[no-untyped-def]
    """A route that answers what the application believes about the request."""

    def whoami(request: Request) -> dict[str, object]:
        return {
            "ip": client_ip(request),
            "scheme": request.url.scheme,
            "host": request.url.hostname,
        }

    app.add_api_route("/test/whoami", whoami)
    return lambda peer, **headers: client_at(app, peer).get("/test/whoami", headers=headers).json()


def test_trusted_proxies_are_networks_not_only_exact_addresses(seen):  # OPS-15
    forwarded = {
        "X-Forwarded-For": "198.51.100.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "portti.example",
    }
    # 127.0.0.5 and 10.2.3.4 are inside the configured networks (only 127.0.0.1 worked before).
    for proxy in ("127.0.0.5", "10.2.3.4"):
        assert seen(proxy, **forwarded) == {
            "ip": "198.51.100.7",
            "scheme": "https",
            "host": "portti.example",
        }


def test_forwarded_headers_from_anyone_else_are_ignored(seen):  # OPS-15
    forged = {
        "X-Forwarded-For": "198.51.100.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example",
    }
    assert seen("203.0.113.9", **forged) == {
        "ip": "203.0.113.9",
        "scheme": "http",
        "host": "testserver",
    }


def test_the_client_is_the_rightmost_untrusted_hop(seen):  # OPS-15
    # The client claimed 1.2.3.4 itself; the outer proxy (10.1.1.1) saw 198.51.100.7.
    chain = {"X-Forwarded-For": "1.2.3.4, 198.51.100.7, 10.1.1.1"}
    assert seen("127.0.0.1", **chain)["ip"] == "198.51.100.7"
    nets = parse_networks(["10.0.0.0/8"])
    assert forwarded_client("1.2.3.4, 10.0.0.2", nets) == "1.2.3.4"
    assert forwarded_client("2001:db8::1", nets) == "2001:db8::1"


def test_the_audit_log_records_the_forwarded_client(app, client, world, db):  # OPS-15
    browser = client_at(app, "10.9.8.7")
    browser.headers["X-Forwarded-For"] = "198.51.100.23"
    assert login(browser, world.kh_a).status_code == 303
    ips = db.scalars(select(AuditEvent.ip).where(AuditEvent.action == "login_succeeded")).all()
    assert ips == ["198.51.100.23"]


@pytest.mark.parametrize("bad", ["not-an-ip", "10.0.0.0/33", "localhost"])
def test_a_proxy_entry_that_is_no_address_stops_the_start(bad):  # OPS-15
    from portti.config import SettingsError, load_settings

    with pytest.raises(SettingsError) as exc:
        load_settings(mode="test", trusted_proxies=f"127.0.0.1,{bad}")
    assert str(exc.value).startswith("PORTTI_TRUSTED_PROXIES: ")
    assert repr(bad) in str(exc.value)


def test_trusted_proxies_accept_a_comma_list_or_json(monkeypatch):  # OPS-15
    monkeypatch.setenv("PORTTI_MODE", "test")
    monkeypatch.setenv("PORTTI_TRUSTED_PROXIES", "127.0.0.0/8, ::1")
    assert Settings().trusted_proxies == ["127.0.0.0/8", "::1"]
    monkeypatch.setenv("PORTTI_TRUSTED_PROXIES", '["10.0.0.0/8"]')
    assert Settings().trusted_proxies == ["10.0.0.0/8"]


def test_hsts_only_when_the_base_url_is_https(settings, clock, client):  # SEC-30
    assert "strict-transport-security" not in client.get("/login", headers=HTML).headers
    secure = create_app(
        settings.model_copy(update={"base_url": "https://portti.example"}), clock=clock
    )
    with TestClient(secure, base_url="https://portti.example") as c:
        for path in ("/login", "/healthz", "/static/app.css", "/no/such/page"):
            r = c.get(path, headers=HTML)
            assert r.headers["strict-transport-security"] == "max-age=31536000", path
    secure.state.runtime.engine.dispose()


def test_authenticated_responses_are_not_stored(client, world):  # SEC-31
    anonymous = client.get("/static/app.css")
    assert "no-store" not in anonymous.headers.get("cache-control", "")
    force_login(client, world.kh_a)
    pages = [
        f"/c/{world.client_a.id}/users",
        "/settings",
        f"/api/v1/companies/{world.client_a.id}/members",
    ]
    for path in pages:
        r = client.get(path, headers=HTML if not path.startswith("/api/") else {})
        assert r.status_code == 200, (path, r.text)
        assert r.headers["cache-control"] == "no-store", path
    # Even a refusal under the API, and the app's bearer-token API.
    assert client.get("/api/v1/companies/999999/members").headers["cache-control"] == "no-store"
    app_api = client.get("/app-api/v1/me", headers={"Authorization": "Bearer nothing"})
    assert app_api.headers["cache-control"] == "no-store"
    # Static files keep their own caching, logged in or not.
    assert "no-store" not in client.get("/static/app.css").headers.get("cache-control", "")
    # A handler that chose its own policy keeps it (the public key set).
    assert client.get("/.well-known/jwks.json").headers["cache-control"].startswith("public")
