"""``LoginTransactionService``: the QR login's one service, made of its sides (each a module of
this package) over the shared state machine."""

from __future__ import annotations

from portti.weblogin.qr.approvals import AppApprovals
from portti.weblogin.qr.browser import BrowserLogins
from portti.weblogin.qr.codes import ShortCodes


class LoginTransactionService(BrowserLogins, ShortCodes, AppApprovals):
    """What the routes call: the browser's side (``start``, ``issue_short_code``,
    ``for_browser``, ``complete``), the app's (``scan``, ``scan_code``, ``approve``,
    ``reject``) and ``publish_changes`` after the commit."""
