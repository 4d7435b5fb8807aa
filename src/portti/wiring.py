"""Connects the subscribers of ``portti.hooks``: the one place where a lower floor's
announcements meet the floors above (docs/architecture.md). Called by the application, the
command line and the worker before any work; connecting twice changes nothing."""

from __future__ import annotations

from portti.invitations import subscribers as invitation_subscribers
from portti.oidc_provider import subscribers as login_subscribers


def connect_hooks() -> None:
    login_subscribers.connect()
    invitation_subscribers.connect()
