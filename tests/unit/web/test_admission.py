"""The admission gate (``web/admission.py``): at most ``limit`` requests at once, the others
queued first come first served, and refused at once when the queue is full or would not move
in time (OPS-16)."""

from __future__ import annotations

import asyncio
import time

from portti.web.admission import Admission


def test_places_pass_to_waiting_requests_in_order() -> None:  # OPS-16
    async def run() -> list[int]:
        gate = Admission(limit=2, queue_length=10, wait_seconds=5)
        assert await gate.enter() and await gate.enter()
        order: list[int] = []

        async def waiter(i: int) -> None:
            assert await gate.enter()
            order.append(i)

        tasks = [asyncio.create_task(waiter(i)) for i in range(3)]
        await asyncio.sleep(0.01)
        assert gate.waiting == 3 and not order
        for _ in range(3):
            gate.leave()
            await asyncio.sleep(0.01)
        await asyncio.gather(*tasks)
        assert gate.active == 2  # the three took over the places given back
        gate.leave()
        gate.leave()
        assert gate.active == 0 and gate.waiting == 0
        return order

    assert asyncio.run(run()) == [0, 1, 2]


def test_a_full_queue_is_refused_at_once() -> None:  # OPS-16
    async def run() -> None:
        gate = Admission(limit=1, queue_length=1, wait_seconds=5)
        assert await gate.enter()
        queued = asyncio.create_task(gate.enter())
        await asyncio.sleep(0.01)
        started = time.monotonic()
        assert not await gate.enter()
        assert time.monotonic() - started < 0.1
        gate.leave()
        assert await queued

    asyncio.run(run())


def test_a_queue_too_slow_to_serve_in_time_is_refused_at_once() -> None:  # OPS-16
    async def run() -> None:
        gate = Admission(limit=1, queue_length=100, wait_seconds=1)
        for _ in range(50):
            gate.served(0.6)  # each request holds its place about 0.6 s
        assert await gate.enter()
        first = asyncio.create_task(gate.enter())  # its turn in ~0.6 s: it waits
        await asyncio.sleep(0.01)
        assert gate.waiting == 1
        started = time.monotonic()
        assert not await gate.enter()  # its turn in ~1.2 s: refused without waiting
        assert time.monotonic() - started < 0.1
        gate.leave()
        assert await first

    asyncio.run(run())


def test_a_wait_that_runs_out_is_refused_and_keeps_no_place() -> None:  # OPS-16
    async def run() -> None:
        gate = Admission(limit=1, queue_length=10, wait_seconds=0.2)
        assert await gate.enter()
        started = time.monotonic()
        assert not await gate.enter()
        assert 0.15 < time.monotonic() - started < 1.0
        assert gate.waiting == 0
        gate.leave()
        assert gate.active == 0
        assert await gate.enter()

    asyncio.run(run())


def test_a_request_cancelled_while_waiting_keeps_no_place() -> None:  # OPS-16
    async def run() -> None:
        gate = Admission(limit=1, queue_length=10, wait_seconds=5)
        assert await gate.enter()
        queued = asyncio.create_task(gate.enter())
        await asyncio.sleep(0.01)
        queued.cancel()
        await asyncio.gather(queued, return_exceptions=True)
        assert gate.waiting == 0
        gate.leave()
        assert gate.active == 0

    asyncio.run(run())


def test_a_refused_event_stream_is_told_to_reconnect() -> None:  # OPS-16
    """EventSource gives up for good on an error status; a stream that ends with ``retry``
    makes it connect again a second later."""
    from portti.web.errors import refuse_busy

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/login/qr/abc/events",
        "headers": [(b"accept", b"text/event-stream")],
        "query_string": b"",
    }
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        await asyncio.Event().wait()  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    asyncio.run(refuse_busy(scope, receive, send))  # type: ignore[arg-type]
    start = sent[0]
    assert start["status"] == 200
    headers = dict(start["headers"])  # type: ignore[call-overload]
    assert headers[b"content-type"].startswith(b"text/event-stream")
    assert headers[b"retry-after"] == b"1"
    body = b"".join(m.get("body", b"") for m in sent[1:])  # type: ignore[misc]
    assert body == b"retry: 1000\n\n"
