"""QR login from a test: a browser that shows the code, and a phone that reads and approves it
through the app API (any httpx client: the in-process TestClient or a live server's)."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from support.device_keys import SimulatedApp
from support.devices import PIN
from support.web import HTML, csrf_from

API = "/app-api/v1"
PANEL_ID = re.compile(r'data-status="/login/qr/([A-Za-z0-9_-]+)/status"')
TYPED_CODE = re.compile(r"<output [^>]*data-qr-code>([0-9A-Z]{4}-[0-9A-Z]{4})</output>")
PANEL_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Panel:
    """The QR panel a browser got: its transaction id and its page (no code to type: that
    comes with "Type a code instead", see ``typed_code``)."""

    public_id: str
    html: str

    @classmethod
    def parse(cls, html: str) -> Panel:
        m_id = PANEL_ID.search(html)
        assert m_id, html
        return cls(public_id=m_id.group(1), html=html)

    @property
    def csrf(self) -> str:
        m = PANEL_CSRF.search(self.html)
        assert m
        return m.group(1)


def origin_of_client(browser: httpx.Client) -> str:
    url = browser.base_url
    return f"{url.scheme}://{url.netloc.decode()}"


def open_qr_login(
    browser: httpx.Client, next_: str = "/", *, headers: dict[str, str] | None = None
) -> Panel:
    """What the login page does when it has loaded: asks for a QR code (htmx). Like a browser's
    ``fetch``, the POST carries the page's ``Origin`` (``headers`` may say another, with the
    ``Host`` a reverse proxy would pass on)."""
    page = browser.get("/login", headers=HTML)
    assert page.status_code == 200, page.text
    r = browser.post(
        "/login/qr",
        data={"next": next_},
        headers={
            "X-CSRF-Token": csrf_from(page),
            "HX-Request": "true",
            "Origin": origin_of_client(browser),
            **HTML,
            **(headers or {}),
        },
    )
    assert r.status_code == 200, r.text
    return Panel.parse(r.text)


def ask_for_typed_code(browser: httpx.Client, panel: Panel) -> httpx.Response:
    """Presses "Type a code instead" (or "Show a new code") on the panel."""
    return browser.post(
        f"/login/qr/{panel.public_id}/code",
        headers={
            "X-CSRF-Token": panel.csrf,
            "HX-Request": "true",
            "Origin": origin_of_client(browser),
            **HTML,
        },
    )


def typed_code(browser: httpx.Client, panel: Panel) -> str:
    """The code the panel shows after "Type a code instead"."""
    r = ask_for_typed_code(browser, panel)
    assert r.status_code == 200, r.text
    m = TYPED_CODE.search(r.text)
    assert m, r.text
    return m.group(1)


def status(browser: httpx.Client, public_id: str) -> dict[str, Any]:
    r = browser.get(f"/login/qr/{public_id}/status")
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def complete(browser: httpx.Client, panel: Panel) -> httpx.Response:
    """What static/qr.js does once approved: submits the panel's form."""
    return browser.post(
        f"/login/qr/{panel.public_id}/complete", data={"csrf_token": panel.csrf}, headers=HTML
    )


def start_step_up_by_app(browser: httpx.Client, next_: str = "/") -> Panel:
    """A logged-in browser asks for "Authenticate with the Portti app" (ADM-2)."""
    page = browser.get(f"/step-up?next={next_}", headers=HTML)
    assert page.status_code == 200, page.text
    r = browser.post(
        "/login/qr/step-up",
        data={"next": next_},
        headers={"X-CSRF-Token": csrf_from(page), **HTML},
    )
    assert r.status_code == 200, r.text
    return Panel.parse(r.text)


@dataclass
class Phone:
    """An unlocked app: a bound device's keys and its app session token."""

    http: httpx.Client
    sim: SimulatedApp
    token: str
    pin: str = PIN

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    def scan(self, payload: str) -> httpx.Response:
        return self.http.post(
            f"{API}/login-approvals/scan", json={"qr": payload}, headers=self.auth
        )

    def type_code(self, code: str) -> httpx.Response:
        return self.http.post(f"{API}/login-approvals/code", json={"code": code}, headers=self.auth)

    def pending(self) -> list[dict[str, Any]]:
        r = self.http.get(f"{API}/login-approvals/pending", headers=self.auth)
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["approvals"]
        return items

    def approve(
        self,
        approval_id: str,
        number: int,
        *,
        pin: str | None = None,
        biometric: bool = False,
        nonce: str | None = None,
    ) -> httpx.Response:
        """With ``nonce`` (the challenge a scan answered with) one request; else the documented
        two: a fresh ``approve_login`` challenge, then the approval."""
        if nonce is None:
            ch = self.http.post(
                f"{API}/devices/{self.sim.public_id}/challenges",
                json={"purpose": "approve_login", "context": approval_id},
            )
            assert ch.status_code == 201, ch.text
            nonce = ch.json()["nonce"]
        body: dict[str, Any] = {
            "nonce": nonce,
            "signature": self.sim.sign("approve_login", nonce, approval_id),
            "number": number,
        }
        if biometric:
            body["biometric_signature"] = self.sim.sign_biometric(
                "approve_login", nonce, approval_id
            )
        else:
            body["pin"] = pin or self.pin
        return self.http.post(
            f"{API}/login-approvals/{approval_id}/approve", json=body, headers=self.auth
        )

    def reject(self, approval_id: str) -> httpx.Response:
        return self.http.post(f"{API}/login-approvals/{approval_id}/reject", headers=self.auth)


