"""Languages: Finnish, Swedish and English message catalogues, and the language of a request.

The catalogues are ``locale/<lang>/LC_MESSAGES/messages.po`` (Babel). They are read and
compiled in memory on first use, so a fresh checkout needs no build step; ``scripts/
i18n_check.py`` (run by ``make lint``) fails on a message that is missing, untranslated or no
longer used.

The language of a request is chosen, first match wins, from: the person's own setting
(``persons.language``), the browser's choice on the language switcher (a cookie), the
browser's ``Accept-Language``, the company's default (``companies.default_language``), and
English. Middleware (``web/middleware.py``) starts a :class:`LocaleChoice` per request in a
context variable; dependencies that learn the person or the company refine it. Code outside a
request (e-mail to an invitee, the outbox) picks a language explicitly with :func:`use_locale`.

Messages in Python are marked with :func:`lazy_gettext` (``_l``): a :class:`LazyText` is a
``str`` (its English text, so it works anywhere a string does) that also knows its message id
and arguments, and :func:`localize` turns it into the current language where a person reads it
(problem details, pages, SMS). Dates, times and numbers are written the reader's way, in
Finnish time (``fmt_date``, ``fmt_datetime``, ``fmt_number``).
"""

from __future__ import annotations

import io
import json
import re
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Self

from babel import Locale, negotiate_locale
from babel.dates import format_date, format_datetime, get_timezone
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from markupsafe import Markup

LOCALE_DIR = Path(__file__).parent / "locale"
SUPPORTED: tuple[str, ...] = ("fi", "sv", "en")
DEFAULT = "en"
# Each language by its own name, as a language switcher shows them.
LANGUAGE_NAMES: Mapping[str, str] = {"fi": "suomi", "sv": "svenska", "en": "English"}
# The browser's choice on the language switcher, for pages before login.
LANGUAGE_COOKIE = "portti_lang"


def supported(code: str | None) -> str | None:
    """The supported language ``code`` names (``sv-FI`` → ``sv``), or None."""
    if not code:
        return None
    base = code.strip().replace("_", "-").split("-")[0].lower()
    return base if base in SUPPORTED else None


@lru_cache(maxsize=512)
def from_accept_language(header: str | None) -> str | None:
    """The best supported language of an ``Accept-Language`` header, or None. Browsers send a
    handful of distinct headers: the answer is kept (parsing one costs ~19 µs, a lookup under 1 µs)."""
    if not header:
        return None
    wanted: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            name, _, value = p.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag and q > 0:
            wanted.append((-q, i, tag.strip()))
    preferred = [tag for _, _, tag in sorted(wanted)]
    # Babel matches ``sv-SE`` to ``sv`` and ``*`` to nothing; a region alone is tried too.
    found = negotiate_locale(preferred, list(SUPPORTED), sep="-")
    if found:
        return found
    for tag in preferred:
        if lang := supported(tag):
            return lang
    return None


@dataclass
class LocaleChoice:
    """The language of one request, refined as more is known about who is asking."""

    language: str = DEFAULT
    # Chosen by the person or their browser: a company's default does not override it.
    explicit: bool = False
    by_person: bool = False

    def person_setting(self, language: str | None) -> None:
        if lang := supported(language):
            self.language = lang
            self.explicit = self.by_person = True

    def company_default(self, language: str | None) -> None:
        if not self.explicit and (lang := supported(language)):
            self.language = lang


_current: ContextVar[LocaleChoice | None] = ContextVar("portti_locale", default=None)


def begin_request(cookie: str | None, accept_language: str | None) -> LocaleChoice:
    lang = supported(cookie) or from_accept_language(accept_language)
    choice = LocaleChoice(language=lang or DEFAULT, explicit=lang is not None)
    _current.set(choice)
    return choice


def current_choice() -> LocaleChoice | None:
    return _current.get()


def current_language() -> str:
    choice = _current.get()
    return choice.language if choice else DEFAULT


@contextmanager
def use_locale(language: str | None) -> Iterator[str]:
    """Render in ``language`` (a supported one, else English) for the duration."""
    lang = supported(language) or DEFAULT
    token = _current.set(LocaleChoice(language=lang, explicit=True))
    try:
        yield lang
    finally:
        _current.reset(token)


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalogue of ``language``, read from its ``.po`` file once."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as f:
        catalog = read_po(f, locale=language)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf)


def gettext(message: str, /, **variables: Any) -> str:
    text = translations(current_language()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, /, **variables: Any) -> str:
    text = translations(current_language()).ngettext(singular, plural, n)
    variables.setdefault("num", n)
    return text % variables


