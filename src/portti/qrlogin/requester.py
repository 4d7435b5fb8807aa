"""What the app is told about the browser that is asking (WEB-2): the site it is on (its
``Origin``) and a rough "Firefox on Windows". Its country is ``weblogin.geo``'s."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from portti.i18n import LazyText, _l

ORIGIN_MAX_LENGTH = 200

_BROWSERS = (
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("HeadlessChrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Windows", "Windows"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
)


@functools.lru_cache(maxsize=64)  # the base URL's, on every approval screen
def origin_of(url: str | None) -> str | None:
    """The serialized origin (``scheme://host[:port]``, lower case) of a URL or an ``Origin``
    header; None for anything else (``null``, a path, another scheme)."""
    if not isinstance(url, str) or not url or len(url) > ORIGIN_MAX_LENGTH:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def browser_and_system(user_agent: str | None) -> tuple[str | None, str | None]:
    """The browser's and the operating system's names (proper names, the same in every
    language) from the User-Agent, each None when not recognised."""
    ua = user_agent or ""
    browser = next((name for token, name in _BROWSERS if token in ua), None)
    system = next((name for token, name in _SYSTEMS if token in ua), None)
    return browser, system


def describe_browser(user_agent: str | None) -> str:
    """A rough "Firefox on Windows" from the User-Agent: enough for a person to recognise their
    own computer, not an identification. English, for the audit log; the app's words are
    ``qrlogin.app_api.browser_for_reader``'s."""
    browser, system = browser_and_system(user_agent)
    if browser and system:
        return f"{browser} on {system}"
    return browser or (f"A browser on {system}" if system else "Unknown browser")


def described_browser(description: str) -> LazyText:
    """``describe_browser``'s English words (as the audit log keeps them) as the message
    ``browser_summary`` gives, to be read in the reader's language."""
    names = {name for _, name in _BROWSERS}
    systems = {name for _, name in _SYSTEMS}
    if description == "Unknown browser":
        return _l("Unknown browser")
    head, sep, system = description.rpartition(" on ")
    if sep and system in systems:
        if head == "A browser":
            return _l("A browser on %(system)s", system=system)
        if head in names:
            return _l("%(browser)s on %(system)s", browser=head, system=system)
    return LazyText("%(browser)s", browser=description)  # a name: the same in every language


def browser_summary(user_agent: str | None) -> LazyText:
    """``describe_browser`` as a message, read in the reader's language where it is shown (the
    sessions in basic settings, UX-6)."""
    ua = user_agent or ""
    browser = next((name for token, name in _BROWSERS if token in ua), None)
    system = next((name for token, name in _SYSTEMS if token in ua), None)
    if browser and system:
        return _l("%(browser)s on %(system)s", browser=browser, system=system)
    if browser:
        return LazyText("%(browser)s", browser=browser)  # a name: the same in every language
    if system:
        return _l("A browser on %(system)s", system=system)
    return _l("Unknown browser")
