"""The service worker's shell list (``mobile/static/sw.js``) names the files the app opens with
offline: every entry is a file the app serves, and every file the page loads is an entry."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from posixpath import dirname, normpath

from portti.mobile.views import STATIC_DIR

STATIC_PREFIX = "/app/static/"
# Served by mobile/views.py from a file in static/ under another path.
PAGES = {"/app/": "index.html", "/app/manifest.webmanifest": "manifest.webmanifest"}
# `import … from "./x.js"`, `import "./x.js"` and `export … from "./x.js"`.
IMPORT = re.compile(
    r"""^\s*(?:import\s+(?:[\w*{}\s,]+?\s+from\s+)?|export\s+[\w*{}\s,]+?\s+from\s+)"""
    r"""['"]([^'"]+)['"]""",
    re.MULTILINE,
)


def shell() -> list[str]:
    source = (STATIC_DIR / "sw.js").read_text()
    found = re.search(r"const SHELL = (\[.*?\]);", source, re.DOTALL)
    assert found, "sw.js has no SHELL list"
    return list(json.loads(re.sub(r",\s*\]", "]", found.group(1))))


def file_of(served: str) -> Path | None:
    if served in PAGES:
        return STATIC_DIR / PAGES[served]
    if served.startswith(STATIC_PREFIX):
        return STATIC_DIR / served.removeprefix(STATIC_PREFIX)
    return None


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


def loaded_by_the_app() -> set[str]:
    """The served paths the app's page loads: its links and scripts, the manifest's icons and
    the modules the scripts import, followed through."""
    links = _Links()
    links.feed((STATIC_DIR / "index.html").read_text())
    found = {"/app/"} | {u for u in links.urls if u.startswith("/app/")}
    manifest = json.loads((STATIC_DIR / "manifest.webmanifest").read_text())
    found |= {icon["src"] for icon in manifest["icons"]}
    modules = [u for u in found if u.endswith(".js")]
    while modules:
        module = modules.pop()
        for spec in IMPORT.findall((STATIC_DIR / module.removeprefix(STATIC_PREFIX)).read_text()):
            served = normpath(f"{dirname(module)}/{spec}") if spec.startswith(".") else spec
            if served not in found:
                found.add(served)
                modules.append(served)
    return found


def test_every_entry_of_the_shell_is_a_file_the_app_serves() -> None:  # APP-10
    entries = shell()
    assert len(entries) == len(set(entries))
    missing = [e for e in entries if (path := file_of(e)) is None or not path.is_file()]
    assert missing == []


def test_every_file_the_app_loads_is_in_the_shell() -> None:  # APP-10
    loaded = loaded_by_the_app()
    assert {"/app/static/app.js", "/app/static/api.js", "/app/static/icon-192.png"} <= loaded
    assert loaded - set(shell()) == set()


def test_every_module_of_the_app_is_loaded() -> None:  # APP-10
    # A module added to static/ but imported by nothing would be missed by the test above.
    modules = {
        STATIC_PREFIX + p.relative_to(STATIC_DIR).as_posix()
        for p in STATIC_DIR.rglob("*.js")
        if p.name != "sw.js"
    }
    assert modules - loaded_by_the_app() == set()
