"""StreamWatch: one statement re-reads every waiting browser's transaction (WEB-1), brings
expiry, and survives a lost message (OPS-2)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import event, update

from portti.audit.services import AuditLog, RequestContext
from portti.infra.events import Subscription
from portti.qrlogin import LoginTransactionService
from portti.qrlogin.watch import StreamWatch
from portti.weblogin.models import LoginTransaction


def start_logins(app: Any, db: Any, clock: Any, settings: Any, count: int) -> list[str]:
    qr = LoginTransactionService(db, clock, AuditLog(db, clock), secret=settings.secret)
    ids = []
    for i in range(count):
        tx = qr.start(
            binding_cookie=f"cookie-{i}", ctx=RequestContext(), browser_id="b" * 24 + str(i)
        )
        ids.append(tx.public_id)
    db.commit()
    return ids


def statements_on(engine: Any) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _note(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    return seen


def test_one_statement_reads_every_waiting_browser(app, db, clock, settings) -> None:  # WEB-1
    ids = start_logins(app, db, clock, settings, 60)
    seen = statements_on(app.state.runtime.engine)
    watch = StreamWatch(app.state.runtime.engine, clock.now, interval=0.05)

    async def scenario() -> dict[str, dict[str, Any]]:
        subs = {public_id: Subscription("login:" + public_id) for public_id in ids}
        got: dict[str, dict[str, Any]] = {}
        async with asyncio.timeout(5), contextlib.AsyncExitStack() as stack:
            for public_id, sub in subs.items():
                await stack.enter_async_context(watch.watch(public_id, sub))
            for public_id, sub in subs.items():
                message = await sub.get()
                got[public_id] = json.loads(message)
        return got

    got = asyncio.run(scenario())
    assert set(got) == set(ids)
    assert {state["status"] for state in got.values()} == {"pending"}
    reads = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1, reads  # one round, one statement, 60 transactions
    assert "IN (" in reads[0]


def test_a_change_nobody_published_and_expiry_reach_the_stream(  # WEB-1, OPS-2
    app, db, clock, settings
) -> None:
    first, second = start_logins(app, db, clock, settings, 2)
    watch = StreamWatch(app.state.runtime.engine, clock.now, interval=0.05)

    async def next_status(sub: Subscription, wanted: str) -> dict[str, Any]:
        while True:
            state = json.loads(await sub.get(5) or "{}")
            if state.get("status") == wanted:
                return state

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        a, b = Subscription("a"), Subscription("b")
        async with watch.watch(first, a), watch.watch(second, b):
            await next_status(a, "pending")
            # As when the approval went through an instance whose message never arrived.
            t = LoginTransaction
            db.execute(update(t).where(t.public_id == first).values(status="scanned"))
            db.commit()
            scanned = await next_status(a, "scanned")
            clock.advance(timedelta(minutes=3))
            expired = await next_status(b, "expired")
        return scanned, expired

    scanned, expired = asyncio.run(scenario())
    assert scanned["number"] is not None  # the browser can show the number to pick
    assert expired["expires_in"] == 0


def test_the_watch_stops_when_nobody_waits(app, db, clock, settings) -> None:  # WEB-1
    (only,) = start_logins(app, db, clock, settings, 1)
    watch = StreamWatch(app.state.runtime.engine, clock.now, interval=0.02)

    async def scenario() -> bool:
        sub = Subscription("x")
        async with watch.watch(only, sub):
            assert watch.watching() == 1
            await sub.get(5)
        assert watch.watching() == 0
        task = watch._task
        assert task is not None
        await asyncio.wait_for(asyncio.shield(task), 2)
        return task.done()

    assert asyncio.run(scenario())


def test_closing_stops_the_rereads(app, db, clock, settings) -> None:  # WEB-1
    (only,) = start_logins(app, db, clock, settings, 1)
    watch = StreamWatch(app.state.runtime.engine, clock.now, interval=0.02)

    async def scenario() -> bool:
        sub = Subscription("x")
        async with watch.watch(only, sub):
            await sub.get(5)
            task = watch._task
            assert task is not None and not task.done()
            await watch.close()
            return task.cancelled()

    assert asyncio.run(scenario())
