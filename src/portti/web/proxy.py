"""Behind a reverse proxy (OPS-15): whom to believe about the client, the scheme and the host.

``PORTTI_TRUSTED_PROXIES`` lists addresses or networks (``127.0.0.0/8``, ``10.0.0.0/8``,
``::1``). Only when the peer that connected is one of them are its ``X-Forwarded-For``,
``X-Forwarded-Proto`` and ``X-Forwarded-Host`` read; the client is the right-most address in
``X-Forwarded-For`` that is not itself a trusted proxy (the left part is whatever the client
claimed, as uvicorn's and werkzeug's ProxyFix read it). The result is written into the ASGI
scope (``client``, ``scheme``, the ``host`` header): everything after this middleware — the
audit log, rate limits, the login lockout, the access log — sees the real client.
"""

from __future__ import annotations

import functools
import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

from portti.config import Network, parse_networks

__all__ = ["ProxyHeadersMiddleware", "forwarded_client", "is_in", "parse_networks"]


def is_in(ip: str | None, networks: tuple[Network, ...]) -> bool:
    if not ip or not networks:
        return False
    try:
        address = ipaddress.ip_address(ip.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in n for n in networks)


def _header(scope: Scope, name: bytes) -> str | None:
    values = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == name]
    return ",".join(values) if values else None


def forwarded_client(forwarded_for: str, trusted: tuple[Network, ...]) -> str | None:
    """The right-most address of ``X-Forwarded-For`` that is not a trusted proxy."""
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not is_in(hop, trusted):
            return hop[:45]
    return hops[0][:45] if hops else None


class ProxyHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, trusted: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted = trusted
        # Peers are few (the proxies themselves): each address is parsed once.
        self.is_trusted = functools.lru_cache(maxsize=1024)(lambda ip: is_in(ip, trusted))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in {"http", "websocket"} and self.trusted:
            peer = scope.get("client")
            if peer and self.is_trusted(peer[0]):
                scope = dict(scope)
                scope.setdefault("state", {})["trusted_proxy"] = True
                forwarded_for = _header(scope, b"x-forwarded-for")
                if forwarded_for:
                    client = forwarded_client(forwarded_for, self.trusted)
                    if client:
                        scope["client"] = (client, 0)
                proto = (_header(scope, b"x-forwarded-proto") or "").split(",")[0].strip()
                if proto in {"http", "https"}:
                    scope["scheme"] = (
                        proto
                        if scope["type"] == "http"
                        else {
                            "http": "ws",
                            "https": "wss",
                        }[proto]
                    )
                host = (_header(scope, b"x-forwarded-host") or "").split(",")[0].strip()
                if host and len(host) <= 255:
                    scope["headers"] = [
                        (k, v) for k, v in scope.get("headers", []) if k != b"host"
                    ] + [(b"host", host.encode("latin-1"))]
        await self.app(scope, receive, send)
