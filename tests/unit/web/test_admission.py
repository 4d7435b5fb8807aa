"""The admission gate (``web/admission.py``): at most ``limit`` requests at once, the others
queued first come first served, and refused at once when the queue is full or would not move
in time (OPS-16)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

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


def test_a_login_goes_ahead_of_the_queue() -> None:  # OPS-16
    """A phone's approval or a QR login's step is let in before pages that came first: at a
    peak the rest is turned away, not a person halfway through logging in."""

    async def run() -> list[str]:
        gate = Admission(limit=1, queue_length=10, wait_seconds=5)
        assert await gate.enter()
        order: list[str] = []

        async def waiter(name: str, first: bool) -> None:
            assert await gate.enter(first)
            order.append(name)
            gate.leave()

        tasks = [asyncio.create_task(waiter(f"page {i}", False)) for i in range(2)]
        await asyncio.sleep(0.01)
        tasks.append(asyncio.create_task(waiter("approval", True)))
        await asyncio.sleep(0.01)
        assert gate.waiting == 3
        gate.leave()
        await asyncio.gather(*tasks)
        assert gate.active == 0 and gate.waiting == 0
        return order

    assert asyncio.run(run()) == ["approval", "page 0", "page 1"]


def test_a_login_waits_when_pages_are_refused() -> None:  # OPS-16
    async def run() -> None:
        gate = Admission(limit=1, queue_length=100, wait_seconds=1)
        for _ in range(50):
            gate.served(0.4)  # each request holds its place about 0.4 s
        assert await gate.enter()
        pages = [asyncio.create_task(gate.enter()) for _ in range(2)]  # turns in ~0.4, ~0.8 s
        await asyncio.sleep(0.01)
        started = time.monotonic()
        assert not await gate.enter()  # a third page: its turn in ~1.2 s, refused at once
        assert time.monotonic() - started < 0.1
        approval = asyncio.create_task(gate.enter(first=True))  # its turn in ~0.4 s
        await asyncio.sleep(0.01)
        assert not approval.done() and gate.waiting == 3
        gate.leave()
        assert await approval
        gate.leave()
        assert await pages[0]
        gate.leave()
        assert await pages[1]

    asyncio.run(run())


def test_which_requests_are_a_login() -> None:  # OPS-16
    from portti.web.admission import is_a_login

    for path in (
        "/login",
        "/login/qr",
        "/login/qr/abc/events",
        "/login/qr/abc/complete",
        "/login/start",
        "/login/callback",
        "/app-api/v1/challenges/abc/approve",
        "/oidc/authorize",
        "/oidc/consent",
        "/oidc/token",
    ):
        assert is_a_login(path), path
    for path in ("/logout", "/oidc/userinfo", "/oidc/logout", "/c/1/users", "/api/v1/me", "/"):
        assert not is_a_login(path), path


def test_the_rest_keeps_a_share_of_the_places_while_logins_wait() -> None:  # OPS-16
    """Three places to logins for each one to the rest: at a peak of logins the admin's pages
    are turned away first but never shut out."""

    async def run() -> list[str]:
        gate = Admission(limit=1, queue_length=20, wait_seconds=5)
        assert await gate.enter()
        order: list[str] = []

        async def waiter(name: str, first: bool) -> None:
            assert await gate.enter(first)
            order.append(name)

        tasks = [asyncio.create_task(waiter(f"page {i}", False)) for i in range(2)]
        tasks += [asyncio.create_task(waiter(f"login {i}", True)) for i in range(5)]
        await asyncio.sleep(0.01)
        for _ in range(7):
            gate.leave()
            await asyncio.sleep(0.01)
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(run()) == [
        "login 0", "login 1", "login 2", "page 0", "login 3", "login 4", "page 1"
    ]  # fmt: skip


def _gated_get(
    seen: list[str], release: asyncio.Event, *, queue_length: int, held: str | None = None
) -> Callable[[str], Awaitable[None]]:
    """``get(path)`` through the admission middleware (one place) around an app that notes
    each request's path and waits for ``release`` on ``held`` (on every request when None);
    a refused request is noted as "refused <path>"."""
    from portti.web.admission import AdmissionMiddleware

    async def app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        seen.append(scope["path"])
        if held is None or scope["path"] == held:
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def refuse(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        seen.append("refused " + scope["path"])

    gate = AdmissionMiddleware(
        app, admission=Admission(limit=1, queue_length=queue_length, wait_seconds=5), refuse=refuse
    )

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: object) -> None:
        return None

    async def get(path: str) -> None:
        await gate({"type": "http", "path": path, "method": "GET"}, receive, send)  # type: ignore[arg-type]

    return get


def test_the_gate_lets_a_login_in_before_a_page_that_came_first() -> None:  # OPS-16
    """The middleware tells a login's request by its path."""

    async def run() -> list[str]:
        seen: list[str] = []
        release = asyncio.Event()
        get = _gated_get(seen, release, queue_length=10, held="/c/1/users/held")
        held = asyncio.create_task(get("/c/1/users/held"))
        await asyncio.sleep(0.01)
        page = asyncio.create_task(get("/c/1/users"))
        await asyncio.sleep(0.01)
        login = asyncio.create_task(get("/app-api/v1/challenges/abc/approve"))
        await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(held, page, login)
        return seen

    assert asyncio.run(run()) == [
        "/c/1/users/held", "/app-api/v1/challenges/abc/approve", "/c/1/users"
    ]  # fmt: skip


def test_refusals_and_waits_are_counted_by_queue() -> None:  # OPS-16 OPS-11
    """``portti_admission_refusals_total`` and ``portti_admission_waiting`` tell an operator
    whether logins themselves are being turned away, or only the rest."""
    from prometheus_client import REGISTRY

    def value(name: str, queue: str) -> float:
        return REGISTRY.get_sample_value(name, {"queue": queue}) or 0.0

    async def run() -> None:
        release = asyncio.Event()
        get = _gated_get([], release, queue_length=1)
        refused = {q: value("portti_admission_refusals_total", q) for q in ("login", "other")}
        tasks = [asyncio.create_task(get("/c/1/users"))]  # served: holds the only place
        await asyncio.sleep(0.01)
        tasks += [asyncio.create_task(get(p)) for p in ("/c/1/users", "/login/qr")]  # queued
        await asyncio.sleep(0.01)
        assert value("portti_admission_waiting", "other") == 1
        assert value("portti_admission_waiting", "login") == 1
        await get("/c/2/users")  # the rest's queue is full: refused
        await get("/login/qr/abc/events")  # the logins' queue is full: refused
        assert value("portti_admission_refusals_total", "other") == refused["other"] + 1
        assert value("portti_admission_refusals_total", "login") == refused["login"] + 1
        release.set()
        await asyncio.gather(*tasks)
        assert value("portti_admission_waiting", "other") == 0
        assert value("portti_admission_waiting", "login") == 0

    asyncio.run(run())
