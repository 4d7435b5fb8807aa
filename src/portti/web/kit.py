"""What the web kit reads of the running app: settings, clock, database, templates, keys, the
outbox's wake-up and the drain. The composition's ``Runtime`` is a ``Kit`` with the domains'
objects added; the app keeps it as ``app.state.runtime``, and the kit reaches its own part
through ``kit(request)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from portti.config import Settings
    from portti.infra.clock import Clock
    from portti.infra.outbox import OutboxWakeup
    from portti.keys.services import KeyStore
    from portti.web.drain import Drain


@dataclass(eq=False)
class Kit:
    settings: Settings
    clock: Clock
    engine: Engine
    session_factory: sessionmaker[Session]
    templates: Jinja2Templates
    # Portti's own keys (``/readyz`` opens them).
    keys: KeyStore
    # Woken by the unit of work after a commit that queued messages.
    outbox_wakeup: OutboxWakeup
    # Set when the server begins to stop: long-lived responses end with a reconnection hint.
    drain: Drain


def kit(conn: HTTPConnection) -> Kit:
    """The running app's ``Kit``."""
    state: Kit = conn.app.state.runtime
    return state
