"""QR login (WEB-1, WEB-2) and step-up by the app (ADM-2): the login transaction's state machine,
its QR code that changes every second, the short code to type (shown on request, valid 30
seconds; SEC-13), and what the app is told about the browser that is asking.

One state machine::

    pending ──scan (app)──▶ scanned ──approve (PIN/biometrics + number)──▶ approved
       │                      │                                             │
       │                      └─ reject ("This wasn't me"), wrong number,   └─ complete (the
       │                         replaced by a newer one ──▶ rejected          browser that
       └──────────── 2 minutes ──▶ expired                                      showed it) ──▶
                                                                               completed
A step-up (``purpose = step_up``) is bound to a web session and its person from the start; that
person's app sees it as a pending approval ("push") and may approve it without scanning.

The modules, one concern each: ``frames`` (the per-second payload, its MAC, the SVG), ``codes``
(the code to type), ``requester`` (origin and browser shown to the app), ``state`` (what the
waiting browser is told), ``machine`` (transitions, audit of failures, publishing), ``browser``
and ``approvals`` (the two sides), ``service`` (the one class routes use). The statements they
run are in ``qrlogin.queries``.

This module exports what the routes use; tests and tools import the modules themselves.
"""

from portti.qrlogin.approvals import APPROVE_PURPOSE
from portti.qrlogin.codes import format_short_code
from portti.qrlogin.frames import render_qr_svg
from portti.qrlogin.requester import browser_and_system, describe_browser, origin_of
from portti.qrlogin.services import LoginTransactionService
from portti.qrlogin.state import BrowserState, channel_of, read_browser_state

__all__ = [
    "APPROVE_PURPOSE",
    "BrowserState",
    "LoginTransactionService",
    "browser_and_system",
    "channel_of",
    "describe_browser",
    "format_short_code",
    "origin_of",
    "read_browser_state",
    "render_qr_svg",
]
