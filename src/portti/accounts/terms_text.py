"""The terms of service (APP-3, UX-3): versioned Markdown files shipped in ``accounts/terms/``,
``<version>.md`` in English (the version of record) and ``<version>.<language>.md``."""

from __future__ import annotations

import functools
import re
from importlib import resources

TERMS_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.md$")


@functools.cache
def _terms() -> tuple[tuple[str, str], ...]:
    """(version, text) of every shipped terms file, oldest first; the file name is the version."""
    folder = resources.files("portti.accounts").joinpath("terms")
    files = sorted(f.name for f in folder.iterdir() if TERMS_FILE.match(f.name))
    if not files:
        raise RuntimeError("portti.accounts: no terms files are installed")
    return tuple(
        (name.removesuffix(".md"), folder.joinpath(name).read_text(encoding="utf-8"))
        for name in files
    )


@functools.cache
def _terms_translation(version: str, language: str | None) -> str | None:
    """The terms of ``version`` in ``language`` (UX-3), or None when none is shipped."""
    if not language or not language.isalpha() or len(language) > 3:
        return None
    path = resources.files("portti.accounts").joinpath("terms", f"{version}.{language}.md")
    return path.read_text(encoding="utf-8") if path.is_file() else None


def current_terms_text(language: str | None = None) -> tuple[str, str]:
    """The current terms' version and text, in ``language`` where a translation is shipped
    (``<version>.<language>.md``), else in English: the version accepted is the same."""
    version, text = _terms()[-1]
    return version, _terms_translation(version, language) or text


def terms_text(version: str, language: str) -> str:
    """The terms of ``version`` in ``language`` where a translation is shipped, else in
    English (the version of record)."""
    return _terms_translation(version, language) or dict(_terms())[version]
