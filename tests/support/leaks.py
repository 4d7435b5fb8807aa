"""Texts of another language on a page (I18N-1, UX-22): the catalogues tell which texts belong
to which language, so a Swedish page showing an English or Finnish message is found, whether
read from the HTML (functional tests) or from what a browser shows (the page walk)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from html.parser import HTMLParser

LANGUAGES = ("fi", "sv", "en")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
TAG = re.compile(r"<[^>]+>")
ATTRIBUTES = ("aria-label", "data-confirm", "data-expired-text", "data-warn-on-leave", "title")


@cache
def catalogue(language: str) -> dict[str, str]:
    """English message id → its text in ``language`` (singular forms)."""
    from babel.messages.pofile import read_po

    from portti.i18n import LOCALE_DIR

    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        po = read_po(fh, locale=language)
    out = {}
    for m in po:
        if not m.id:
            continue
        msgid = m.id if isinstance(m.id, str) else m.id[0]
        text = m.string if isinstance(m.string, str) else (m.string[0] if m.string else "")
        out[msgid] = text or msgid
    return out


def _plain(text: str) -> list[str]:
    """The literal pieces of a message between its placeholders, without markup."""
    return [p.strip(" .,:;()") for p in PLACEHOLDER.split(TAG.sub("", text)) if p.strip(" .,:;()")]


@cache
def foreign_texts(language: str) -> tuple[frozenset[str], frozenset[str]]:
    """Texts that mean a message is shown in a language other than ``language``: whole texts
    (a text node equal to one is a leak) and longer fragments (found anywhere is a leak)."""
    own = set(catalogue(language).values())
    others = [lang for lang in LANGUAGES if lang != language]
    wholes: set[str] = set()
    fragments: set[str] = set()
    for other in others:
        for msgid, text in catalogue(other).items():
            if text == catalogue(language)[msgid] or text in own:
                continue  # the same words in both languages ("Portti", "Status:")
            for piece in _plain(text):
                if piece in own or any(piece in o for o in own):
                    continue
                if PLACEHOLDER.search(text) is None and piece == TAG.sub("", text).strip(" .,:;()"):
                    wholes.add(piece)
                if len(piece.split()) >= 4:
                    fragments.add(piece)
    return frozenset(wholes), frozenset(fragments)


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[str] = []
        self.lang: str | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang")
        if tag in ("script", "style", "option") and not (tag == "option" and values.get("lang")):
            self._skip += tag in ("script", "style")
        for name in ATTRIBUTES:
            if values.get(name):
                self.nodes.append(str(values[name]).strip())

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.nodes.append(" ".join(data.split()))


def visible(page: str) -> _Visible:
    parser = _Visible()
    parser.feed(page)
    return parser


def leaks(page: str, language: str) -> list[str]:
    """Texts of another language on a page (HTML) in ``language``."""
    return foreign_in(visible(page).nodes, language)


def foreign_in(nodes: Iterable[str], language: str) -> list[str]:
    """Of the texts a page shows (text nodes, labels), those of a language other than
    ``language``."""
    shown = [" ".join(n.split()) for n in nodes if n.strip()]
    wholes, fragments = foreign_texts(language)
    text = " ".join(shown)
    found = [n for n in shown if n.strip(" .,:;()") in wholes]
    found += [frag for frag in fragments if frag in text]
    return sorted(set(found))
