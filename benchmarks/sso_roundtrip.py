"""A business application's login for a person already logged in, Portti beside panva's
oidc-provider: server CPU per round trip, round trips per second, p99.

One round trip is what a business application costs its OpenID Provider when the person has a
session there: ``GET /authorize`` (the session cookie; answered with a redirect carrying a code)
then ``POST /token`` (client_secret_basic, PKCE S256; answered with an ID token signed RS256, an
access token and, for Portti, a refresh token). Portti runs as `portti serve` (one worker,
SQLite, persisting every code, token and audit row); oidc-provider as one Node process with its
in-memory adapter (``tests/interop/oidc_provider/bench_provider.mjs``: the same client settings,
a fixed account logged in once by an interaction). The same load generator (rawhttp.py,
``--concurrency`` keep-alive connections) drives both, in interleaved rounds, and the servers'
CPU comes from /proc, so the client's CPU on this shared machine counts against neither.

    .venv/bin/python benchmarks/sso_roundtrip.py [--round-trips 1500] [--rounds 2] [--concurrency 8]
    .venv/bin/python benchmarks/sso_roundtrip.py --smoke     # a few seconds: does it run
    .venv/bin/python benchmarks/sso_roundtrip.py --in-process [--round-trips 600]

``--in-process`` measures Portti's own code alone: the ASGI app driven directly in this process
(no HTTP parsing, no load generator, handlers on the event loop's thread), its CPU time
(``time.process_time``) per round trip: what a busy shared machine stretches least.

Target (OPS-16): Portti at most 1.5x oidc-provider's CPU per round trip, p99 under 60 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402
import rawhttp  # noqa: E402
from qr_login import free_port, pct, server_cpu, start_server  # noqa: E402

from portti.audit.services import AuditLog, RequestContext  # noqa: E402
from portti.db.session import make_engine, make_session_factory  # noqa: E402
from portti.infra.clock import SystemClock  # noqa: E402
from portti.keys.services import key_store_for  # noqa: E402
from portti.oidc_provider.client_settings import ClientInput  # noqa: E402
from portti.oidc_provider.clients import ClientService  # noqa: E402
from portti.oidc_provider.provider import s256  # noqa: E402
from portti.weblogin.sessions import SessionService  # noqa: E402
from support import factories as f  # noqa: E402

PROVIDER_DIR = ROOT / "tests" / "interop" / "oidc_provider"
REDIRECT = "https://accounting.example/callback"
SCOPE = "openid profile email"
# A browser names its languages on every request (Portti then needs no company default).
BROWSER_LANGUAGES = "fi-FI,fi;q=0.9,en;q=0.8"
TARGET_RATIO = 1.5
TARGET_P99_MS = 60.0


@dataclass
class Target:
    """One OpenID Provider under test: where its endpoints are and how a round trip starts."""

    name: str
    url: str
    pid: int
    authorize_path: str
    token_path: str
    client_id: str
    client_secret: str
    cookie: str


def basic_auth(client_id: str, client_secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


# -- Portti ------------------------------------------------------------------------------------


def seed_portti(settings) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    """A member of a company, a client like the business app's, and the member's web session:
    (client_id, client_secret, session token)."""
    clock = SystemClock()
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    try:
        key_store_for(settings, factory, clock).ensure()
        with factory() as db:
            company = f.company(db, "Mäkinen Design Oy")
            person = f.person(db, "Kaisa", "Mäkinen")
            f.member(db, person, company, ["user_admin", "bookkeeper"])
            reg = ClientService(db, clock, AuditLog(db, clock), settings.secret).register(
                # First party: no consent page, like the oidc-provider side's client.
                ClientInput(name="bench", redirect_uris=[REDIRECT], first_party=True),
                actor_person_id=None,
            )
            sessions = SessionService(
                db, clock, idle=timedelta(hours=8), absolute=timedelta(hours=12)
            )
            token, _ = sessions.start(
                person.id, method="oidc:fi_bank", strong=False, ctx=RequestContext()
            )
            db.commit()
            assert reg.client_secret is not None
            return reg.client_id, reg.client_secret, token
    finally:
        engine.dispose()


# -- oidc-provider -----------------------------------------------------------------------------


def start_oidc_provider(workdir: Path) -> tuple[subprocess.Popen[bytes], Target]:
    node = shutil.which("node")
    if node is None or not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        raise SystemExit(
            "oidc-provider is not installed: run `npm ci` in tests/interop/oidc_provider"
        )
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    client_id, client_secret = "bench", secrets.token_urlsafe(32)
    config = {
        "port": port,
        "issuer": issuer,
        "client": {
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uris": [REDIRECT],
            "response_types": ["code"],
            "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": "client_secret_basic",
            "id_token_signed_response_alg": "RS256",
        },
    }
    (workdir / "op.json").write_text(json.dumps(config))
    proc = subprocess.Popen(
        [node, str(PROVIDER_DIR / "bench_provider.mjs"), str(workdir / "op.json")],
        stdout=subprocess.PIPE,
        stderr=(workdir / "op.log").open("wb"),
        cwd=PROVIDER_DIR,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if not line.startswith("READY"):
        proc.kill()
        raise SystemExit("oidc-provider did not start: " + (workdir / "op.log").read_text())
    cookie = oidc_provider_session(issuer, client_id)
    target = Target(
        "oidc-provider", issuer, proc.pid, "/auth", "/token", client_id, client_secret, cookie
    )
    return proc, target


def oidc_provider_session(issuer: str, client_id: str) -> str:
    """Logs the fixed account in once through the interaction; the session's cookies."""
    verifier = secrets.token_urlsafe(48)
    with httpx.Client(base_url=issuer, follow_redirects=False, timeout=10) as http:
        location = "/auth?" + urlencode(authorize_params(client_id, verifier))
        for _ in range(6):
            r = http.get(location)
            location = r.headers.get("location", "")
            if location.startswith(REDIRECT):
                assert "code=" in location, location
                break
            assert r.status_code in (302, 303), (r.status_code, r.text)
            location = location.removeprefix(issuer)
        else:
            raise AssertionError("oidc-provider did not log the account in")
        return "; ".join(f"{c.name}={c.value}" for c in http.cookies.jar)


