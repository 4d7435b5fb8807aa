"""Jinja filters for dates, times, numbers, phone numbers and identifiers, in the request's
language (``portti.i18n``). Times are shown in Finnish time (Europe/Helsinki), where the
companies are; English keeps the day.month.year order its readers in Finland know."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from babel.dates import format_date, format_datetime, get_timezone
from babel.numbers import format_decimal
from jinja2 import Environment

from portti.i18n import (
    LANGUAGE_NAMES,
    _l,
    collation_key,
    current_language,
    language_name,
    lazy_ngettext,
    localize,
)

TIMEZONE = get_timezone("Europe/Helsinki")
# CLDR's Finnish variants of each language: day.month.year where the language allows it.
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


def country_name(code: str, language: str | None = None) -> str:
    """The country in the reader's language (CLDR), else its English name."""
    from babel import Locale

    from portti.people.countries import COUNTRY_NAMES

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


# The accessible name weblogin/qr.py gives the login QR code, and its translation.
_QR_LABEL = "QR code for logging in with the Portti app"
_QR_LABEL_TEXT = _l("QR code for logging in with the Portti app")


def qr_label(svg: str) -> str:
    """The login QR code (SVG) with its accessible name in the reader's language."""
    return svg.replace(_QR_LABEL, str(localize(_QR_LABEL_TEXT)))


_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YES, _NO, _NONE = _l("yes"), _l("no"), _l("none")


def _detail_value(key: str, value: Any) -> str:
    """One value of an event's details, as its reader reads it: names for codes, dates their
    way, yes / no for truth values (UX-16)."""
    from portti.audit.labels import detail_value_name
    from portti.companies.catalogue import ROLES

    if value is None or value == []:
        return str(localize(_NONE))
    if isinstance(value, bool):
        return str(localize(_YES if value else _NO))
    if isinstance(value, list):
        if key == "profiles" and all(isinstance(v, int) for v in value):
            return str(localize(lazy_ngettext("%(num)d profile", "%(num)d profiles", len(value))))
        return ", ".join(_detail_value(key, v) for v in value)
    if isinstance(value, dict):
        if set(value) == {"from", "to"}:
            return f"{_detail_value(key, value['from'])} → {_detail_value(key, value['to'])}"
        return "; ".join(f"{k}: {_detail_value(k, v)}" for k, v in value.items())
    if isinstance(value, (int, float)):
        return fmt_number(value)
    text = str(value)
    if key == "browser":
        from portti.weblogin.qr.requester import described_browser

        return str(localize(described_browser(text)))
    if key in ("roles", "via"):
        names = {code: name for code, name, *_ in ROLES}
        if text in names:
            return str(localize(names[text]))
    if key == "default_language" and text in LANGUAGE_NAMES:
        return language_name(text)
    if key == "fields":
        from portti.audit.labels import detail_label

        return detail_label(text)
    if _ISO_MOMENT.match(text):
        try:
            return fmt_datetime(datetime.fromisoformat(text))
        except ValueError:
            return text
    if _ISO_DAY.match(text):
        try:
            return fmt_date(date.fromisoformat(text))
        except ValueError:
            return text
    return detail_value_name(text) or text


def event_details(details: dict[str, Any] | None) -> list[tuple[str, str]]:
    """An audit event's details as (label, value) pairs in the reader's language, without the
    internal references (UX-16)."""
    from portti.audit.labels import HIDDEN_DETAILS, detail_label

    pairs: list[tuple[str, str]] = []
    for key, value in (details or {}).items():
        if key in HIDDEN_DETAILS or key.endswith("_id"):
            continue
        if key == "changes" and isinstance(value, dict):
            for field, change in value.items():
                if isinstance(change, list) and len(change) == 2:
                    before, after = (_detail_value(field, v) for v in change)
                    pairs.append((detail_label(field), f"{before} → {after}"))
            continue
        pairs.append((detail_label(key), _detail_value(key, value)))
    return pairs


def install(env: Environment) -> None:
    from portti.audit.labels import event_name
    from portti.companies.policy import company_menu
    from portti.people.countries import COUNTRY_NAMES
    from portti.people.phones import format_phone
    from portti.strongauth.labels import login_button, step_up_button
    from portti.weblogin.qr.requester import browser_summary

    env.filters["date"] = fmt_date
    env.filters["datetime"] = fmt_datetime
    env.filters["number"] = fmt_number
    env.filters["phone"] = lambda v: format_phone(v) if v else ""
    env.filters["country"] = country_name
    env.filters["by_country_name"] = by_country_name
    env.filters["qr_label"] = qr_label
    env.filters["event"] = event_name
    env.filters["event_details"] = event_details
    env.filters["browser"] = lambda ua: str(localize(browser_summary(ua)))
    env.globals["COUNTRY_NAMES"] = COUNTRY_NAMES
    env.globals["login_button"] = login_button
    env.globals["step_up_button"] = step_up_button
    # The company menu offers only what the viewer may open (SEC-12): AdminPolicy decides.
    env.globals["company_menu"] = company_menu
