"""The kit's Jinja filters: dates, times, numbers, phone numbers, countries and audit events, in
the request's language (``portti.i18n``). The domains' filters and globals are added by the
composition (``portti/templating.py``)."""

from __future__ import annotations

from babel import Locale
from jinja2 import Environment

from portti.audit.labels import event_name
from portti.i18n import (
    _l,
    collation_key,
    current_language,
    fmt_date,
    fmt_datetime,
    fmt_number,
    localize,
)
from portti.people.countries import COUNTRY_NAMES
from portti.people.phones import format_phone


def country_name(code: str, language: str | None = None) -> str:
    """The country in the reader's language (CLDR), else its English name."""
    lang = language or current_language()
    if lang != "en":
        name = Locale.parse(lang).territories.get(code)
        if name:
            return str(name)
    return COUNTRY_NAMES.get(code, code)


def by_country_name(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(code, name) pairs with the name in the reader's language, in its alphabetical order."""
    named = [(code, country_name(code)) for code, _ in pairs]
    language = current_language()
    return sorted(named, key=lambda kv: collation_key(kv[1], language))


# The accessible name the QR login (``qrlogin``) gives the login QR code, and its translation.
_QR_LABEL = "QR code for logging in with the Portti app"
_QR_LABEL_TEXT = _l("QR code for logging in with the Portti app")


def qr_label(svg: str) -> str:
    """The login QR code (SVG) with its accessible name in the reader's language."""
    return svg.replace(_QR_LABEL, str(localize(_QR_LABEL_TEXT)))


def install(env: Environment) -> None:
    env.filters["date"] = fmt_date
    env.filters["datetime"] = fmt_datetime
    env.filters["number"] = fmt_number
    env.filters["phone"] = lambda v: format_phone(v) if v else ""
    env.filters["country"] = country_name
    env.filters["by_country_name"] = by_country_name
    env.filters["qr_label"] = qr_label
    env.filters["event"] = event_name
    env.globals["COUNTRY_NAMES"] = COUNTRY_NAMES