# -- the round trip ----------------------------------------------------------------------------


def authorize_params(client_id: str, verifier: str) -> dict[str, str]:
    return {
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": SCOPE,
        "state": secrets.token_urlsafe(12),
        "nonce": secrets.token_urlsafe(12),
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }


async def round_trips(target: Target, count: int, concurrency: int) -> list[float]:
    """``count`` round trips over ``concurrency`` keep-alive connections; their latencies."""
    conns = [await rawhttp.Connection.open(target.url) for _ in range(concurrency)]
    auth = basic_auth(target.client_id, target.client_secret)
    latencies: list[float] = []
    left = [count]

    async def worker(conn: rawhttp.Connection) -> None:
        while left[0] > 0:
            left[0] -= 1
            verifier = secrets.token_urlsafe(48)
            query = urlencode(authorize_params(target.client_id, verifier))
            t = time.perf_counter()
            status, head, data = await conn.request(
                "GET",
                f"{target.authorize_path}?{query}",
                headers={"Cookie": target.cookie, "Accept-Language": BROWSER_LANGUAGES},
            )
            location = head.get("location", "")
            if status not in (302, 303) or not location.startswith(REDIRECT):
                raise rawhttp.HttpError(status, data or location.encode())
            code = parse_qs(urlsplit(location).query)["code"][0]
            body = urlencode(
                {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT,
                    "code_verifier": verifier,
                }
            ).encode()
            status, _, data = await conn.request(
                "POST",
                target.token_path,
                body=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Authorization": auth,
                },
            )
            latencies.append(time.perf_counter() - t)
            if status != 200 or b"id_token" not in data:
                raise rawhttp.HttpError(status, data)

    await asyncio.gather(*(worker(c) for c in conns))
    for c in conns:
        c.close()
    return latencies


@dataclass
class Figures:
    done: int = 0
    cpu: float = 0.0
    wall: float = 0.0
    latencies: list[float] | None = None

    def add(self, target: Target, count: int, concurrency: int) -> None:
        cpu0, t0 = server_cpu(target.pid), time.perf_counter()
        lat = asyncio.run(round_trips(target, count, concurrency))
        self.wall += time.perf_counter() - t0
        self.cpu += server_cpu(target.pid) - cpu0
        self.done += count
        self.latencies = (self.latencies or []) + lat

    @property
    def cpu_ms(self) -> float:
        return self.cpu / self.done * 1000

    @property
    def p99_ms(self) -> float:
        return pct(self.latencies or [0.0], 99) * 1000

    def line(self, name: str) -> str:
        return (
            f"{name:>14}: {self.cpu_ms:5.2f} ms server CPU per round trip, "
            f"{self.done / self.wall:5.0f} round trips/s, "
            f"p50 {statistics.median(self.latencies or [0.0]) * 1000:5.1f} ms, "
            f"p99 {self.p99_ms:5.1f} ms"
        )


# -- Portti in process -------------------------------------------------------------------------


