"""Every page an admin and a person meet on the web, walked as the seed's story goes (UX-22): log
in with bank ID, Users and roles, "Authenticate to add users", the add-user wizard (and its
errors), adding users from a file (the upload page and a preview with errors), a user's page,
the invitation page, basic settings, the audit log, the terms and an
error page — in Finnish, Swedish and English, on a phone (390 px) and a desktop.

On every page the walk fails on: an error in the console or an uncaught error or rejection;
visible text that is a program's leftover (``[object …]``, ``undefined``, ``NaN``, ``None``, a
code in snake_case, Markdown markers, a message placeholder); an image that did not load; a
page wider than the screen; a text of another language (the catalogues tell which is which);
a serious or critical accessibility problem (axe-core); a heading that only repeats the name of
a button on the same page. Each page is saved as a screenshot
under ``build/screens/web/<lang>-<width>/NN-name.png``, to be looked at.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from portti.i18n import translations
from support.browser import BROWSER_TIMEOUT_MS
from support.leaks import foreign_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
SCREENS = ROOT / "build" / "screens" / "web"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
KH = "Kaisa Mäkinen"  # user administrator of Mäkinen Design Oy (the seed's KH)
EMPLOYEE = "Tamm, Kadri"  # an employee of the same company, with an Estonian identity
LOCALES = {"fi": "fi-FI", "sv": "sv-SE", "en": "en-GB"}
WIDTHS = {
    390: {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    1280: {"viewport": {"width": 1280, "height": 900}},
}
# A file of users for the preview: one row to add, one with a role nobody has.
USERS_FILE = (
    "given_name;family_name;id_value;id_country;email;phone;roles\r\n"
    "Mari;Kävely;37605030299;EE;mari.kavely@example.com;+372 5123 4567;bookkeeper\r\n"
    "Jaan;Kävely;;EE;jaan.kavely@example.com;+372 5123 4568;astronaut\r\n"
)
STRAY = re.compile(
    r"\[object |\bundefined\b|\bNaN\b|\bNone\b|\*\*|(^|\n)#{1,6} |%\(\w+\)[sd]|\{\w+\}"
    r"|\b[a-z]+(?:_[a-z]+)+\b"
)
# English words that no Finnish or Swedish sentence has: a text from outside the catalogues (a
# library's message, a hard-coded string) shows up by them.
ENGLISH = re.compile(r"\b(the|must|have|should|cannot|please|your|with|address|invalid)\b", re.I)
# What the browser shows: text nodes that are rendered (visually hidden text counts: a screen
# reader reads it), accessible names given in attributes, images that did not load, the width.
LOOK = r"""() => {
    const lang = document.documentElement.lang;
    const shown = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
        const node = walker.currentNode, el = node.parentElement;
        if (!el || !node.textContent.trim() || el.closest('script, style, template')) continue;
        if (!el.checkVisibility({checkVisibilityCSS: true})) continue;
        const marked = el.closest('[lang]');
        if (marked && marked.lang && marked.lang !== lang) continue;  // another language on purpose
        if (el.closest('[data-sent]')) continue;  // the dev mailbox: a message in its own language
        shown.push(node.textContent);
    }
    const named = [...document.querySelectorAll('[aria-label], [title], img[alt], [placeholder]')]
        .filter(el => el.checkVisibility() && !el.closest('[data-sent]'))
        .map(el => el.getAttribute('aria-label') || el.getAttribute('title')
                    || el.getAttribute('alt') || el.getAttribute('placeholder') || '');
    const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0)
        .map(i => i.currentSrc.slice(0, 80));
    const root = document.documentElement;
    const norm = (t) => (t || '').replace(/\s+/g, ' ').trim();
    const headings = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6, [role=heading]')]
        .filter(el => el.checkVisibility()).map(el => norm(el.textContent));
    const buttons = [...document.querySelectorAll('button, input[type=submit], input[type=button], [role=button]')]
        .filter(el => el.checkVisibility())
        .map(el => norm(el.getAttribute('aria-label') || el.value || el.textContent));
    return {lang, title: document.title, shown, named, broken, headings, buttons,
            overflow: root.scrollWidth - root.clientWidth};
}"""
HTMX_BUSY = "() => !!document.querySelector('[hx-trigger=\"load\"], .htmx-request, .htmx-settling')"
AXE_RUN = """async () => {
    const r = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                                 'best-practice']});
    return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '));
}"""


class Walk:
    """One language at one width: goes through the pages, checks and photographs each."""

    def __init__(self, page: Page, lang: str, width: int) -> None:
        self.page, self.lang, self.width = page, lang, width
        self.folder = SCREENS / f"{lang}-{width}"
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.count = 0
        self.problems: list[str] = []
        self.console: list[str] = []

    def t(self, msgid: str) -> str:
        """A text as the reader sees it, from the catalogue: buttons are found by their name."""
        return translations(self.lang).gettext(msgid)

    def check(self, name: str) -> None:
        page = self.page
        # Loaded, and htmx done with what the page fetches on load (the invitation panel).
        page.wait_for_load_state("load")
        # (Polled through the DevTools protocol: wait_for_function would need 'unsafe-eval'.)
        deadline = time.monotonic() + 5
        while page.evaluate(HTMX_BUSY) and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        self.count += 1
        label = f"{self.lang}-{self.width}/{self.count:02d}-{name}"
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)
        seen: dict[str, Any] = page.evaluate(LOOK)
        if seen["lang"] != self.lang:
            self.problems.append(f"{label}: <html lang={seen['lang']!r}>")
        text = "\n".join([seen["title"], *seen["shown"], *seen["named"]])
        for m in STRAY.finditer(text):
            around = text[max(0, m.start() - 40) : m.end() + 40].replace("\n", " | ")
            self.problems.append(f"{label}: stray text {m.group(0)!r} in …{around}…")
        if seen["broken"]:
            self.problems.append(f"{label}: images not loaded: {seen['broken']}")
        if seen["overflow"] > 0:
            self.problems.append(f"{label}: {seen['overflow']} px wider than the screen")
        # A heading that only repeats a button's name says nothing of the page (UX-15).
        if same := sorted(set(seen["headings"]) & set(seen["buttons"]) - {""}):
            self.problems.append(f"{label}: a heading repeats its button's name: {same}")
        foreign = foreign_in([seen["title"], *seen["shown"], *seen["named"]], self.lang)
        if self.lang != "en":
            foreign += [m.group(0) for m in ENGLISH.finditer(text)]
        if foreign:
            self.problems.append(f"{label}: another language's text: {foreign}")
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            # Through the DevTools protocol, not a <script>: the pages' CSP stays in force.
            page.evaluate(AXE.read_text() + "\n;undefined")
        violations = page.evaluate(AXE_RUN)
        if violations:
            self.problems.append(f"{label}: axe-core: {violations}")
        if self.console:
            self.problems.append(f"{label}: console: {self.console}")
        self.console = []

    def on_console(self, msg: Any) -> None:
        if msg.type != "error":
            return
        # The page itself answered 4xx on purpose (a form with errors, an error page): Chromium
        # logs that too. Any other resource that fails is a problem.
        if "the server responded with a status of 4" in msg.text and (
            msg.location.get("url") == self.page.url
        ):
            return
        self.console.append(msg.text)

    def test_identity(self, who: str) -> None:
        """The built-in provider's page stands in for the bank: choose the person, log in."""
        page = self.page
        expect(page.get_by_role("heading", name=self.t("Test identity provider"))).to_be_visible()
        page.get_by_label(who).check()
        page.get_by_role("button", name=self.t("Log in"), exact=True).click()


