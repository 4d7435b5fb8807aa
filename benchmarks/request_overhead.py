"""What the per-request operations layer costs (OPS-11, OPS-12, OPS-15, SEC-30, SEC-31): the proxy
headers, the access line with its request id and the metrics, and the response headers, around
an ASGI app that answers at once; in process, no server, so only this layer's CPU is measured.

    .venv/bin/python benchmarks/request_overhead.py [--requests 20000]

Prints CPU microseconds per request for the bare app, the app inside the layer (log lines
written to a discarded stream, as a log shipper reading stderr would take them), and the
difference; then the same with the access line below the log level (the layer without its line).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import time

from starlette.types import Receive, Scope, Send

from portti.config import parse_networks
from portti.infra.logging import configure_logging
from portti.web.access import AccessLogMiddleware
from portti.web.proxy import ProxyHeadersMiddleware
from portti.web.response_headers import ResponseHeadersMiddleware


async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def layered() -> object:
    app = ResponseHeadersMiddleware(bare, https=True, session_cookies=("__Host-portti_session",))
    app = AccessLogMiddleware(app, pool_status=lambda: (0, 0))
    return ProxyHeadersMiddleware(app, trusted=parse_networks(["127.0.0.0/8"]))


def scope() -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "path": "/c/7/users",
        "root_path": "",
        "query_string": b"q=x",
        "headers": [
            (b"host", b"portti.example"),
            (b"cookie", b"__Host-portti_session=abc; portti_lang=fi"),
            (b"x-forwarded-for", b"198.51.100.7"),
            (b"x-forwarded-proto", b"https"),
        ],
        "client": ("127.0.0.1", 50000),
        "state": {},
    }


async def run(app: object, n: int) -> float:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: object) -> None:
        return None

    # CPU time of this process: on a shared machine the wall clock counts other work too.
    started = time.process_time()
    for _ in range(n):
        await app(scope(), receive, send)  # type: ignore[operator]
    return (time.process_time() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="a few requests: checks it runs")
    args = parser.parse_args()
    if args.smoke:
        args.requests, args.rounds = 200, 1
    for fmt, level in (("text", "INFO"), ("json", "INFO"), ("json", "WARNING")):
        configure_logging(level, fmt, stream=io.StringIO())
        plain, wrapped = [], []
        for _ in range(args.rounds):
            plain.append(asyncio.run(run(bare, args.requests)))
            wrapped.append(asyncio.run(run(layered(), args.requests)))
        p, w = statistics.median(plain), statistics.median(wrapped)
        what = f"{fmt} lines" if level == "INFO" else "no line"
        print(
            f"{what:>10}: bare {p:5.1f} µs, with the layer {w:5.1f} µs: {w - p:5.1f} µs CPU a request"
        )


if __name__ == "__main__":
    main()
