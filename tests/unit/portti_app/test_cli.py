"""What the reference app shows before the person approves a login (WEB-2, SEC-13)."""

from __future__ import annotations

from typing import Any

from portti_app.cli import relay_warning, show_request

ASKING: dict[str, Any] = {
    "approval_id": "A" * 22,
    "purpose": "login",
    "service": "Portti",
    "browser": "Chrome on Windows",
    "place": "Sweden",
    "country": "SE",
    "origin": "https://portti.example",
    "service_origin": "https://portti.example",
    "origin_matches": True,
    "requested_at": "2026-12-01T01:40:00Z",
    "numbers": [17, 42, 86],
}


def test_the_request_shows_site_and_country_without_a_warning_on_the_service_itself(
    capsys,
):  # SEC-13 WEB-2
    show_request(ASKING)
    shown = capsys.readouterr().out
    assert "Site" in shown and "https://portti.example" in shown
    assert "Country" in shown and "Sweden" in shown
    assert "⚠" not in shown
    assert relay_warning(ASKING) is None


def test_a_login_asked_for_on_another_site_is_flagged(capsys):  # SEC-13 WEB-2
    relayed = {**ASKING, "origin": "https://portti-login.example", "origin_matches": False}
    show_request(relayed)
    shown = " ".join(capsys.readouterr().out.split())
    assert "https://portti-login.example" in shown
    assert "⚠ This login was asked for on https://portti-login.example, not on" in shown
    assert "This wasn't me" in shown


def test_a_login_from_no_page_says_the_site_is_unknown(capsys):  # SEC-13
    show_request({**ASKING, "origin": None, "origin_matches": False})
    shown = " ".join(capsys.readouterr().out.split())
    assert "Site unknown" in shown
    assert "a page that did not say its address" in shown