@pytest.fixture
def walk(browser: Browser, live_server, request) -> Iterator[Walk]:  # type: ignore[no-untyped-def]
    """A browser in ``lang`` at ``width`` (the test's parameters), fresh cookies."""
    lang, width = request.node.callspec.params["lang"], request.node.callspec.params["width"]
    context = browser.new_context(base_url=live_server.url, locale=LOCALES[lang], **WIDTHS[width])
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    page = context.new_page()
    w = Walk(page, lang, width)
    page.on("console", w.on_console)
    page.on("pageerror", lambda e: w.problems.append(f"uncaught: {e}"))
    try:
        yield w
    finally:
        context.close()


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("lang", list(LOCALES))
def test_every_page_reads_right_in_each_language_on_phone_and_desktop(
    walk: Walk, lang: str, width: int
) -> None:  # UX-22 UX-3 UX-6 UX-16 UX-17 UX-18 UX-20 I18N-1 PRV-4
    page = walk.page

    # Log in with bank ID (the test provider stands in for it).
    page.goto("/login")
    walk.check("login")
    page.get_by_role(
        "button", name=walk.t("Log in with Finnish bank ID or mobile certificate")
    ).click()
    walk.check("test-identity-provider")
    walk.test_identity(KH)
    expect(page.get_by_role("heading", name="Mäkinen Design Oy", level=1)).to_be_visible()
    walk.check("company-home")

    # Company menu > Users and roles.
    menu = page.get_by_role("navigation", name=walk.t("Company menu"))
    menu.get_by_text("Mäkinen Design Oy", exact=True).click()
    menu.get_by_role("link", name=walk.t("Users and roles")).click()
    expect(page.get_by_role("heading", name=walk.t("Users and roles"), level=1)).to_be_visible()
    walk.check("users-and-roles")
    users_url = page.url

    # Authenticate to add users (step-up).
    page.get_by_role("link", name=walk.t("Authenticate to add users")).click()
    expect(page.get_by_role("heading", name=walk.t("Authenticate to add users"))).to_be_visible()
    # Only what Kaisa can use (UX-10): no Estonian ID card; the app only if she has one.
    estonian = walk.t("Authenticate with an Estonian ID card")
    expect(page.get_by_role("button", name=estonian)).to_have_count(0)
    if page.get_by_test_id("no-app").count():
        app_button = walk.t("Authenticate with the Portti app")
        expect(page.get_by_role("button", name=app_button)).to_have_count(0)
    walk.check("step-up")
    page.get_by_role(
        "button", name=walk.t("Authenticate with Finnish bank ID or mobile certificate")
    ).click()
    walk.test_identity(KH)
    expect(page.get_by_role("link", name=walk.t("Add user"), exact=True)).to_be_visible()
    walk.check("users-and-roles-stepped-up")

    # Add user: the wizard, then its answer to an empty form.
    page.get_by_role("link", name=walk.t("Add user"), exact=True).click()
    expect(page.get_by_role("heading", name=walk.t("New user"), level=1)).to_be_visible()
    walk.check("add-user")
    page.get_by_label(walk.t("E-mail"), exact=True).fill("not-an-address")
    page.get_by_role("button", name=walk.t("Add user"), exact=True).click()
    expect(page.get_by_role("heading", name=walk.t("New user"), level=1)).to_be_visible()
    expect(page.get_by_text(walk.t("Enter a valid e-mail address.")).first).to_be_visible()
    walk.check("add-user-errors")

    # Add users from a file (PRV-4): the upload page, and the preview of a file with an error
    # (nothing is added, so the walk can run again).
    page.goto(users_url)
    page.get_by_role("link", name=walk.t("Add users from a file")).click()
    expect(
        page.get_by_role("heading", name=walk.t("Add users from a file"), level=1)
    ).to_be_visible()
    walk.check("add-users-from-a-file")
    page.get_by_label(walk.t("File of users (CSV)")).set_input_files(
        {"name": "users.csv", "mimeType": "text/csv", "buffer": USERS_FILE.encode()}
    )
    page.get_by_role("button", name=walk.t("Preview the users")).click()
    expect(
        page.get_by_role("heading", name=walk.t("Check the users before adding them"), level=1)
    ).to_be_visible()
    walk.check("add-users-preview")

    # A user's page, and the invitation to the app.
    page.goto(users_url)
    page.get_by_role("link", name=EMPLOYEE).click()
    expect(page.get_by_role("heading", name="Kadri Tamm", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name=walk.t("Security events"))).to_be_visible()  # UX-8
    walk.check("user-detail")
    # A change the audit log then tells in words: a role given (or taken back, on the next walk).
    reporting = page.get_by_role("checkbox", name=walk.t("Reporting"), exact=True)
    reporting.set_checked(not reporting.is_checked())
    page.get_by_role("button", name=walk.t("Save roles and validity")).click()
    expect(page.get_by_role("heading", name="Kadri Tamm", level=1)).to_be_visible()
    walk.check("user-detail-saved")
    # "Invite again" once an earlier walk (or the seed's story) invited her.
    invite = (walk.t("Invite user to log in with the mobile app"), walk.t("Invite again"))
    page.get_by_role(
        "link", name=re.compile("^(" + "|".join(map(re.escape, invite)) + ")$")
    ).click()
    walk.check("invite")
    page.get_by_label(walk.t("I have verified this person's identity")).check()
    page.get_by_role("button", name=walk.t("Send invitation")).click()
    expect(page.get_by_test_id("invitation-status")).to_have_text(walk.t("Sent"))
    # UX-11: the page does not ask for the invitation just sent.
    no_app = walk.t(
        "They have no Portti app in use. Send an invitation to let them log in with the app, "
        "or they log in with bank ID."
    )
    expect(page.get_by_test_id("app-access")).not_to_have_text(no_app)
    walk.check("invitation-sent")
    if lang == "en":  # the dev mailbox is a developer's page, in English only
        invitation = page.get_by_role("link", name="invites you to log in")
        deadline = time.monotonic() + 15
        page.goto("/dev/mailbox")
        while not invitation.count() and time.monotonic() < deadline:  # the outbox delivers it
            page.wait_for_timeout(250)
            page.goto("/dev/mailbox")
        walk.check("dev-mailbox")
        invitation.first.click()
        expect(page.get_by_role("img", name="QR code of the Portti app's address")).to_be_visible()
        walk.check("dev-mailbox-invitation")

    # The person's own pages, the audit log, the terms.
    page.goto("/settings")
    expect(page.get_by_role("heading", name=walk.t("Basic settings"), level=1)).to_be_visible()
    walk.check("basic-settings")
    page.goto(users_url.replace("/users", "/audit"))
    expect(page.get_by_role("heading", name=walk.t("Audit log"), level=1)).to_be_visible()
    walk.check("audit-log")
    page.goto("/terms")
    expect(page.get_by_test_id("terms-version")).to_contain_text("2026-11-01")  # UX-3
    walk.check("terms")

    # Errors: a company that is not the admin's, and a page that does not exist.
    page.goto("/c/999999/users")
    walk.check("error-forbidden")
    page.goto("/no-such-page")
    walk.check("error-not-found")

    assert not walk.problems, "\n".join(walk.problems)


def test_the_test_identity_page_starts_on_the_first_identity_and_works_by_keyboard(
    browser: Browser, live_server: Any
) -> None:  # UX-17 UX-22
    """The demo's stand-in for a bank: the first test identity is chosen and has the focus, the
    arrow keys choose another, Enter logs in as it."""
    context = browser.new_context(base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto("/login")
        page.get_by_role("button", name="Log in with Finnish bank ID or mobile certificate").click()
        group = page.get_by_role("group", name="Choose a test identity")
        radios = group.get_by_role("radio")
        expect(radios.nth(1)).to_be_visible()  # the page has come: a count does not wait
        expect(radios.first).to_be_checked()
        expect(radios.first).to_be_focused()
        page.keyboard.press("ArrowDown")
        expect(radios.nth(1)).to_be_checked()
        expect(radios.nth(1)).to_be_focused()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Test identity provider")).to_have_count(0)
    finally:
        context.close()
