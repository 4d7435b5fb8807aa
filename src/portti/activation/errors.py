"""Activation errors with stable codes the app switches on."""

from __future__ import annotations

from portti.errors import Forbidden
from portti.i18n import _l


class BankIdNotFinnish(Forbidden):
    """A refusal, not a malformed request (SEC-20): the provider exists, it is not bank ID."""

    code = "bank_id_not_finnish"
    message = _l("Only Finnish bank ID activates the app without an invitation.")
