"""One log line and one measurement per request (OPS-12, OPS-11), and its request id.

The line names the method, the route template (``/c/{company_id}/users``, never the path with
its ids, never a query string), the status, the duration, the request id and the client's
network (its /24 or /64: enough to tell clients apart, not a person's address). The request id
is the trusted proxy's ``X-Request-ID`` when it sent a well-formed one, else made here; it is
returned as ``X-Request-ID`` and bound to every log line written while the request runs
(structlog's context variables, which the handler threads inherit).
"""

from __future__ import annotations

import functools
import re
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portti.infra import metrics
from portti.infra.ratelimit import client_network

log = structlog.get_logger("portti.access")

QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def _template_of(route: Any) -> str | None:
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return None
    if isinstance(route, Mount):
        return path.rstrip("/") + "/{path}"
    return path or "/"


def route_template(scope: Scope, plain_routes: Sequence[BaseRoute] = ()) -> str:
    """The matched route's path template; a mount's prefix with ``{path}``; else ``unmatched``
    (a 404 must not make a series per probed URL). FastAPI names the route it ran in the scope;
    for the plain Starlette routes (probes, static mounts) ``plain_routes`` are matched here."""
    template = _template_of(scope.get("route"))
    if template is not None:
        return template
    for route in plain_routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return _template_of(route) or "unmatched"
    return "unmatched"


@functools.lru_cache(maxsize=4096)
def _network_of(ip: str | None) -> str:
    # An address parse per request is a tenth of this layer's cost; clients repeat.
    return client_network(ip, ipv4_prefix=24)


def incoming_request_id(scope: Scope) -> str | None:
    """A proxy's id, only from a trusted proxy (``web/proxy.py`` marked it) and well formed."""
    if not scope.get("state", {}).get("trusted_proxy"):
        return None
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1").strip()
            return text if _REQUEST_ID.match(text) else None
    return None


class AccessLogMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        pool_status: Callable[[], tuple[int, int]] | None = None,
        routes: Callable[[], Sequence[BaseRoute]] = list,
    ) -> None:
        self.app = app
        # () -> (in use, waiting): read after each response for the pool gauges.
        self.pool_status = pool_status
        self._routes = routes
        self._plain: tuple[BaseRoute, ...] | None = None

    def plain_routes(self) -> tuple[BaseRoute, ...]:
        """The application's routes that FastAPI does not name in the scope (read once, when
        the first request has found every router included)."""
        if self._plain is None:
            self._plain = tuple(r for r in self._routes() if not isinstance(r, APIRoute))
        return self._plain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # What the route is matched on, before the routers rewrite the scope.
        target = {
            "type": "http",
            "path": scope.get("path", ""),
            "root_path": scope.get("root_path", ""),
            "method": scope.get("method", ""),
        }
        request_id = incoming_request_id(scope) or secrets.token_hex(16)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started_response = False
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                message["headers"] = [
                    *[(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            # One record with the traceback and the request id; the server's own copy of it
            # is dropped (infra/logging.py).
            log.exception("unhandled_error", method=scope.get("method", ""))
            if not started_response:
                # The server's error answer, with the id a person can quote to Support.
                body = f"Internal Server Error (request {request_id})".encode()
                await send_wrapper(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send_wrapper({"type": "http.response.body", "body": body})
            raise
        finally:
            duration = time.perf_counter() - started
            route = route_template({**target, "route": scope.get("route")}, self.plain_routes())
            method = scope.get("method", "")
            metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
            metrics.HTTP_LATENCY.labels(method, route).observe(duration)
            if self.pool_status is not None:
                in_use, waiting = self.pool_status()
                metrics.DB_POOL_IN_USE.set(in_use)
                metrics.DB_POOL_WAITING.set(waiting)
            client = scope.get("client")
            # Probes and scrapes come every few seconds: at DEBUG, not drowning the rest.
            write = log.debug if route in QUIET_ROUTES else log.info
            write(
                "request",
                method=method,
                route=route,
                status=status,
                duration_ms=round(duration * 1000, 1),
                client_network=_network_of(client[0] if client else None),
            )
            structlog.contextvars.reset_contextvars(**tokens)
