"""The token endpoint's own CPU per authorization-code exchange, measured in one process.

Where ``oidc_token.py`` measures a server over HTTP (and needs a quiet machine to mean much),
this drives Portti's ASGI app directly — no HTTP parsing, no client — on a SQLite file, and
reads this process's CPU time (``time.process_time``) around the exchanges: what the
application code costs per exchange, the part this code base can make cheaper. A busy machine
stretches wall time, not CPU time, so the figure holds on a shared machine.

    .venv/bin/python benchmarks/oidc_token_cpu.py [--codes 2000] [--alg RS256] [--profile out.html]

``--profile`` writes a pyinstrument profile of the measured exchanges (pip install pyinstrument).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from oidc_token import REDIRECT, TARGET_PER_CORE, basic_auth, mint_codes, seed_client  # noqa: E402

from portti.app import create_app  # noqa: E402
from portti.config import Mode, Settings  # noqa: E402
from portti.db.migrate import upgrade  # noqa: E402
from portti.infra.clock import SystemClock  # noqa: E402


async def call(app: Any, body: bytes, auth: str) -> tuple[int, bytes]:
    """One POST /oidc/token through the ASGI interface."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/oidc/token",
        "raw_path": b"/oidc/token",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", auth.encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    status = 0
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def redeem(
    app: Any, auth: str, codes: list[tuple[str, str]], concurrency: int
) -> list[float]:
    queue = list(codes)
    latencies: list[float] = []

    async def worker() -> None:
        while queue:
            code, verifier = queue.pop()
            body = urlencode(
                {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                 "code_verifier": verifier}
            ).encode()  # fmt: skip
            t = time.perf_counter()
            status, data = await call(app, body, auth)
            latencies.append(time.perf_counter() - t)
            if status != 200:
                raise SystemExit(f"HTTP {status}: {data[:300]!r}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codes", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--alg", default="RS256")
    parser.add_argument("--profile", help="write a pyinstrument HTML profile here")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, small counts")
    args = parser.parse_args()
    if args.smoke:  # the test suite's check that the benchmark still runs (no timing)
        args.codes, args.batch = 40, 40
    print(f"Python {platform.python_version()} on {platform.machine()}")
    with tempfile.TemporaryDirectory(prefix="portti-oidc-cpu-") as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'portti.db'}"
        upgrade(database_url)
        settings = Settings(
            mode=Mode.TEST,
            database_url=database_url,
            base_url="http://127.0.0.1",
            secret_key="bench-secret-key-" + "x" * 32,
            log_level="WARNING",
            outbox_in_process=False,
        )
        app = create_app(settings)
        factory = app.state.runtime.session_factory
        clock = SystemClock()
        app.state.runtime.keys.ensure()
        client_id, client_secret, ws_id = seed_client(factory, settings, clock, args.alg)
        auth = basic_auth(client_id, client_secret)

        async def run() -> tuple[int, float, list[float]]:
            await redeem(app, auth, mint_codes(factory, settings, client_id, ws_id, 50), 4)
            done, cpu, latencies = 0, 0.0, []
            profiler = None
            if args.profile:
                import anyio.to_thread
                from pyinstrument import Profiler

                # The sampler sees one thread: run the handlers on it (one request at a time).
                async def inline(func: Any, *a: Any, **_: Any) -> Any:
                    return func(*a)

                anyio.to_thread.run_sync = inline  # type: ignore[assignment]

                profiler = Profiler(async_mode="disabled")
            while done < args.codes:
                n = min(args.batch, args.codes - done)
                codes = mint_codes(factory, settings, client_id, ws_id, n)
                gc.collect()
                if profiler:
                    profiler.start()
                cpu0 = time.process_time()
                latencies += await redeem(app, auth, codes, args.concurrency)
                cpu += time.process_time() - cpu0
                if profiler:
                    profiler.stop()
                done += n
            if profiler:
                Path(args.profile).write_text(profiler.output_html())
                print(profiler.output_text(unicode=False, color=False, show_all=False)[:6000])
            return done, cpu, latencies

        try:
            done, cpu, latencies = asyncio.run(run())
        finally:
            app.state.runtime.engine.dispose()
    print(
        f"{done} exchanges in process, concurrency {args.concurrency}, ID tokens {args.alg}, SQLite"
    )
    print(f"CPU {cpu:.2f} s = {cpu / done * 1000:.2f} ms per exchange -> "
          f"{done / cpu:.0f} exchanges/s per core (target {TARGET_PER_CORE:.0f}, HTTP not included)")  # fmt: skip
    latencies.sort()
    print(f"latency p50 {statistics.median(latencies) * 1000:.1f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms, "
          f"max {latencies[-1] * 1000:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
