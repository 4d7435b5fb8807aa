"""The terms shown in the app name what the app has, in its own words (UX-3): the buttons a
person presses by the names they have in the app, where they are, and the version once (the app
and the web page show it above the text)."""

from __future__ import annotations

import pytest

from portti.accounts.terms_text import current_terms_text
from portti.i18n import app_texts

LANGUAGES = ("en", "fi", "sv")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_terms_name_the_apps_buttons_as_the_app_does(language: str) -> None:  # UX-3 UX-23
    text = " ".join(current_terms_text(language)[1].split())  # as the paragraphs read
    texts = app_texts(language)
    for key in ("log_out_all", "not_me"):
        assert f'"{texts[key]}"' in text, (language, texts[key])


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_version_is_not_repeated_in_the_text(language: str) -> None:  # UX-3 UX-23
    version, text = current_terms_text(language)
    assert version not in text


@pytest.mark.parametrize(
    ("language", "not_in_the_app"),
    [
        ("en", ["in your settings", "decline"]),
        ("fi", ["asetuksista", "hylkää", "rekisteröitymiskoodeja"]),
        ("sv", ["i inställningarna", "avböja", "registreringskoder"]),
    ],
)
def test_the_terms_speak_of_nothing_the_app_does_not_have(
    language: str, not_in_the_app: list[str]
) -> None:  # UX-3 UX-23
    _, text = current_terms_text(language)
    for words in not_in_the_app:
        assert words not in text, (language, words)
