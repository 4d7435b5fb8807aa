"""The app's templates: the kit's filters (``web/filters.py``), the languages (``i18n``), and
the filters and globals that need a domain (audit event details, browsers, login buttons, the
company menu)."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import BytecodeCache, Environment
from jinja2.bccache import Bucket

from portti import __version__
from portti.audit.labels import HIDDEN_DETAILS, detail_label, detail_value_name
from portti.companies.catalogue import ROLES
from portti.companies.policy import company_menu
from portti.i18n import (
    LANGUAGE_NAMES,
    _l,
    fmt_date,
    fmt_datetime,
    fmt_number,
    install_jinja,
    language_name,
    lazy_ngettext,
    localize,
)
from portti.qrlogin.requester import browser_summary, described_browser
from portti.strongauth.labels import login_button, step_up_button
from portti.web import filters
from portti.web.csrf import csrf_token

WEB_DIR = Path(__file__).parent / "web"


class ProcessBytecodeCache(BytecodeCache):
    """Compiled templates kept for the process, keyed by name and source checksum (Jinja's
    buckets): an app built again in the same process (each test builds its own; a worker that
    renders e-mail) loads them instead of compiling every template anew."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_BYTECODE = ProcessBytecodeCache()


def make_templates(base_url: str = "http://127.0.0.1:8000") -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
    templates.env.bytecode_cache = _BYTECODE
    templates.env.globals["csrf_token"] = csrf_token
    # Where the app is: the invitation e-mail gives the address (UX-7).
    templates.env.globals["app_url"] = base_url.rstrip("/") + "/app/"
    templates.env.globals["version"] = __version__
    filters.install(templates.env)
    install_domain_filters(templates.env)
    install_jinja(templates.env)
    return templates


def install_domain_filters(env: Environment) -> None:
    env.filters["event_details"] = event_details
    env.filters["role_name"] = role_name
    env.filters["browser"] = lambda ua: str(localize(browser_summary(ua)))
    env.globals["login_button"] = login_button
    env.globals["step_up_button"] = step_up_button
    # The company menu offers only what the viewer may open (SEC-12): AdminPolicy decides.
    env.globals["company_menu"] = company_menu


_ROLE_NAMES = {code: name for code, name, *_ in ROLES}


def role_name(code: str) -> str:
    """A catalogue role's name in the reader's language; a code the catalogue does not know
    (a role of the operator's own), as it is."""
    name = _ROLE_NAMES.get(code)
    return code if name is None else str(localize(name))


_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YES, _NO, _NONE = _l("yes"), _l("no"), _l("none")


def _detail_value(key: str, value: Any) -> str:
    """One value of an event's details, as its reader reads it: names for codes, dates their
    way, yes / no for truth values (UX-16)."""
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
        return str(localize(described_browser(text)))
    if key in ("roles", "via"):
        return role_name(text)
    if key == "default_language" and text in LANGUAGE_NAMES:
        return language_name(text)
    if key == "fields":
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
