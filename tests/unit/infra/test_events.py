"""The event bus contract (server push, WEB-1; across processes, OPS-2), one suite run against
the in-memory bus, PostgreSQL LISTEN/NOTIFY and Redis pub/sub; then what only the shared ones
do: carry a message from one process's bus to another's."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Awaitable, Callable

import psycopg
import pytest
import redis

from portti.infra.events import (
    EventBus,
    InMemoryEventBus,
    PostgresEventBus,
    RedisEventBus,
    make_event_bus,
    pg_identifier,
)

PG_URL = os.environ.get("PORTTI_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("PORTTI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WAIT = 5.0


def _reachable(kind: str) -> str | None:
    try:
        if kind == "postgresql":
            with psycopg.connect(PG_URL, connect_timeout=2):
                return None
        else:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
            return None
    except Exception as exc:
        return f"{kind} not reachable: {exc}"


def make(kind: str) -> EventBus:
    if kind == "memory":
        return InMemoryEventBus()
    if kind == "postgresql":
        return PostgresEventBus(PG_URL)
    return RedisEventBus(REDIS_URL)


@pytest.fixture(params=["memory", "postgresql", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    if request.param != "memory":
        why = _reachable(request.param)
        if why:
            if os.environ.get("CI") == "true":
                pytest.fail(why)
            pytest.skip(why)
    return str(request.param)


Scenario = Callable[[EventBus], Awaitable[None]]


def run(kind: str, scenario: Scenario) -> None:
    async def main() -> None:
        bus = make(kind)
        await bus.start()
        try:
            await asyncio.wait_for(scenario(bus), 20)
        finally:
            await bus.close()

    asyncio.run(main())


def channel() -> str:
    return f"test:{uuid.uuid4().hex}"


def test_a_message_published_after_subscribing_arrives(kind):  # WEB-1
    async def scenario(bus: EventBus) -> None:
        ch = channel()
        async with bus.subscribe(ch) as sub:
            await bus.publish(ch, "approved")
            assert await sub.get(WAIT) == "approved"

    run(kind, scenario)


def test_every_subscriber_of_a_channel_gets_it_and_no_other_channel_does(kind):  # WEB-1
    async def scenario(bus: EventBus) -> None:
        a, b = channel(), channel()
        async with bus.subscribe(a) as a1, bus.subscribe(a) as a2, bus.subscribe(b) as b1:
            await bus.publish(a, "one")
            await bus.publish(a, "two")
            assert [await a1.get(WAIT), await a1.get(WAIT)] == ["one", "two"]
            assert [await a2.get(WAIT), await a2.get(WAIT)] == ["one", "two"]
            assert await b1.get(0.3) is None

    run(kind, scenario)


def test_publish_threadsafe_from_a_worker_thread_arrives(kind):  # WEB-1
    """`def` handlers run in the threadpool and publish after their commit."""

    async def scenario(bus: EventBus) -> None:
        ch = channel()
        async with bus.subscribe(ch) as sub:
            t = threading.Thread(target=bus.publish_threadsafe, args=(ch, "from a thread"))
            t.start()
            assert await sub.get(WAIT) == "from a thread"
            await asyncio.to_thread(t.join)

    run(kind, scenario)


def test_publish_threadsafe_on_the_loop_itself_does_not_block(kind):  # WEB-1
    async def scenario(bus: EventBus) -> None:
        ch = channel()
        async with bus.subscribe(ch) as sub:
            bus.publish_threadsafe(ch, "same loop")
            assert await sub.get(WAIT) == "same loop"

    run(kind, scenario)


def test_leaving_stops_delivery_and_subscribing_again_works(kind):  # WEB-1
    async def scenario(bus: EventBus) -> None:
        ch = channel()
        async with bus.subscribe(ch) as sub:
            await bus.publish(ch, "first")
            assert await sub.get(WAIT) == "first"
        await bus.publish(ch, "nobody listens")
        for i in range(3):  # unsubscribe and subscribe again, several times over
            async with bus.subscribe(ch) as again:
                await bus.publish(ch, f"again {i}")
                got = [await again.get(WAIT)]
                # A message from just before subscribing may arrive too (PostgreSQL unlistens
                # lazily); what was published after it always does, and in order.
                while got[-1] != f"again {i}":
                    got.append(await again.get(WAIT))
                assert set(got[:-1]) <= {"nobody listens", *(f"again {j}" for j in range(i))}
                assert await again.get(0.2) is None

    run(kind, scenario)


def test_two_hundred_waiting_subscribers_each_get_their_message(kind):  # WEB-1
    async def scenario(bus: EventBus) -> None:
        channels = [channel() for _ in range(200)]
        got: dict[str, str | None] = {}
        ready = asyncio.Event()
        subscribed = 0

        async def wait_on(ch: str) -> None:
            nonlocal subscribed
            async with bus.subscribe(ch) as sub:
                subscribed += 1
                if subscribed == len(channels):
                    ready.set()
                got[ch] = await sub.get(WAIT)

        waiters = [asyncio.create_task(wait_on(ch)) for ch in channels]
        await asyncio.wait_for(ready.wait(), WAIT)
        for ch in channels:
            await bus.publish(ch, ch[-8:])
        await asyncio.gather(*waiters)
        assert got == {ch: ch[-8:] for ch in channels}

    run(kind, scenario)


def test_any_channel_name_works(kind):
    async def scenario(bus: EventBus) -> None:
        for ch in ['login:"quoted"; DROP', "ä" * 100, "x" * 500]:
            async with bus.subscribe(ch) as sub:
                await bus.publish(ch, '{"status": "scanned", "number": 42}')
                assert await sub.get(WAIT) == '{"status": "scanned", "number": 42}'

    run(kind, scenario)


@pytest.mark.parametrize("shared", ["postgresql", "redis"])
def test_a_message_crosses_from_one_process_bus_to_another(shared):  # OPS-2, WEB-1
    """Two buses, as two server processes have: the browser waits on one, the approval is
    published through the other."""
    why = _reachable(shared)
    if why:
        pytest.skip(why)

    async def main() -> None:
        waiting, approving = make(shared), make(shared)
        await waiting.start()
        await approving.start()
        try:
            ch = channel()
            async with waiting.subscribe(ch) as sub:
                await asyncio.to_thread(approving.publish_threadsafe, ch, "approved")
                assert await sub.get(WAIT) == "approved"
        finally:
            await waiting.close()
            await approving.close()

    asyncio.run(main())


def test_postgres_channel_identifiers_are_valid_and_distinct():
    a, b = pg_identifier("login:abc"), pg_identifier("login:abd")
    assert a != b and len(a) <= 63 and a.replace("_", "").isalnum()


def test_the_bus_is_chosen_by_its_url():
    assert isinstance(make_event_bus("memory://", "sqlite:///x.db"), InMemoryEventBus)
    assert isinstance(make_event_bus("postgresql", PG_URL), PostgresEventBus)
    assert isinstance(make_event_bus("redis://127.0.0.1:6379/0", "sqlite://"), RedisEventBus)
    with pytest.raises(ValueError, match="PostgreSQL"):
        make_event_bus("postgresql", "sqlite:///x.db")
    with pytest.raises(ValueError, match="Unknown"):
        make_event_bus("kafka://x", "sqlite://")
