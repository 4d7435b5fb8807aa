"""Redis is an accelerator, not a dependency (OPS-16).

The app carries its events (QR login) and its rate limits in a Redis server that this test
starts on a free port of its own (``redis-server --port N --save '' --appendonly no``) and
stops: the instance starts while Redis is down, a QR login completes without it (the browser
hears the approval from the database re-check, ``qr_recheck_seconds``), and once Redis answers
again the instance subscribes and counts there again, without a restart.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from portti.config import Settings
from portti.infra.ratelimit import LimitsRateLimiter
from portti.runtime import Runtime
from support.qr import EventListener, Phone, complete, number_shown, open_qr_login, scanned
from support.sinks import free_port, wait_until


class RedisServer:
    """A ``redis-server`` subprocess on one port, started and stopped at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self._proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_until(self.answers, timeout=10), "redis-server did not start"

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1)

    def answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def settings(settings: Settings, redis_server: RedisServer) -> Settings:
    return settings.model_copy(
        update={
            "event_bus_url": redis_server.url,
            "rate_limit_storage_url": redis_server.url,
        }
    )


@pytest.fixture
def runtime(app) -> Runtime:  # type: ignore[no-untyped-def]
    rt: Runtime = app.state.runtime
    # Tries Redis again after 0.2 s of counting in memory, not 5 s: the test waits for it.
    rt.limiter = LimitsRateLimiter(rt.settings.rate_limit_storage_url, retry_seconds=0.2)
    return rt


def unlock_app(phone: Phone) -> None:
    """The app unlocks with its PIN (rate limited per device)."""
    ch = phone.http.post(
        f"/app-api/v1/devices/{phone.sim.public_id}/challenges", json={"purpose": "unlock"}
    )
    assert ch.status_code == 201, ch.text
    nonce = ch.json()["nonce"]
    r = phone.http.post(
        f"/app-api/v1/devices/{phone.sim.public_id}/unlock",
        json={"nonce": nonce, "signature": phone.sim.sign("unlock", nonce), "pin": phone.pin},
    )
    assert r.status_code == 200, r.text
    phone.token = r.json()["app_session_token"]


def log_in_with_the_app(  # type: ignore[no-untyped-def]
    browser: TestClient, phone: Phone, db, settings, clock, redis_server=None
) -> float:
    """A whole QR login, the browser listening on its event stream; the seconds from the
    approval to the browser hearing it. With ``redis_server``: the stream's channel is
    subscribed there."""
    panel = open_qr_login(browser)
    listener = EventListener(browser, panel.public_id).start()
    listener.wait_for("pending")
    if redis_server is not None:
        assert len(redis_server.client().pubsub_channels("portti:events:login:*")) == 1
    scanned(phone, db, settings, clock, panel)
    number = number_shown(browser, panel)
    sent = time.perf_counter()
    assert phone.approve(panel.public_id, number).status_code == 200
    heard, _ = listener.wait_for("approved", timeout=5)
    done = complete(browser, panel)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/companies"
    listener.join()
    return heard - sent


def test_qr_login_works_without_redis_and_redis_is_used_again_when_it_returns(
    redis_server, client, browser, phone, runtime, db, settings, clock
):  # OPS-16
    # The instance started (the client fixture ran the lifespan) while Redis was down.
    assert not redis_server.answers()
    assert not runtime.events.reachable()  # type: ignore[attr-defined]

    # Without Redis: the app unlocks, the login completes; the approval reaches the browser
    # through the database re-check (0.2 s in the tests).
    unlock_app(phone)
    assert log_in_with_the_app(browser, phone, db, settings, clock) < 2.0
    assert not runtime.limiter.reachable()

    # Redis comes up: the bus connects on its own, limits are counted there.
    redis_server.start()
    assert wait_until(runtime.events.reachable, timeout=10)  # type: ignore[attr-defined]
    time.sleep(0.3)  # past the limiter's retry interval
    log_in_with_the_app(browser, phone, db, settings, clock, redis_server)
    assert runtime.limiter.reachable()
    assert redis_server.client().dbsize() > 0  # the limits, counted in Redis

    # Redis goes away again, and comes back: the same.
    redis_server.stop()
    unlock_app(phone)
    assert log_in_with_the_app(browser, phone, db, settings, clock) < 2.0
    assert not runtime.events.reachable()  # type: ignore[attr-defined]
    assert not runtime.limiter.reachable()
    redis_server.start()
    assert wait_until(runtime.events.reachable, timeout=10)  # type: ignore[attr-defined]
    time.sleep(0.3)
    log_in_with_the_app(browser, phone, db, settings, clock, redis_server)
    assert runtime.limiter.reachable() and redis_server.client().dbsize() > 0
