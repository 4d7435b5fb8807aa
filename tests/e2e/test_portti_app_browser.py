"""The Portti web app (``/app``) in Chromium, the whole story of the seed (APP-1 … APP-10, WEB-1,
WEB-2): the user administrator invites a foreign person in her browser; on a phone-sized browser
the person activates the app (sign-up code, SMS code, account with e-mail code, password and
TOTP, terms, PIN); then logs in on a computer by pointing the phone's camera at the login page's
QR code and approving with the PIN; locks, unlocks, logs out and reactivates with the account.

The phone is a Chromium of its own whose camera is a video file made from screenshots of the
login page's live QR code (``--use-fake-device-for-media-stream``); the codes by SMS and e-mail
are read from the dev mailbox; TOTP codes come from the secret the app shows. Every app screen is
checked with axe-core (vendored under tests/e2e/vendor/axe-core): no serious or critical
violations. Elements are found by role and accessible name, as a person or screen reader would.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from support.browser import BROWSER_TIMEOUT_MS
from support.camera import write_y4m
from support.messages import signup_code_in, sms_code_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

FI_BANK = "Finnish bank ID or mobile certificate"
KH = "Kaisa Mäkinen"
DESIGN = "Mäkinen Design Oy"
PIN = "482913"
PASSWORD = "kettle-orbit-lantern-97"
QR_NAME = "QR code for logging in with the Portti app"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


# -- helpers ---------------------------------------------------------------------------------------


def watch_problems(context: BrowserContext, problems: list[str]) -> None:
    """CSP violations and uncaught errors fail the test (as the conftest's ``page`` does)."""

    def on_console(msg: Any) -> None:
        if msg.type == "error" and (
            "Content Security Policy" in msg.text or "Refused to" in msg.text
        ):
            problems.append(f"console: {msg.text}")

    context.on("console", on_console)
    context.on("weberror", lambda e: problems.append(f"uncaught: {e.error.message}"))


def axe_check(page: Page, screen: str, seen: dict[str, list[str]]) -> None:
    """axe-core on the current screen: no serious or critical violations (WCAG 2 A/AA rules)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Through the DevTools protocol, not a <script>: the app's CSP stays in force.
        page.evaluate(AXE.read_text() + "\n;undefined")
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']});
            return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '));
        }"""
    )
    seen[screen] = result
    assert not result, f"axe-core on the app's screen {screen!r}: {result}"


def mailbox(page: Page, channel: str, to: str, count: int = 1) -> list[dict[str, Any]]:
    """The dev mailbox's messages to ``to`` (newest first), waiting for ``count`` of them."""
    deadline = time.monotonic() + 15
    while True:
        r = page.request.get("/dev/mailbox.json", params={"channel": channel, "to": to})
        messages: list[dict[str, Any]] = r.json()
        if len(messages) >= count:
            return messages
        assert time.monotonic() < deadline, f"no {channel} message #{count} to {to}"
        time.sleep(0.2)


def log_in_admin(page: Page, who: str) -> None:
    page.goto("/login")
    page.get_by_role("button", name=f"Log in with {FI_BANK}").click()
    page.get_by_label(who).check()
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("navigation", name="Your account")).to_be_visible()


@dataclass
class Invitee:
    given: str
    family: str
    email: str
    phone: str


def invite_foreign_person(page: Page) -> Invitee:
    """The KH in her browser: Users and roles, strong authentication, a new foreign user through
    the JSON API the browser's own session may call, and the invitation."""
    menu = page.get_by_role("navigation", name="Company menu")
    menu.get_by_text(DESIGN, exact=True).click()
    menu.get_by_role("link", name="Users and roles").click()
    page.get_by_role("link", name="Authenticate to add users").click()
    page.get_by_role("button", name=f"Authenticate with {FI_BANK}").click()
    page.get_by_label(KH).check()
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_text("Strong authentication is valid for")).to_be_visible()
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    headers = {"X-CSRF-Token": csrf or ""}
    company = next(c for c in page.request.get("/api/v1/companies").json() if c["name"] == DESIGN)
    tag = secrets.token_hex(3)
    who = Invitee(
        "Oksana",
        f"Koval{tag}",
        f"oksana.{tag}@example.com",
        f"+35850{secrets.randbelow(10**7):07d}",
    )
    r = page.request.post(
        f"/api/v1/companies/{company['id']}/members",
        headers=headers,
        data={
            "method": "foreign", "given_name": who.given, "family_name": who.family,
            "email": who.email, "phone": who.phone, "roles": ["bookkeeper"],
            "id_kind": "other_code", "id_value": f"UA-{tag}", "id_country": "UA",
        },
    )  # fmt: skip
    assert r.status == 201, r.text()
    member = r.json()["membership_id"]
    r = page.request.post(
        f"/api/v1/companies/{company['id']}/members/{member}/invitation",
        headers=headers,
        data={"identity_verified": True},
    )
    assert r.status == 201, r.text()
    return who