class LazyText(str):
    """A message translated when read: its ``str`` value is the English text."""

    msgid: str
    variables: dict[str, Any]

    def __new__(cls, msgid: str, /, **variables: Any) -> Self:
        obj = super().__new__(cls, msgid % variables if variables else msgid)
        obj.msgid = msgid
        obj.variables = variables
        return obj

    plural: str | None = None
    n: int = 0

    def translated(self, language: str | None = None) -> str:
        catalogue = translations(language or current_language())
        if self.plural is not None:
            text = catalogue.ngettext(self.msgid, self.plural, self.n)
        else:
            text = catalogue.gettext(self.msgid)
        variables = {k: localize(v, language) for k, v in self.variables.items()}
        return text % variables if variables else text


def lazy_gettext(message: str, /, **variables: Any) -> LazyText:
    """Mark a message for the catalogues; it is translated where it is shown (``localize``)."""
    return LazyText(message, **variables)


class CountryText(LazyText):
    """A country in a message: in English the phrase given ("Swedish personal identity
    number"), in Finnish and Swedish the country's own name in that language (CLDR), which the
    catalogues' sentences put in brackets so that no adjective needs inflecting."""

    country: str

    def __new__(cls, english: str, /, country: str) -> Self:
        obj = super().__new__(cls, english)
        obj.country = country
        return obj

    def translated(self, language: str | None = None) -> str:
        lang = language or current_language()
        if lang == "en":
            return str.__str__(self)
        return str(Locale.parse(lang).territories.get(self.country, self.country))


def lazy_ngettext(singular: str, plural: str, n: int, /, **variables: Any) -> LazyText:
    """A message with singular and plural forms (``%(num)d`` is ``n``), translated when read."""
    variables.setdefault("num", n)
    obj = LazyText.__new__(LazyText, singular if n == 1 else plural, **variables)
    obj.msgid, obj.plural, obj.n = singular, plural, n
    return obj


_l = lazy_gettext


def localize(value: Any, language: str | None = None) -> Any:
    """A marked message in the current (or given) language; anything else unchanged, except
    a plain string that is a message id of the catalogue, which is translated too."""
    if isinstance(value, LazyText):
        return value.translated(language)
    if isinstance(value, str) and value and not isinstance(value, Markup):
        found = translations(language or current_language()).gettext(value)
        return found
    return value


def _jinja_gettext(message: str) -> str:
    # Jinja's newstyle gettext fills in the variables (escaping them) itself.
    return translations(current_language()).gettext(message)


def _jinja_ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language()).ngettext(singular, plural, n)


APP_TEXTS = Path(__file__).parent / "mobile" / "static" / "texts.js"
_APP_TEXT = re.compile(r'^\s+(\w+): ("(?:[^"\\]|\\.)*"),?\s*$')


def _english_app_texts(source: str) -> Iterator[tuple[int, str, str]]:
    """(line, key, English text) of the ``en`` catalogue in the app's texts.js."""
    inside = False
    for lineno, line in enumerate(source.splitlines(), 1):
        if line.strip() == "en: {":
            inside = True
        elif inside and line.strip().startswith("}"):
            return
        elif inside and (m := _APP_TEXT.match(line)):
            yield lineno, m.group(1), json.loads(m.group(2))


def _app_messages(source: str) -> Iterator[tuple[int, str, str | tuple[str, str]]]:
    """(line, key, English text) of the app's texts, a counting pair (``key_one`` and
    ``key_other``) as one message ``key`` with its singular and plural."""
    texts = list(_english_app_texts(source))
    by_key = {key: text for _, key, text in texts}
    for lineno, key, text in texts:
        if key.endswith("_one") and (other := by_key.get(key[: -len("_one")] + "_other")):
            yield lineno, key[: -len("_one")], (text, other)
        elif not (key.endswith("_other") and key[: -len("_other")] + "_one" in by_key):
            yield lineno, key, text


def extract_app_texts(
    fileobj: Any, keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str, str | tuple[str, str], list[str]]]:
    """A Babel extractor (babel.cfg) for the app's texts: each English text is a message id, a
    counting pair a message with plural forms (UX-5)."""
    for lineno, key, text in _app_messages(fileobj.read().decode("utf-8")):
        yield lineno, "ngettext" if isinstance(text, tuple) else "gettext", text, [f"app: {key}"]