@dataclass
class EventListener:
    """Reads a transaction's Server-Sent Events in a thread, noting when each arrived."""

    browser: httpx.Client
    public_id: str
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    status_code: int | None = None
    content_type: str | None = None
    error: BaseException | None = None
    _thread: threading.Thread | None = None
    _got: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> EventListener:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            with self.browser.stream("GET", f"/login/qr/{self.public_id}/events") as r:
                self.status_code = r.status_code
                self.content_type = r.headers.get("content-type")
                for line in r.iter_lines():
                    if line.startswith("data: "):
                        with self._got:
                            self.events.append((time.perf_counter(), json.loads(line[6:])))
                            self._got.notify_all()
        except BaseException as exc:
            self.error = exc
        finally:
            with self._got:
                self._got.notify_all()

    def wait_for(self, status: str, timeout: float = 10.0) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._got:
            while True:
                for at, event in self.events:
                    if event["status"] == status:
                        return at, event
                left = deadline - time.monotonic()
                assert left > 0, f"no {status!r} event; got {self.events}, error {self.error}"
                self._got.wait(left)

    def statuses(self) -> list[str]:
        return [e["status"] for _, e in self.events]

    def join(self, timeout: float = 10.0) -> None:
        assert self._thread is not None
        self._thread.join(timeout)


def reference_app_state(state_dir: Path, base_url: str, phone: Phone) -> Path:
    """The reference client's state directory for ``phone``'s device, unlocked: what
    ``portti-app`` would hold after activation and unlock."""
    from cryptography.hazmat.primitives import serialization

    state_dir.mkdir(parents=True, exist_ok=True)
    pem = phone.sim.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (state_dir / "device_key.pem").write_bytes(pem)
    state = {
        "base_url": base_url,
        "device_id": phone.sim.public_id,
        "key_alg": phone.sim.alg,
        "biometrics": False,
        "app_session_token": phone.token,
        "step": "done",
    }
    (state_dir / "state.json").write_text(json.dumps(state))
    return state_dir


def log_in_by_app(browser: httpx.Client, phone: Phone) -> httpx.Response:
    """A whole QR login: the browser shows the panel, the phone types its code (as when the
    camera cannot be used), picks the number shown and approves; the browser completes."""
    panel = open_qr_login(browser)
    read = phone.type_code(typed_code(browser, panel))
    assert read.status_code == 200, read.text
    number = status(browser, panel.public_id)["number"]
    approved = phone.approve(panel.public_id, number, nonce=read.json()["challenge"]["nonce"])
    assert approved.status_code == 200, approved.text
    return complete(browser, panel)


# -- in-process tests: an app bound straight in the database, and what the page shows --------

CHROME_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def phone_of(app, db, settings, clock, person, *, biometrics: bool = False) -> Phone:  # type: ignore[no-untyped-def]
    """An unlocked app of ``person``'s, bound with ``DeviceBinding.bind``."""
    from support.devices import bind, make_service, unlock
    from support.web import another_browser

    service = make_service(db, app)
    _, sim, _ = bind(service, db, person, clock, app=SimulatedApp(biometrics=biometrics))
    _, token = unlock(service, sim)
    db.commit()
    return Phone(http=another_browser(app), sim=sim, token=token)


def tx_row(db, public_id: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from portti.weblogin.models import LoginTransaction
    from support.db import fresh

    fresh(db)
    return db.scalars(select(LoginTransaction).where(LoginTransaction.public_id == public_id)).one()


def frame(db, settings, clock, panel: Panel, *, seconds_ago: int = 0) -> str:  # type: ignore[no-untyped-def]
    """The QR payload the page shows now (or showed ``seconds_ago``), as the app reads it."""
    from portti.qrlogin.frames import QrFrames, elapsed_seconds

    tx = tx_row(db, panel.public_id)
    elapsed = elapsed_seconds(tx.created_at, clock.now()) - seconds_ago
    return QrFrames(settings.secret).payload(panel.public_id, elapsed)


def scanned(phone: Phone, db, settings, clock, panel: Panel) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = phone.scan(frame(db, settings, clock, panel))
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def number_shown(browser: httpx.Client, panel: Panel) -> int:
    shown = status(browser, panel.public_id)
    assert shown["status"] == "scanned" and shown["number"] is not None
    return int(shown["number"])


def problem_code(r: httpx.Response) -> str:
    return str(r.json()["code"])
