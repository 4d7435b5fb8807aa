"""Support registers a single-page application on the Applications page in Chromium, by role
and label: allowed scopes with offline_access, web origins, the ID token algorithm and the
first-party flag (OIDC-7); a wildcard redirect URI gets a readable error page (SEC-23)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portti.oidc_provider.models import OidcClient
from support.db import fresh

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

FI_BANK = "Finnish bank ID or mobile certificate"
SUPPORT = "Sanna Tuki"


def log_in(page: Page, who: str) -> None:
    page.goto("/login")
    page.get_by_role("button", name=f"Log in with {FI_BANK}").click()
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label(who).check()
    page.get_by_role("button", name="Log in", exact=True).click()


def test_support_registers_a_single_page_app_with_the_new_settings(
    page, live_db, tmp_path
) -> None:  # OIDC-7 SEC-23
    log_in(page, SUPPORT)
    page.goto("/admin/applications")
    expect(page.get_by_role("heading", name="Register an application")).to_be_visible()
    page.get_by_label("Name").fill("Numerot SPA (browser test)")
    page.get_by_label("Redirect URIs (one a line, matched exactly)").fill("https://*.example/cb")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("alert")).to_contain_text("must not contain a wildcard")

    # Registering needs a fresh strong authentication.
    page.goto("/step-up?next=/admin/applications")
    page.get_by_role("button", name=f"Authenticate with {FI_BANK}").click()
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label(SUPPORT).check()
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("heading", name="Register an application")).to_be_visible()
    page.get_by_label("Name").fill("Numerot SPA (browser test)")
    page.get_by_label("Redirect URIs (one a line, matched exactly)").fill("https://spa.example/")
    page.get_by_label("Client authentication").select_option("none")
    page.get_by_label("offline_access").check()
    page.get_by_label("Web origins of its single-page app").fill("https://spa.example")
    page.get_by_label("ID token signing algorithm").select_option("ES256")
    page.get_by_label("Portti's own application: people are not asked for consent").check()
    page.get_by_role("button", name="Register").click()
    expect(
        page.get_by_role("heading", name="Numerot SPA (browser test) is registered")
    ).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Numerot SPA (browser test)")
    expect(row).to_contain_text("offline_access")
    expect(row).to_contain_text("first-party")
    page.screenshot(path=str(tmp_path / "applications.png"), full_page=True)

    fresh(live_db)
    client = live_db.scalars(
        select(OidcClient).where(OidcClient.name == "Numerot SPA (browser test)")
    ).one()
    assert client.allowed_scopes == ["openid", "profile", "email", "companies", "offline_access"]
    assert client.web_origins == ["https://spa.example"]
    assert client.id_token_signed_response_alg == "ES256" and client.first_party is True


def test_the_api_reference_renders_from_portti_itself(page, tmp_path) -> None:
    """/api/docs: Swagger UI from Portti's own assets under its Content-Security-Policy (the
    fixture fails on a refused script or style), listing the API's operations."""
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto("/api/docs")
    expect(page).to_have_title("Portti API reference")
    expect(page.get_by_role("heading", name="Portti")).to_be_visible()
    expect(page.get_by_text("/api/v1/companies").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "api-docs.png"), full_page=False)
    base = page.url.split("/api/docs")[0]
    assert requests and all(url.startswith(base) for url in requests), requests