@cache
def app_texts(language: str) -> dict[str, str]:
    """The app's texts (key → text) in ``language``; a counting pair as ``key_one`` and
    ``key_other``, the language's forms for one and for many (the app picks by the count)."""
    catalogue = translations(language)
    texts: dict[str, str] = {}
    for _, key, text in _app_messages(APP_TEXTS.read_text("utf-8")):
        if isinstance(text, tuple):
            texts[f"{key}_one"] = catalogue.ngettext(text[0], text[1], 1)
            texts[f"{key}_other"] = catalogue.ngettext(text[0], text[1], 2)
        else:
            texts[key] = catalogue.gettext(text)
    return texts


def language_name(code: str | None, language: str | None = None) -> str:
    """A language named in the reader's language, as a sentence uses it ("på engelska",
    "kielellä englanti"), from CLDR; the switcher keeps each language's own name (UX-17)."""
    if not code:
        return ""
    names = Locale.parse(language or current_language()).languages
    return str(names.get(code, LANGUAGE_NAMES.get(code, code)))


def babel_locale(language: str | None = None) -> Locale:
    return Locale.parse(language or current_language())


def install_jinja(env: Any) -> None:
    """Jinja's i18n extension over the current request's language (``{% trans %}``, ``_()``)."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(_jinja_gettext, _jinja_ngettext, newstyle=True)
    env.globals["current_language"] = current_language
    env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
    env.globals["language_name"] = language_name
    env.globals["localize"] = localize
    env.filters["localize"] = localize


# -- dates, times and numbers -----------------------------------------------------------------

# Times are shown in Finnish time, where the companies are.
TIMEZONE = get_timezone("Europe/Helsinki")
# CLDR's Finnish variants of each language: day.month.year where the language allows it
# (English keeps the day.month.year order its readers in Finland know).
_LOCALES = {"fi": "fi_FI", "sv": "sv_FI", "en": "en_FI"}
_DATE = {"fi": "short", "sv": "short", "en": "d.M.yyyy"}
_DATETIME = {"fi": "short", "sv": "short", "en": "d.M.yyyy HH:mm"}


def _locale(language: str | None = None) -> str:
    return _LOCALES.get(language or current_language(), "en_FI")


def fmt_date(value: date | None, language: str | None = None) -> str:
    if not value:
        return ""
    lang = language or current_language()
    return format_date(value, _DATE.get(lang, "d.M.yyyy"), locale=_locale(lang))


def fmt_datetime(value: datetime | None, language: str | None = None, tz: Any = None) -> str:
    """A moment in Finnish time (or ``tz``, e.g. a company's own), the reader's way."""
    if not value:
        return ""
    lang = language or current_language()
    return format_datetime(
        value, _DATETIME.get(lang, "d.M.yyyy HH:mm"), tzinfo=tz or TIMEZONE, locale=_locale(lang)
    )


def fmt_number(value: Any) -> str:
    return format_decimal(value, locale=_locale()) if value is not None else ""


# -- alphabetical order -----------------------------------------------------------------------

# Letters that Finnish and Swedish sort after z, in this order (å, ä, ö), and the letters each
# is read as there (æ as ä, ø as ö; ü as y). Elsewhere a letter with a mark sorts with its base
# letter (é with e, ç with c), as CLDR's root collation does at the first level.
_NORDIC_AFTER_Z = {"å": "{", "ä": "|", "æ": "|", "ö": "}", "ø": "}", "ü": "y"}
_ENGLISH_AS = {"æ": "ae", "ø": "o", "ß": "ss", "œ": "oe", "đ": "d", "ł": "l", "ı": "i"}


def collation_key(text: str, language: str | None = None) -> tuple[str, str, str]:
    """A sort key giving the language's alphabetical order for names (I18N-1): in Finnish and
    Swedish å, ä and ö come after z ("Åland" after "Zimbabwe", "Österrike" last); in English
    they sort as a and o. Case, marks and punctuation break ties only. Deterministic: no
    system locale or ICU is needed (neither is installed everywhere Portti runs)."""
    lang = language or current_language()
    nordic = lang in ("fi", "sv")
    primary: list[str] = []
    nfc = unicodedata.normalize("NFC", text)
    for ch in nfc.casefold():
        if nordic and ch in _NORDIC_AFTER_Z:
            primary.append(_NORDIC_AFTER_Z[ch])
            continue
        if not nordic and ch in _ENGLISH_AS:
            primary.append(_ENGLISH_AS[ch])
            continue
        base = unicodedata.normalize("NFD", ch)[0]
        if base.isalnum():
            primary.append(base)
        elif base.isspace():
            primary.append(" ")
        # other punctuation (hyphens, dots, apostrophes) is left out of the first level
    return "".join(primary), nfc.casefold(), nfc
