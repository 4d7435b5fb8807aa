"""Support registers business software as a machine client on the Applications page in Chromium,
by role and label (PRV-1): after the step-up, scopes and "all companies"; the secret is on the
answer page only."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portti.oidc_provider.models import OidcClient
from support.db import fresh

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

FI_BANK = "Finnish bank ID or mobile certificate"
SUPPORT = "Sanna Tuki"


def step_up(page: Page, who: str, next_: str) -> None:
    page.goto("/login")
    page.get_by_role("button", name=f"Log in with {FI_BANK}").click()
    page.get_by_label(who).check()
    page.get_by_role("button", name="Log in", exact=True).click()
    page.goto(f"/step-up?next={next_}")
    page.get_by_role("button", name=f"Authenticate with {FI_BANK}").click()
    page.get_by_label(who).check()
    page.get_by_role("button", name="Log in", exact=True).click()


def test_support_registers_a_machine_client_on_the_applications_page(
    page, live_db, tmp_path
) -> None:  # PRV-1
    step_up(page, SUPPORT, "/admin/applications")
    page.get_by_role("link", name="Machine clients (business software)").click()
    expect(page.get_by_role("heading", name="Register a machine client")).to_be_visible()
    page.get_by_label("Name of the business software").fill("Numerot payroll (browser test)")
    page.get_by_label("How the business software authenticates").select_option(
        "client_secret_basic"
    )
    page.get_by_label("companies:write").check()
    page.get_by_label("members:write").check()
    page.get_by_label("All companies, and it may create companies").check()
    page.get_by_role("button", name="Add machine client").click()
    expect(
        page.get_by_role("heading", name="Numerot payroll (browser test) is registered")
    ).to_be_visible()
    secret = page.locator("#client-secret").inner_text()
    assert len(secret) >= 40
    row = page.get_by_role("row").filter(has_text="Numerot payroll (browser test)")
    expect(row).to_contain_text("all companies; may create companies")
    expect(row).to_contain_text("companies:write")
    page.screenshot(path=str(tmp_path / "machine-clients.png"), full_page=True)

    # The secret is not on the page once it is loaded again.
    page.goto("/admin/applications/machines")
    expect(page.get_by_role("heading", name="Machine clients (business software)")).to_be_visible()
    assert secret not in page.content()
    fresh(live_db)
    client = live_db.scalars(
        select(OidcClient).where(OidcClient.name == "Numerot payroll (browser test)")
    ).one()
    assert client.kind == "machine" and client.company_ids is None
    assert client.allowed_scopes == ["companies:write", "members:read", "members:write"]
