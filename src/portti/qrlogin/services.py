"""``LoginTransactionService``: the QR login's one service, made of its sides (each a module of
this package) over the shared state machine."""

from __future__ import annotations

from portti.qrlogin.approvals import AppApprovals
from portti.qrlogin.browser import BrowserLogins
from portti.qrlogin.codes import ShortCodes


class LoginTransactionService(BrowserLogins, ShortCodes, AppApprovals):
    """What the routes call: the browser's side (``start``, ``issue_short_code``,
    ``for_browser``, ``complete``), the app's (``scan``, ``scan_code``, ``approve``,
    ``reject``) and ``publish_changes`` after the commit."""
