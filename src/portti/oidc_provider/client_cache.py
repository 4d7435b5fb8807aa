"""The clients each process holds: read whole once, then checked by their version alone.

Every authorization and every token request names its client; reading the whole row into an
ORM object each time cost more than the rest of the lookup. The cache keeps a detached copy
per client id and, per request, reads only the client's ``version`` (raised by the ORM on
every change: registration settings, a new secret, disabling), reading the row again when it
moved. A change is thus seen by every process at its next request, as before; nothing is
trusted for a time. The copies are read-only: changes go through ``ClientService``, which
reads its own."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from portti.db.base import table_of
from portti.oidc_provider.models import OidcClient

# A bound on what one process holds: past it the cache starts again (clients are few; this
# only stops a flood of made-up ids that exist from growing it).
MAX_HELD = 1000

_clients = table_of(OidcClient)
_VERSION = select(_clients.c.version).where(_clients.c.client_id == bindparam("cid"))
_CLIENT = select(OidcClient).where(OidcClient.client_id == bindparam("cid"))


class ClientCache:
    def __init__(self) -> None:
        self._held: dict[str, OidcClient] = {}

    def get(self, db: Session, client_id: str) -> OidcClient | None:
        """The client as it is now in the database (disabled ones included), or None."""
        version = db.execute(_VERSION, {"cid": client_id}).scalar()
        if version is None:
            return None
        held = self._held.get(client_id)
        if held is not None and held.version == version:
            return held
        client = db.scalars(_CLIENT, {"cid": client_id}).one_or_none()
        if client is None:
            return None
        db.expunge(client)
        if len(self._held) >= MAX_HELD:
            self._held = {}
        self._held[client_id] = client
        return client