async def asgi_call(  # type: ignore[no-untyped-def]
    app, method: str, path: str, query: str = "", headers=(), body: bytes = b""
) -> tuple[int, dict[bytes, bytes], bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")]
        + [(k.lower().encode(), v.encode()) for k, v in headers]
        + ([(b"content-length", str(len(body)).encode())] if body else []),
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    sent = False

    async def receive():  # type: ignore[no-untyped-def]
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    out: dict[str, object] = {"status": 0, "headers": [], "body": b""}

    async def send(message):  # type: ignore[no-untyped-def]
        if message["type"] == "http.response.start":
            out["status"], out["headers"] = message["status"], message["headers"]
        elif message["type"] == "http.response.body":
            out["body"] = out["body"] + message.get("body", b"")  # type: ignore[operator]

    await app(scope, receive, send)
    return out["status"], dict(out["headers"]), out["body"]  # type: ignore[arg-type,return-value]


def in_process(count: int) -> None:
    import anyio.to_thread

    from portti.app import create_app
    from portti.config import Mode, Settings
    from portti.db.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="portti-sso-cpu-") as tmp:
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
        client_id, client_secret, token = seed_portti(settings)
        auth = basic_auth(client_id, client_secret)

        async def inline(func, *a, **_):  # type: ignore[no-untyped-def]
            return func(*a)

        anyio.to_thread.run_sync = inline  # type: ignore[assignment]

        async def one() -> None:
            verifier = secrets.token_urlsafe(48)
            status, head, data = await asgi_call(
                app, "GET", "/oidc/authorize", urlencode(authorize_params(client_id, verifier)),
                [("cookie", f"portti_session={token}"), ("accept-language", BROWSER_LANGUAGES)],
            )  # fmt: skip
            location = head.get(b"location", b"").decode()
            if status != 303 or not location.startswith(REDIRECT):
                raise rawhttp.HttpError(status, data)
            code = parse_qs(urlsplit(location).query)["code"][0]
            body = urlencode(
                {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                 "code_verifier": verifier}
            ).encode()  # fmt: skip
            status, _, data = await asgi_call(
                app, "POST", "/oidc/token", "",
                [("content-type", "application/x-www-form-urlencoded"), ("authorization", auth)],
                body,
            )  # fmt: skip
            if status != 200:
                raise rawhttp.HttpError(status, data)

        async def run() -> float:
            for _ in range(50):
                await one()
            cpu0 = time.process_time()
            for _ in range(count):
                await one()
            return time.process_time() - cpu0

        try:
            cpu = asyncio.run(run())
        finally:
            app.state.runtime.engine.dispose()
    print(f"Portti in process: {count} round trips, {cpu / count * 1000:.2f} ms CPU each")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--round-trips", type=int, default=1500, help="per provider and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--smoke", action="store_true", help="a few seconds: does it run")
    parser.add_argument("--in-process", action="store_true", help="Portti's own CPU alone")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PORTTI_NAME=VALUE",
        help="a setting for Portti's server (repeatable), e.g. PORTTI_HANDLER_THREADS=2",
    )
    args = parser.parse_args()
    if args.in_process:
        in_process(args.round_trips if args.round_trips != 1500 else 600)
        return 0
    if args.smoke:
        args.round_trips, args.rounds, args.concurrency = 40, 1, 4
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="portti-sso-bench-") as tmp:
        server = start_server(Path(tmp), settings=dict(x.split("=", 1) for x in args.set))
        op_proc = None
        try:
            client_id, client_secret, token = seed_portti(server.settings)
            portti = Target(
                "Portti", server.url, server.proc.pid, "/oidc/authorize", "/oidc/token",
                client_id, client_secret, f"portti_session={token}",
            )  # fmt: skip
            op_proc, op = start_oidc_provider(Path(tmp))
            # Warm up both: imports, key reads, JIT.
            warm = 20 if args.smoke else 200
            for target in (portti, op):
                asyncio.run(round_trips(target, warm, args.concurrency))
            figures = {portti.name: Figures(), op.name: Figures()}
            for _ in range(args.rounds):
                for target in (portti, op):
                    figures[target.name].add(target, args.round_trips, args.concurrency)
        finally:
            server.stop()
            if op_proc is not None:
                op_proc.terminate()
                op_proc.wait(10)
    ours, theirs = figures["Portti"], figures["oidc-provider"]
    print(
        f"{ours.done} round trips each (GET authorize with a session + POST token), "
        f"{args.rounds} interleaved rounds, concurrency {args.concurrency}; "
        "Portti on SQLite, 1 worker; oidc-provider in memory, 1 process"
    )
    print(ours.line("Portti"))
    print(theirs.line("oidc-provider"))
    ratio = ours.cpu_ms / theirs.cpu_ms
    print(
        f"CPU ratio Portti / oidc-provider: {ratio:.2f}x (target <= {TARGET_RATIO}x: "
        f"{'met' if ratio <= TARGET_RATIO else 'NOT met'}); Portti p99 {ours.p99_ms:.1f} ms "
        f"(target < {TARGET_P99_MS:.0f} ms: {'met' if ours.p99_ms < TARGET_P99_MS else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
