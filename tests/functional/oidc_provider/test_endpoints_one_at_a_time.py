"""On SQLite the authorization and token endpoints run one at a time on a lane of their own
(``web/plain.py``): each of them writes, SQLite takes one writer at a time, and several at once
only handed the interpreter's lock to each other at every statement (OPS-16). On PostgreSQL they
run several at once.

A slow disk is stood in for by a listener that sleeps (releasing the interpreter's lock) before
each statement, so that requests sent together overlap if they are let to."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import event

from portti.runtime import Runtime
from support.oidc import query_of
from support.web import local

from .test_code_flow import log_in_at_portti

AT_ONCE = 8
STATEMENT_SECONDS = 0.01


@pytest.fixture
def overlap(runtime: Runtime) -> Iterator[dict[str, int]]:
    """The most statements of the provider's endpoints running at once."""
    seen = {"now": 0, "most": 0}
    lock = threading.Lock()
    engine = runtime.engine

    def before(*_: Any) -> None:
        with lock:
            seen["now"] += 1
            seen["most"] = max(seen["most"], seen["now"])
        time.sleep(STATEMENT_SECONDS)

    def after(*_: Any) -> None:
        with lock:
            seen["now"] -= 1

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    yield seen
    event.remove(engine, "before_cursor_execute", before)
    event.remove(engine, "after_cursor_execute", after)


def test_the_providers_endpoints_take_turns_on_sqlite(  # OPS-16
    client, rp, cast, runtime: Runtime, request: pytest.FixtureRequest
) -> None:
    callback = log_in_at_portti(client, rp, cast.kaisa)
    assert rp.fetch_token(callback)["access_token"]
    overlap: dict[str, int] = request.getfixturevalue("overlap")

    def round_trip(_: int) -> dict[str, Any]:
        # A business application's login for a person already logged in: a code, then tokens.
        answer = client.get(local(rp.authorization_url()))
        assert answer.status_code == 303, answer.text
        assert "code" in query_of(answer.headers["location"])
        return rp.fetch_token(answer.headers["location"])

    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        tokens = list(pool.map(round_trip, range(AT_ONCE)))

    assert all(t["access_token"] and t["id_token"] for t in tokens)
    if runtime.engine.dialect.name == "sqlite":
        assert overlap["most"] == 1
    else:
        assert overlap["most"] > 1
