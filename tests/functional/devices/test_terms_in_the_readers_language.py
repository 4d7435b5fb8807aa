"""The terms the app shows are in the phone's language; the version accepted is the same
(UX-17)."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize(
    ("language", "heading", "phrase"),
    [
        ("fi", "# Portin käyttöehdot", "Kirjaudu ulos kaikilta laitteilta"),
        ("sv", "# Portti – användarvillkor", "Logga ut från alla enheter"),
        ("en", "# Portti terms of service", "Log out from all devices"),
    ],
)
def test_the_terms_are_in_the_readers_language(client, language, heading, phrase):  # UX-17
    r = client.get("/app-api/v1/terms", headers={"Accept-Language": language})
    assert r.status_code == 200, r.text
    terms = r.json()
    assert terms["language"] == language
    assert terms["text"].startswith(heading) and phrase in " ".join(terms["text"].split())
    english = client.get("/app-api/v1/terms", headers={"Accept-Language": "en"}).json()
    assert terms["version"] == english["version"]
    # The version is the answer's own field, shown once above the text by the app and the web
    # page, not repeated in the text (UX-23).
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", terms["version"])
    assert terms["version"] not in terms["text"]


def test_a_language_without_its_own_terms_reads_the_english(client):  # UX-17
    terms = client.get("/app-api/v1/terms", headers={"Accept-Language": "de"}).json()
    assert terms["language"] == "en" and terms["text"].startswith("# Portti terms of service")
