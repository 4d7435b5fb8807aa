"""Jinja filters for dates, phone numbers and identifiers."""

from __future__ import annotations

from datetime import date, datetime

from jinja2 import Environment


def fmt_date(value: date | None) -> str:
    return value.strftime("%-d.%-m.%Y") if value else ""


def fmt_datetime(value: datetime | None) -> str:
    return value.strftime("%-d.%-m.%Y %H:%M UTC") if value else ""


def install(env: Environment) -> None:
    from portti.companies.policy import company_menu
    from portti.people.countries import COUNTRY_NAMES
    from portti.people.phones import format_phone

    env.filters["date"] = fmt_date
    env.filters["datetime"] = fmt_datetime
    env.filters["phone"] = lambda v: format_phone(v) if v else ""
    env.filters["country"] = lambda c: COUNTRY_NAMES.get(c, c)
    env.globals["COUNTRY_NAMES"] = COUNTRY_NAMES
    # The company menu offers only what the viewer may open (SEC-12): AdminPolicy decides.
    env.globals["company_menu"] = company_menu
