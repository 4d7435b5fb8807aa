"""The catalogue check that ``make lint`` runs (scripts/i18n_check.py) passes on the catalogues
as they are, and fails on each way a catalogue can fall behind the code."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.pofile import write_po

ROOT = Path(__file__).resolve().parents[3]


def _load_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("i18n_check", ROOT / "scripts" / "i18n_check.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _load_check()


@pytest.fixture(scope="module")
def used():  # type: ignore[no-untyped-def]
    return check.extract(ROOT)


@pytest.fixture
def locale_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "src" / "portti" / "locale", tmp_path / "locale")
    return tmp_path / "locale"


def _edit(locale_dir: Path, language: str, change) -> None:  # type: ignore[no-untyped-def]
    path = check.catalogue_path(language, locale_dir)
    catalog = check.read_catalogue(path, language)
    change(catalog)
    with path.open("wb") as f:
        write_po(f, catalog, no_location=True)


def _problems(used, locale_dir: Path) -> list[str]:  # type: ignore[no-untyped-def]
    problems = []
    for language in check.LANGUAGES:
        path = check.catalogue_path(language, locale_dir)
        problems += check.check_catalogue(language, used, check.read_catalogue(path, language))
    return problems


def test_the_catalogues_hold_every_message_of_the_code_translated(used) -> None:  # type: ignore[no-untyped-def]  # I18N-1
    assert check.check(ROOT) == []
    # Templates, Python and the app's texts are all extracted.
    ids = {m.id for m in used if m.id}
    assert "Users and roles" in ids  # a template
    assert "The sign-up code is not valid" in ids  # errors.py
    assert "I have a sign-up code" in ids  # the app's texts.js


def test_a_message_missing_from_a_catalogue_fails_the_check(used, locale_copy) -> None:  # type: ignore[no-untyped-def]  # I18N-1
    _edit(locale_copy, "fi", lambda c: c.delete("Users and roles"))
    assert _problems(used, locale_copy) == ["fi: missing message 'Users and roles'"]


def test_an_unused_message_fails_the_check(used, locale_copy) -> None:  # type: ignore[no-untyped-def]  # I18N-1
    _edit(locale_copy, "sv", lambda c: c.add("A message nobody uses", "Ett meddelande"))
    assert _problems(used, locale_copy) == ["sv: unused message 'A message nobody uses'"]


def test_an_untranslated_finnish_or_swedish_message_fails_the_check(used, locale_copy) -> None:  # type: ignore[no-untyped-def]  # I18N-1
    def blank(catalog) -> None:  # type: ignore[no-untyped-def]
        catalog["Send invitation"].string = ""

    _edit(locale_copy, "sv", blank)
    assert _problems(used, locale_copy) == ["sv: untranslated message 'Send invitation'"]


def test_a_translation_that_drops_a_placeholder_fails_the_check(used, locale_copy) -> None:  # type: ignore[no-untyped-def]  # I18N-1
    def drop(catalog) -> None:  # type: ignore[no-untyped-def]
        catalog["Users of %(company)s"].string = "Yrityksen käyttäjät"

    _edit(locale_copy, "fi", drop)
    assert _problems(used, locale_copy) == [
        "fi: placeholders differ in the translation of 'Users of %(company)s'"
    ]


def test_the_script_exits_non_zero_on_a_broken_catalogue(locale_copy, capsys) -> None:  # type: ignore[no-untyped-def]  # I18N-1
    _edit(locale_copy, "fi", lambda c: c.delete("Add user"))
    assert check.main([], locale_dir=locale_copy) == 1
    assert "fi: missing message 'Add user'" in capsys.readouterr().err


def test_english_needs_no_translation_but_is_checked_for_unused_messages(used, locale_copy) -> None:  # type: ignore[no-untyped-def]  # I18N-1
    english = check.read_catalogue(check.catalogue_path("en", locale_copy), "en")
    assert all(not m.string for m in english if m.id and isinstance(m.id, str))
    _edit(locale_copy, "en", lambda c: c.add("Gone", ""))
    assert _problems(used, locale_copy) == ["en: unused message 'Gone'"]
