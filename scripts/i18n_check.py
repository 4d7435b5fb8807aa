"""Check Portti's message catalogues against the code (run by ``make lint``).

Extracts every message marked in the Python code, the Jinja templates and the app's texts
(``babel.cfg``) and fails when a catalogue (``src/portti/locale/<lang>/LC_MESSAGES/
messages.po``) misses one, when a Finnish or Swedish message is untranslated or fuzzy, when a
translation loses or adds a placeholder, or when a catalogue holds a message no longer used.

    python scripts/i18n_check.py            # check; exit status 1 with a list of problems
    python scripts/i18n_check.py --update   # add new messages (untranslated), drop unused ones
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "src" / "portti" / "locale"
LANGUAGES = ("fi", "sv", "en")
# English is the source language: an empty English translation means "the message id itself".
MUST_TRANSLATE = ("fi", "sv")
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "_l": None,
    "lazy_gettext": None,
    "lazy_ngettext": (1, 2),
}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w+)\}")


def extract(root: Path = ROOT) -> Catalog:
    """Every message the code, templates and app texts use."""
    with (root / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    catalog = Catalog(project="Portti", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(root), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        catalog.add(
            message,
            None,
            [(filename, lineno)],
            auto_comments=comments,
            context=context,
        )
    return catalog


def _ids(catalog: Catalog) -> set[tuple[str, str | None]]:
    return {(m.id if isinstance(m.id, str) else m.id[0], m.context) for m in catalog if m.id != ""}


def _placeholders(text: str) -> set[str]:
    return {a or b for a, b in PLACEHOLDER.findall(text)}


def _texts(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def check_catalogue(language: str, used: Catalog, po: Catalog) -> list[str]:
    problems = []
    wanted, held = _ids(used), _ids(po)
    for msgid, _ in sorted(wanted - held):
        problems.append(f"{language}: missing message {msgid!r}")
    for msgid, _ in sorted(held - wanted):
        problems.append(f"{language}: unused message {msgid!r}")
    for msgid in po.obsolete:
        problems.append(f"{language}: obsolete message {msgid!r}")
    for m in po:
        if m.id == "":
            continue
        msgid = m.id if isinstance(m.id, str) else m.id[0]
        strings = [s for s in _texts(m.string) if s]
        if language in MUST_TRANSLATE and (not strings or len(strings) < len(_texts(m.string))):
            problems.append(f"{language}: untranslated message {msgid!r}")
            continue
        if m.fuzzy:
            problems.append(f"{language}: fuzzy (unchecked) translation of {msgid!r}")
        source = set().union(*(_placeholders(t) for t in _texts(m.id)))
        for s in strings:
            if _placeholders(s) - source or (source - _placeholders(s) - {"num"}):
                problems.append(f"{language}: placeholders differ in the translation of {msgid!r}")
    return problems


def catalogue_path(language: str, locale_dir: Path = LOCALE_DIR) -> Path:
    return locale_dir / language / "LC_MESSAGES" / "messages.po"


def read_catalogue(path: Path, language: str) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=language)


def check(root: Path = ROOT, locale_dir: Path = LOCALE_DIR) -> list[str]:
    used = extract(root)
    problems = []
    for language in LANGUAGES:
        path = catalogue_path(language, locale_dir)
        if not path.exists():
            problems.append(f"{language}: no catalogue at {path}")
            continue
        problems += check_catalogue(language, used, read_catalogue(path, language))
    return problems


def update(root: Path = ROOT, locale_dir: Path = LOCALE_DIR) -> None:
    used = extract(root)
    for language in LANGUAGES:
        path = catalogue_path(language, locale_dir)
        if path.exists():
            po = read_catalogue(path, language)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            po = Catalog(locale=language, project="Portti")
        po.update(used, no_fuzzy_matching=True)
        po.obsolete.clear()
        po.fuzzy = False
        with path.open("wb") as f:
            write_po(f, po, width=100, omit_header=False, no_location=True, sort_output=True)


def main(argv: list[str] | None = None, *, locale_dir: Path = LOCALE_DIR) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="add new and drop unused messages")
    args = parser.parse_args(argv)
    if args.update:
        update(ROOT, locale_dir)
    problems = check(ROOT, locale_dir)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(
            f"{len(problems)} problem(s) in the message catalogues "
            "(python scripts/i18n_check.py --update adds new messages, then translate them)",
            file=sys.stderr,
        )
        return 1
    print(f"Message catalogues are complete: {len(extract())} messages in {', '.join(LANGUAGES)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
