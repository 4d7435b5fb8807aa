"""The rate limiter against both storages (memory and Redis), and the client network key."""

from __future__ import annotations

import os
import secrets

import pytest
import redis

from portti.errors import RateLimited
from portti.infra.ratelimit import LimitsRateLimiter, client_network

REDIS_URL = os.environ.get("PORTTI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> LimitsRateLimiter:
    if request.param == "memory":
        return LimitsRateLimiter("memory://")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"redis not reachable: {exc}")
        pytest.skip(f"redis not reachable: {exc}")
    return LimitsRateLimiter(REDIS_URL)


def test_every_limit_of_a_limit_string_applies(limiter: LimitsRateLimiter) -> None:  # SEC-5
    """``"3/minute;4/hour"``: the hour's limit counts too (it used to be ignored)."""
    key = secrets.token_hex(8)  # the Redis store is shared: keys of this test only
    for _ in range(3):
        limiter.hit("3/minute;4/hour", "t", key)
    with pytest.raises(RateLimited) as caught:
        limiter.hit("3/minute;4/hour", "t", key)
    assert 0 < caught.value.retry_after <= 60
    other = secrets.token_hex(8)
    for _ in range(4):
        limiter.hit("100/minute;4/hour", "t", other)
    with pytest.raises(RateLimited) as caught:
        limiter.hit("100/minute;4/hour", "t", other)
    assert 60 < caught.value.retry_after <= 3600


@pytest.mark.parametrize(
    ("ip", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        (" 192.0.2.7 ", "192.0.2.7"),
        ("testclient", "testclient"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_client_network_is_the_ipv4_address_or_the_ipv6_64(
    ip: str | None, key: str
) -> None:  # SEC-5 SEC-9
    assert client_network(ip) == key


def test_without_its_redis_the_limiter_counts_in_memory_and_warns_once() -> None:  # OPS-16
    from structlog.testing import capture_logs

    from support.sinks import free_port

    nothing_there = f"redis://127.0.0.1:{free_port()}/0"
    limiter = LimitsRateLimiter(nothing_there, retry_seconds=0.0)
    key = secrets.token_hex(8)
    with capture_logs() as logs:
        for _ in range(3):
            limiter.hit("3/minute", key)
        with pytest.raises(RateLimited):
            limiter.hit("3/minute", key)
        assert limiter.retry_after("3/minute", key) is not None
        limiter.clear("3/minute", key)
        limiter.hit("3/minute", key)
    assert not limiter.reachable()
    warnings = [e for e in logs if e["event"] == "rate_limit_storage_unavailable"]
    assert len(warnings) == 1 and warnings[0]["log_level"] == "warning"
