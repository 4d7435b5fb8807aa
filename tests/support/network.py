"""Clients at chosen addresses: the in-process app sees the address as the peer's (what a
rate limit per client network keys on)."""

from __future__ import annotations

from fastapi.testclient import TestClient


def client_at(app: object, ip: str) -> TestClient:
    """A client whose requests come from ``ip`` (IPv4 or IPv6). Not a context manager on
    purpose, as ``support.web.another_browser``: the lifespan runs in the ``client`` fixture."""
    return TestClient(
        app,  # type: ignore[arg-type]
        base_url="http://testserver",
        follow_redirects=False,
        client=(ip, 50000),
    )
