"""End-to-end fixtures: the real service as a subprocess on a fresh database with the demo data,
and headless Chromium driven by Playwright.

The server runs exactly as `make run` runs it (`portti migrate`, `portti demo`, `portti serve`),
only on a free port, a throw-away database (SQLite, or PostgreSQL when
``PORTTI_TEST_DATABASE=postgresql``) and a random secret key. Its output goes to a log file whose
tail is attached to the report of every failing test that used it.

Chromium is Debian's package (Playwright's own download is not used); without it the browser
tests are skipped loudly on a laptop and fail in CI.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.orm import Session

from portti.db.session import make_engine, make_session_factory
from support.browser import BROWSER_TIMEOUT_MS
from support.live_server import LiveServer, running_server
from support.pg import scratch_database

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, WebError

BACKEND = os.environ.get("PORTTI_TEST_DATABASE", "sqlite")
PG_ADMIN = os.environ.get("PORTTI_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
NO_BROWSER = (
    "BROWSER TESTS SKIPPED: no Chromium found; install Debian's chromium or set PORTTI_CHROMIUM"
)
_browser_skipped = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def _live_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database of its own for the server: nothing else writes to it."""
    if BACKEND == "postgresql":
        with scratch_database(PG_ADMIN, "portti_e2e") as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('e2e-db') / 'portti.db'}"


@pytest.fixture(scope="session")
def live_server(
    _live_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The service in a subprocess, migrated and seeded with the demo data, on a free port."""
    workdir = tmp_path_factory.mktemp("e2e-server")
    with running_server(_live_database, workdir, prepare=(["migrate"], ["demo"])) as server:
        yield server


@pytest.fixture
def live_db(live_server: LiveServer) -> Iterator[Session]:
    """A session on the server's database, for looking behind the UI."""
    engine = make_engine(live_server.database_url)
    try:
        with make_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _find_chromium() -> tuple[str | None, str]:
    configured = os.environ.get("PORTTI_CHROMIUM")
    if configured:
        if os.access(configured, os.X_OK):
            return configured, ""
        return None, f"PORTTI_CHROMIUM={configured} is not an executable file"
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate, ""
    return None, "neither /usr/bin/chromium nor `chromium` on PATH"


@pytest.fixture(scope="session")
def chromium_executable(request: pytest.FixtureRequest) -> str:
    executable, why = _find_chromium()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"Browser tests must run in CI, but no Chromium was found ({why}): "
                "install Debian's chromium or set PORTTI_CHROMIUM.",
                pytrace=False,
            )
        message = f"{NO_BROWSER} ({why})"
        request.config.stash[_browser_skipped] = message
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    return executable


# Module scope, not session: while Playwright's sync API is started, its event loop counts as
# the running loop of the main thread, and every later test that calls asyncio.run() would fail.
@pytest.fixture(scope="module")
def browser(chromium_executable: str) -> Iterator[Browser]:
    # Imported here so that the HTTP-only e2e tests run where Playwright is not installed.
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=BROWSER_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A fresh browser context (no cookies from other tests) and one page in it.

    The test fails when a page logged a Content-Security-Policy violation or threw an error.
    """
    context = browser.new_context(base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    problems: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error" and (
            "Content Security Policy" in msg.text or "Refused to" in msg.text
        ):
            problems.append(f"console: {msg.text} (on {msg.location.get('url')})")

    def on_web_error(web_error: WebError) -> None:
        problems.append(f"uncaught: {web_error.error.message}")

    context.on("console", on_console)
    context.on("weberror", on_web_error)
    try:
        yield context.new_page()
    finally:
        context.close()
    if problems:
        pytest.fail("The browser reported problems:\n" + "\n".join(problems), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test's report carries the server's last log lines and a screenshot's path."""
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        server = funcargs.get("live_server")
        if isinstance(server, LiveServer):
            report.sections.append(("portti server log (tail)", server.log_tail()))
            page = funcargs.get("page")
            if report.when == "call" and page is not None and not page.is_closed():
                shot = server.log_path.with_name(f"{item.name}-failed.png")
                try:
                    page.screenshot(path=str(shot), full_page=True)
                except Exception as exc:  # the report matters more than the picture
                    report.sections.append(("browser screenshot", f"not taken: {exc}"))
                else:
                    report.sections.append(("browser screenshot", str(shot)))
    return report


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    message = config.stash.get(_browser_skipped, None)
    if message:
        terminalreporter.write_sep("!", message, red=True, bold=True)
