"""The request's unit of work: one transaction per request, committed or rolled back here, not
in the routes.

``web/deps.py`` opens it for every route (``get_unit_of_work``). It ends when the handler has
returned or raised, *before* the response is sent (a FastAPI dependency with
``scope="function"``), so a commit that fails answers 500, never a 200 already on the wire:

- the handler returned: commit, then run the after-commit effects;
- the handler raised a ``DomainError`` whose class ``keeps_writes`` (a counted wrong PIN or
  code, an audited refusal): commit, run the effects, let the error answer;
- anything else: roll back.

After-commit effects (``after_commit``) are what must not happen for work that is rolled back
and must not be seen before the commit: telling waiting browsers that a login moved on. They
run in order; one that fails is logged and does not undo the commit or stop the others. The
outbox worker is woken the same way, by the unit of work itself: after a commit, when the
session queued messages (``infra/outbox.take_queued``).

A write that must stay whatever the route then does calls ``commit_now()`` (the session's
sliding idle time, ``get_optional_session``). Services that must commit mid-request say why
where they do: the PIN try counted before the argon2 check (``devices/pins.py``), the OIDC
flow spent before the provider is called (``strongauth/services.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import anyio.to_thread
import structlog
from sqlalchemy.orm import Session

from portti.errors import DomainError
from portti.infra.outbox import QUEUED, OutboxWakeup, take_queued

log = structlog.get_logger(__name__)


class UnitOfWork:
    def __init__(self, db: Session, outbox_wakeup: OutboxWakeup | None = None) -> None:
        self.db = db
        self._effects: list[Callable[[], None]] = []
        self._outbox_wakeup = outbox_wakeup

    def after_commit(self, effect: Callable[[], None]) -> None:
        """Run ``effect`` once this request's writes are committed; never if they are rolled
        back."""
        self._effects.append(effect)

    def commit_now(self) -> None:
        """An intermediate commit, for a write that must stay even if what follows fails or
        takes long. The request's transaction goes on afterwards."""
        self.db.commit()

    def refused(self, exc: DomainError) -> None:
        """A route that answers a refusal itself (a form shown again with its errors) ends the
        refused work as this would have: what the refusal keeps stays, the rest is rolled back.
        The route's answer is then a success, committed as usual."""
        if not exc.keeps_writes:
            self.db.rollback()

    @staticmethod
    def keeps_writes(exc: BaseException) -> bool:
        return isinstance(exc, DomainError) and exc.keeps_writes

    async def finish(self, exc: BaseException | None) -> None:
        """Commit (on success or a refusal that keeps its writes) and run the effects, or roll
        back: off the event loop, in one hop, as the handlers' own work was. The commit may wait
        on the database, and the effects were written for a handler's thread (the event bus's
        ``publish_threadsafe`` returns once the message is out). Not in the handlers' thread
        pool: when every worker thread waits for a connection, the commit that gives one back
        must still run (``get_db`` closes sessions on a limiter of its own for the same
        reason)."""
        commit = self._decide(exc)
        if commit is not None:
            await anyio.to_thread.run_sync(self._end, commit, limiter=anyio.CapacityLimiter(1))

    def end(self, exc: BaseException | None) -> None:
        """``finish`` on the calling thread: for work that already runs in a handler thread,
        holding its connection (``web/plain.py``), so the commit needs no hop of its own."""
        commit = self._decide(exc)
        if commit is not None:
            self._end(commit)

    def _decide(self, exc: BaseException | None) -> bool | None:
        """Commit (True) or roll back (False) after ``exc`` (None: the work returned); None
        when there is nothing to end: no transaction, no effects, nothing queued."""
        commit = exc is None or self.keeps_writes(exc)
        if not commit:
            self._effects.clear()
        if self.db.in_transaction() or self._effects or self._queued():
            return commit
        return None

    def _end(self, commit: bool) -> None:
        if not commit:
            try:
                self.db.rollback()
            except Exception:  # the connection is gone (a database outage): nothing to undo
                log.warning("rollback_failed")
            take_queued(self.db)
            return
        if self.db.in_transaction():
            self.db.commit()
        self.run_effects()

    def _queued(self) -> bool:
        return self._outbox_wakeup is not None and bool(self.db.info.get(QUEUED))

    def run_effects(self) -> None:
        effects, self._effects = self._effects, []
        if take_queued(self.db) and self._outbox_wakeup is not None:
            effects.insert(0, self._outbox_wakeup.notify)
        for effect in effects:
            try:
                effect()
            except Exception:  # the commit stands; the worker's poll or a re-read catches up
                log.exception("after_commit_effect_failed")