class Authenticator:
    """The person's authenticator app: each 30-second code is accepted once, so wait for a new one."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.used: set[str] = set()

    def code(self) -> str:
        while (code := self.totp.now()) in self.used:
            time.sleep(0.5)
        self.used.add(code)
        return code


def blank_png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def phone(
    browser: Browser, chromium_executable: str, live_server: Any, tmp_path: Path
) -> Iterator[Phone]:
    """A second Chromium, phone-sized: its camera is the file ``camera.y4m``."""
    camera = tmp_path / "camera.y4m"
    write_y4m(camera, [blank_png()])
    chromium = browser.browser_type.launch(
        executable_path=chromium_executable,
        headless=True,
        args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={camera}",
        ],
    )  # fmt: skip
    context = chromium.new_context(base_url=live_server.url, locale="en-GB", **PHONE)
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    context.grant_permissions(["camera"], origin=live_server.url)
    problems: list[str] = []
    watch_problems(context, problems)
    try:
        yield Phone(context.new_page(), camera)
    finally:
        context.close()
        chromium.close()
    assert not problems, "The phone's browser reported problems:\n" + "\n".join(problems)


@dataclass
class Phone:
    page: Page
    camera: Path


def point_camera_at_qr(computer: Page, camera: Path) -> None:
    """Two photographs of the login page's QR code, a second apart, become the camera's video."""
    shots = []
    for _ in range(2):
        qr = computer.get_by_role("img", name=QR_NAME)
        for attempt in range(3):
            try:
                shots.append(qr.screenshot())
                break
            except Exception:  # the code is swapped every second; take the next frame
                if attempt == 2:
                    raise
        computer.wait_for_timeout(1000)
    write_y4m(camera, shots)


# -- the story -------------------------------------------------------------------------------------


def test_the_whole_story_in_the_portti_app(
    browser: Browser, page: Page, phone: Phone, live_server: Any
):  # APP-1 APP-2 APP-3 APP-4 APP-5 APP-6 APP-7 APP-8 APP-10 WEB-1 WEB-2 UX-23
    screens: dict[str, list[str]] = {}
    app = phone.page

    # The KH invites a foreign person from her browser.
    log_in_admin(page, KH)
    who = invite_foreign_person(page)
    invitation = mailbox(page, "email", who.email)[0]
    signup_code = signup_code_in(invitation["text"])

    # The installable app: manifest and service worker.
    app.goto("/app/")
    expect(app.get_by_role("heading", name="Log in to Portti")).to_be_focused()
    manifest = app.request.get("/app/manifest.webmanifest").json()
    assert manifest["start_url"] == "/app/" and manifest["display"] == "standalone"
    assert app.evaluate("navigator.serviceWorker.ready.then(r => r.active.scriptURL)").endswith(
        "/app/sw.js"
    )
    axe_check(app, "welcome", screens)

    app.get_by_role("button", name="Don't have a Finnish bank ID").click()
    axe_check(app, "no bank ID", screens)
    # Each choice says whom it is for; Back starts at the same place as on the next screen.
    expect(
        app.get_by_role("button", name="Two-factor authentication already done")
    ).to_have_accessible_description(re.compile(r"^If you already have a Portti account"))
    expect(app.get_by_role("button", name="I have a sign-up code")).to_have_accessible_description(
        re.compile("first time")
    )
    back_x = (app.get_by_role("button", name="Back").bounding_box() or {})["x"]
    app.get_by_role("button", name="I have a sign-up code").click()
    assert (app.get_by_role("button", name="Back").bounding_box() or {})["x"] == back_x
    app.get_by_label("Sign-up code").fill("1234 5678 9012 3456")
    app.get_by_role("button", name="Next").click()
    expect(app.get_by_role("alert")).to_contain_text("The sign-up code is not valid")
    axe_check(app, "sign-up code (refused)", screens)
    app.get_by_label("Sign-up code").fill(signup_code)
    app.get_by_role("button", name="Next").click()

    expect(app.get_by_text(f"{KH} invited you to {DESIGN}.")).to_be_visible()
    app.get_by_role("button", name="Didn't get the code?").click()
    app.get_by_role("button", name="Resend code?").click()
    expect(app.get_by_role("status")).to_contain_text("You can ask for 1 more new code.")
    axe_check(app, "SMS code", screens)
    mailbox(app, "sms", who.phone, count=2)
    app.get_by_role("button", name="Resend code?").click()
    expect(app.get_by_role("status")).to_contain_text("You cannot ask for more new codes.")
    # No new code can be asked for: a wrong code says whom to ask; the stale notice is gone.
    app.get_by_label("Confirmation code").fill("000000")
    app.get_by_role("button", name="Next").click()
    expect(app.get_by_role("alert")).to_contain_text(f"ask {KH}, who invited you")
    expect(app.get_by_role("alert")).not_to_contain_text("ask for a new code")
    expect(app.get_by_text("A new code is on its way")).to_have_count(0)
    expect(app.get_by_role("button", name="Resend code?")).to_be_hidden()
    sms = mailbox(app, "sms", who.phone, count=3)[0]  # the newest code replaced the others
    app.get_by_label("Confirmation code").fill(sms_code_in(sms["text"]))
    app.get_by_role("button", name="Next").click()

    expect(app.get_by_role("heading", name="Create your account")).to_be_visible()
    axe_check(app, "account", screens)
    app.get_by_label("E-mail address").fill(who.email)
    app.get_by_role("button", name="Next").click()
    expect(app.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    axe_check(app, "e-mail code", screens)
    email_code = re.search(r"\b(\d{6})\b", mailbox(app, "email", who.email, count=2)[0]["text"])
    assert email_code
    app.get_by_label("Code from the e-mail").fill(email_code.group(1))
    app.get_by_role("button", name="Next").click()

    expect(app.get_by_role("heading", name="Choose a password")).to_be_visible()
    app.get_by_label("Password", exact=True).fill("password1234")
    app.get_by_label("Password again").fill("password1234")
    app.get_by_role("button", name="Next").click()
    expect(app.get_by_role("alert")).not_to_be_empty()  # a common password: the API's words
    axe_check(app, "password (refused)", screens)
    app.get_by_label("Password", exact=True).fill(PASSWORD)
    app.get_by_label("Password again").fill(PASSWORD)
    app.get_by_role("button", name="Next").click()

    expect(app.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    expect(app.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    otpauth = app.get_by_role("link", name="Open in an authenticator app on this phone")
    assert (otpauth.get_attribute("href") or "").startswith("otpauth://totp/")
    axe_check(app, "TOTP", screens)
    authenticator = Authenticator(app.get_by_test_id("totp-secret").inner_text().replace(" ", ""))
    app.get_by_label("Security code from the authenticator app").fill(authenticator.code())
    app.get_by_role("button", name="Next").click()

    expect(app.get_by_role("heading", name="Terms and conditions")).to_be_visible()
    axe_check(app, "terms", screens)
    expect(app.get_by_text(re.compile(r"\bVersion \d{4}-\d\d-\d\d"))).to_have_count(1)
    app.get_by_role("button", name="Accept the terms and conditions").click()

    expect(app.get_by_role("heading", name="Create a personal PIN code")).to_be_visible()
    axe_check(app, "create PIN", screens)
    # A PIN the hint forbids is refused at once, with the reason, not after typing it twice.
    app.get_by_label("PIN code", exact=True).fill("123456")
    app.get_by_role("button", name="Next").click()
    expect(app.get_by_role("alert")).to_contain_text("a run such as 123456")
    expect(app.get_by_role("heading", name="Create a personal PIN code")).to_be_visible()
    app.get_by_label("PIN code", exact=True).fill("121212")
    app.get_by_role("button", name="Next").click()
    expect(app.get_by_role("alert")).to_contain_text("a short repeated pattern")
    app.get_by_label("PIN code", exact=True).fill(PIN)
    app.get_by_role("button", name="Next").click()
    expect(app.get_by_role("heading", name="Confirm the PIN code")).to_be_visible()
    axe_check(app, "confirm PIN", screens)
    app.get_by_role("button", name="Back").click()  # the confirming screen has a way back
    app.get_by_label("PIN code", exact=True).fill(PIN)
    app.get_by_role("button", name="Next").click()
    app.get_by_label("PIN code again").fill("111111")
    app.get_by_role("button", name="Next").click()
    expect(app.get_by_role("alert")).to_contain_text("The PIN codes are not the same")
    app.get_by_label("PIN code", exact=True).fill(PIN)
    app.get_by_role("button", name="Next").click()
    app.get_by_label("PIN code again").fill(PIN)
    app.get_by_role("button", name="Next").click()

    expect(app.get_by_role("heading", name="Done")).to_be_visible()
    # The device key is a non-extractable CryptoKey in IndexedDB; nothing there holds the PIN.
    stored = app.evaluate(
        """() => new Promise((ok) => { const r = indexedDB.open('portti-app'); r.onsuccess = () => {
            const g = r.result.transaction('state').objectStore('state').get('device');
            g.onsuccess = () => ok({ extractable: g.result.privateKey.extractable,
              type: g.result.privateKey.type, text: JSON.stringify(g.result) }); }; })"""
    )
    assert stored["extractable"] is False and stored["type"] == "private"
    assert PIN not in stored["text"]
    axe_check(app, "done", screens)
    app.get_by_role("button", name="Continue").click()

    # Unlock with the PIN; a wrong one shows the API's words.
    expect(app.get_by_role("heading", name="Log in to the Portti app")).to_be_visible()
    axe_check(app, "unlock", screens)
    # No fingerprint or face check on this phone: the screen offers only what it has.
    expect(app.get_by_text("Log in with your PIN.", exact=True)).to_be_visible()
    expect(app.get_by_text(re.compile("fingerprint|Face ID"))).to_have_count(0)
    app.get_by_label("PIN code", exact=True).fill("739146")
    app.get_by_role("button", name="Log in with PIN").click()
    expect(app.get_by_role("alert")).to_contain_text("The PIN is wrong")
    app.get_by_label("PIN code", exact=True).fill(PIN)
    app.get_by_role("button", name="Log in with PIN").click()
    expect(app.get_by_role("heading", name=f"Hello, {who.given}")).to_be_visible()
    expect(app.get_by_text("Nothing is waiting for your approval.")).to_be_visible()
    axe_check(app, "home", screens)

    # Log in on a computer: the phone's camera reads the login page's live QR code.
    computer_context = browser.new_context(base_url=live_server.url, locale="en-GB")
    try:
        computer = computer_context.new_page()
        computer.goto("/login")
        expect(computer.get_by_role("img", name=QR_NAME)).to_be_visible()
        # The camera first sees no code: the scanning screen waits, and is checked too.
        app.get_by_role("button", name="Read QR code for web login").click()
        expect(app.get_by_role("status")).to_have_text("Looking for the QR code…")
        assert app.locator("video").get_attribute("data-decoder") in ("jsQR", "BarcodeDetector")
        axe_check(app, "scan", screens)
        app.get_by_role("button", name="Cancel").click()
        # A phone without a camera: said in words, no black box, and typing the code named as
        # the computer's login page names its button.
        app.evaluate(
            """() => { window.realCamera = navigator.mediaDevices.getUserMedia;
                navigator.mediaDevices.getUserMedia = () =>
                  Promise.reject(new DOMException('Requested device not found', 'NotFoundError')); }"""
        )
        app.get_by_role("button", name="Read QR code for web login").click()
        status = app.get_by_role("status")
        expect(status).to_contain_text("No camera was found on this phone.")
        expect(status).not_to_contain_text("NotFoundError")
        expect(status).to_contain_text("press “Type a code instead”")
        expect(computer.get_by_role("button", name="Type a code instead")).to_be_visible()
        expect(app.get_by_label("Camera view")).to_be_hidden()
        expect(app.get_by_role("button", name="Type a code instead")).to_be_focused()
        app.evaluate("() => { navigator.mediaDevices.getUserMedia = window.realCamera; }")
        app.get_by_role("button", name="Cancel").click()
        point_camera_at_qr(computer, phone.camera)
        started = time.perf_counter()
        app.get_by_role("button", name="Read QR code for web login").click()
        expect(app.get_by_role("heading", name="Log in to Portti?")).to_be_visible()
        print(
            f"\ncamera on → approval screen (decode + scan request): "
            f"{(time.perf_counter() - started) * 1000:.0f} ms (jsQR on 640×480 frames)"
        )
        details = app.locator("dl")
        expect(details).to_contain_text("Chrome")
        expect(details).to_contain_text("This network")
        axe_check(app, "approve login", screens)
        number = computer.get_by_text("Pick this number in the app").locator("strong").inner_text()
        app.get_by_label(number, exact=True).check()
        app.get_by_label("PIN code", exact=True).fill(PIN)
        app.get_by_role("button", name="Approve with PIN").click()
        expect(app.get_by_role("status")).to_have_text("Approved. The browser logs you in now.")
        account = computer.get_by_role("navigation", name="Your account")
        expect(account.get_by_role("link", name=f"{who.given} {who.family}")).to_be_visible()

        # A second login, by the typed code, refused with "This wasn't me".
        other = computer_context.browser.new_context(base_url=live_server.url, locale="en-GB")  # type: ignore[union-attr]
        try:
            stranger = other.new_page()
            stranger.goto("/login")
            stranger.get_by_role("button", name="Type a code instead").click()
            code = stranger.get_by_label("Code to type in the app").inner_text()
            app.get_by_role("button", name="Type a code instead").click()
            axe_check(app, "type the code", screens)
            app.get_by_label("Login code").fill(code)
            app.get_by_role("button", name="Next").click()
            app.get_by_role("button", name="This wasn't me").click()
            expect(app.get_by_role("heading", name="Login refused")).to_be_visible()
            expect(app.get_by_role("status")).to_have_text(
                "You refused the login: nobody was logged in, and the browser that asked was "
                "told so."
            )
            expect(app.get_by_text("tell your company's user administrator")).to_be_visible()
            expect(stranger.get_by_role("alert")).to_have_text("The login was refused in the app.")
            app.get_by_role("button", name="Back to the start page").click()
        finally:
            other.close()
    finally:
        computer_context.close()

    # Lock, and back in; log out, and back with "Two-factor authentication already done".
    app.get_by_role("button", name="Lock", exact=True).click()
    expect(app.get_by_role("heading", name="Log in to the Portti app")).to_be_visible()
    app.get_by_label("PIN code", exact=True).fill(PIN)
    app.get_by_role("button", name="Log in with PIN").click()
    app.get_by_role("button", name="Log out", exact=True).click()
    expect(app.get_by_text("You are logged out of the app.")).to_be_visible()
    app.get_by_role("button", name="Don't have a Finnish bank ID").click()
    app.get_by_role("button", name="Two-factor authentication already done").click()
    axe_check(app, "two-factor authentication already done", screens)
    app.get_by_label("E-mail address").fill(who.email)
    app.get_by_label("Password").fill(PASSWORD)
    app.get_by_label("Security code from the authenticator app").fill(authenticator.code())
    app.get_by_role("button", name="Next").click()
    expect(app.get_by_role("heading", name="Create a personal PIN code")).to_be_visible()
    app.get_by_label("PIN code", exact=True).fill(PIN)
    app.get_by_role("button", name="Next").click()
    app.get_by_label("PIN code again").fill(PIN)
    app.get_by_role("button", name="Next").click()
    app.get_by_role("button", name="Continue").click()
    app.get_by_label("PIN code", exact=True).fill(PIN)
    app.get_by_role("button", name="Log in with PIN").click()

    # Log out from all devices: confirmed first, and then a new invitation is needed.
    app.once("dialog", lambda d: d.accept())
    app.get_by_role("button", name="Log out from all devices").click()
    expect(app.get_by_text("You were logged out from")).to_contain_text("new invitation")
    assert all(not v for v in screens.values()), screens
    print(f"\naxe-core: {len(screens)} app screens, no serious or critical violations")


def activate_in_app(app: Page, admin: Page, who: Invitee) -> Authenticator:
    """The activation steps without the checks of the story above; ends on the confirm-PIN screen."""
    signup_code = signup_code_in(mailbox(admin, "email", who.email)[0]["text"])
    app.goto("/app/")
    app.get_by_role("button", name="Don't have a Finnish bank ID").click()
    app.get_by_role("button", name="I have a sign-up code").click()
    app.get_by_label("Sign-up code").fill(signup_code)
    app.get_by_role("button", name="Next").click()
    expect(app.get_by_role("heading", name="Enter the confirmation code")).to_be_visible()
    app.get_by_label("Confirmation code").fill(
        sms_code_in(mailbox(admin, "sms", who.phone)[0]["text"])
    )
    app.get_by_role("button", name="Next").click()
    app.get_by_label("E-mail address").fill(who.email)
    app.get_by_role("button", name="Next").click()
    expect(app.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    email_code = re.search(r"\b(\d{6})\b", mailbox(admin, "email", who.email, count=2)[0]["text"])
    assert email_code
    app.get_by_label("Code from the e-mail").fill(email_code.group(1))
    app.get_by_role("button", name="Next").click()
    app.get_by_label("Password", exact=True).fill(PASSWORD)
    app.get_by_label("Password again").fill(PASSWORD)
    app.get_by_role("button", name="Next").click()
    authenticator = Authenticator(app.get_by_test_id("totp-secret").inner_text().replace(" ", ""))
    app.get_by_label("Security code from the authenticator app").fill(authenticator.code())
    app.get_by_role("button", name="Next").click()
    app.get_by_role("button", name="Accept the terms and conditions").click()
    app.get_by_label("PIN code", exact=True).fill(PIN)
    app.get_by_role("button", name="Next").click()
    expect(app.get_by_role("heading", name="Confirm the PIN code")).to_be_visible()
    app.get_by_label("PIN code again").fill(PIN)
    return authenticator


def test_biometrics_through_the_phones_platform_authenticator(
    browser: Browser, page: Page, live_server: Any
):  # APP-5 WEB-2
    """A virtual platform authenticator (CDP ``WebAuthn``) stands in for the fingerprint reader.
    WebAuthn refuses IP addresses, so the phone opens the app at ``localhost``."""
    log_in_admin(page, KH)
    who = invite_foreign_person(page)
    phone_url = live_server.url.replace("127.0.0.1", "localhost")
    context = browser.new_context(base_url=phone_url, locale="en-GB", **PHONE)
    problems: list[str] = []
    watch_problems(context, problems)
    try:
        app = context.new_page()
        cdp = context.new_cdp_session(app)
        cdp.send("WebAuthn.enable")
        authenticator = cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                    "hasUserVerification": True, "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )  # fmt: skip
        activate_in_app(app, page, who)
        expect(app.get_by_label("Also log in with fingerprint or Face ID")).to_be_checked()
        app.get_by_role("button", name="Next").click()
        expect(app.get_by_role("heading", name="Done")).to_be_visible()
        credentials = cdp.send(
            "WebAuthn.getCredentials", {"authenticatorId": authenticator["authenticatorId"]}
        )["credentials"]
        assert len(credentials) == 1
        app.get_by_role("button", name="Continue").click()

        app.get_by_role("button", name="Log in with fingerprint or Face ID").click()
        expect(app.get_by_role("heading", name=f"Hello, {who.given}")).to_be_visible()

        # Approve a web login with biometrics (the typed code: no camera in this browser).
        computer = browser.new_context(base_url=live_server.url, locale="en-GB")
        try:
            login_page = computer.new_page()
            login_page.goto("/login")
            login_page.get_by_role("button", name="Type a code instead").click()
            code = login_page.get_by_label("Code to type in the app").inner_text()
            app.get_by_role("button", name="Type a code instead").click()
            app.get_by_label("Login code").fill(code)
            app.get_by_role("button", name="Next").click()
            number = login_page.get_by_text("Pick this number in the app").locator("strong")
            expect(number).not_to_be_empty()
            app.get_by_label(number.inner_text(), exact=True).check()
            app.get_by_role("button", name="Approve with fingerprint or Face ID").click()
            expect(app.get_by_role("status")).to_have_text("Approved. The browser logs you in now.")
            account = login_page.get_by_role("navigation", name="Your account")
            expect(account.get_by_role("link", name=f"{who.given} {who.family}")).to_be_visible()
        finally:
            computer.close()

        # A failed fingerprint check (the authenticator refuses user verification): no unlock.
        app.get_by_role("button", name="Lock", exact=True).click()
        cdp.send(
            "WebAuthn.setUserVerified",
            {"authenticatorId": authenticator["authenticatorId"], "isUserVerified": False},
        )
        app.get_by_role("button", name="Log in with fingerprint or Face ID").click()
        expect(app.get_by_role("alert")).not_to_be_empty()
        expect(app.get_by_role("heading", name="Log in to the Portti app")).to_be_visible()
        app.get_by_label("PIN code", exact=True).fill(PIN)
        app.get_by_role("button", name="Log in with PIN").click()
        expect(app.get_by_role("heading", name=f"Hello, {who.given}")).to_be_visible()
    finally:
        context.close()
    assert not problems, problems


def test_finnish_bank_id_activation_and_step_up_approved_in_the_app(
    browser: Browser, page: Page, live_server: Any
):  # APP-9 ADM-2
    """The KH activates the web app with Finnish bank ID (the test provider hands the browser
    back to /app/), then approves her own "Authenticate to add users" from the app's list of
    pending approvals."""
    screens: dict[str, list[str]] = {}
    context = browser.new_context(base_url=live_server.url, locale="en-GB", **PHONE)
    problems: list[str] = []
    watch_problems(context, problems)
    try:
        app = context.new_page()
        app.goto("/app/")
        app.get_by_role("button", name="Finnish bank ID", exact=True).click()
        axe_check(app, "bank ID", screens)
        app.get_by_role("button", name="Identify with Finnish bank ID").click()
        app.get_by_label(KH).check()
        app.get_by_role("button", name="Log in", exact=True).click()
        heading = app.get_by_role("heading", level=1)
        expect(heading).to_have_text(re.compile("Terms and conditions|Create a personal PIN code"))
        if heading.inner_text() == "Terms and conditions":
            app.get_by_role("button", name="Accept the terms and conditions").click()
        app.get_by_label("PIN code", exact=True).fill(PIN)
        app.get_by_role("button", name="Next").click()
        app.get_by_label("PIN code again").fill(PIN)
        app.get_by_role("button", name="Next").click()
        app.get_by_role("button", name="Continue").click()
        app.get_by_label("PIN code", exact=True).fill(PIN)
        app.get_by_role("button", name="Log in with PIN").click()
        expect(app.get_by_role("heading", name="Hello, Kaisa")).to_be_visible()

        # In her browser: Users and roles → Authenticate to add users → with the Portti app.
        log_in_admin(page, KH)
        menu = page.get_by_role("navigation", name="Company menu")
        menu.get_by_text(DESIGN, exact=True).click()
        menu.get_by_role("link", name="Users and roles").click()
        page.get_by_role("link", name="Authenticate to add users").click()
        page.get_by_role("button", name="Authenticate with the Portti app").click()
        number = page.get_by_text("Pick this number in the app").locator("strong")
        expect(number).not_to_be_empty()

        app.get_by_role("button", name="Refresh").click()
        app.get_by_role("button", name="Review").click()
        expect(app.get_by_role("heading", name="Authenticate in Portti?")).to_be_visible()
        axe_check(app, "approve step-up", screens)
        app.get_by_label(number.inner_text(), exact=True).check()
        app.get_by_label("PIN code", exact=True).fill(PIN)
        app.get_by_role("button", name="Approve with PIN").click()
        expect(app.get_by_role("status")).to_have_text("Approved. The browser logs you in now.")
        expect(page.get_by_text("Strong authentication is valid for")).to_be_visible()
    finally:
        context.close()
    assert not problems, problems
