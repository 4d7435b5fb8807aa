"""Authorization-code exchanges at Portti's token endpoint, per second and per core.

A real server process (`portti serve`, one worker, SQLite by default) and a lean HTTP client
(rawhttp.py). Codes are made beforehand in batches straight through ``Authorization`` (the
authorize step is not what is measured), then redeemed over HTTP with client_secret_basic and
PKCE: each exchange claims the code (compare-and-set UPDATE), checks the verifier, reads the
login, person and valid memberships, signs an access token (ES256) and an ID token (RS256 by
default, --alg), stores a refresh token and writes an audit row. "Per core" divides the
exchanges by the CPU seconds the server process used (from /proc), so the client's own CPU on
this shared 2-core machine does not count against the server.

Keycloak's published sizing: about 15 password logins per second per vCPU; the target here is
ten times that for the token endpoint, 150 exchanges per second per core.

    .venv/bin/python benchmarks/oidc_token.py [--codes 3000] [--concurrency 8] [--alg RS256]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import rawhttp  # noqa: E402
from qr_login import pct, server_cpu, start_server  # noqa: E402
from sqlalchemy import update  # noqa: E402

from portti.audit.services import AuditLog, RequestContext  # noqa: E402
from portti.db.session import make_engine, make_session_factory  # noqa: E402
from portti.infra.clock import SystemClock  # noqa: E402
from portti.keys.services import key_store_for  # noqa: E402
from portti.oidc_provider.authorize import Authorization, Redirect  # noqa: E402
from portti.oidc_provider.client_cache import ClientCache  # noqa: E402
from portti.oidc_provider.client_settings import ClientInput  # noqa: E402
from portti.oidc_provider.clients import ClientService  # noqa: E402
from portti.oidc_provider.keys import KeyStoreSigningKeys  # noqa: E402
from portti.oidc_provider.models import OidcClient  # noqa: E402
from portti.oidc_provider.provider import ProviderContext, s256  # noqa: E402
from portti.weblogin.sessions import SessionService  # noqa: E402
from support import factories as f  # noqa: E402

TARGET_PER_CORE = 150.0
REDIRECT = "https://accounting.example/callback"


def seed_client(factory, settings, clock, alg: str) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    """A member of a company, a client registered for ``alg`` ID tokens and a web session of
    the member's: (client_id, client_secret, web session id)."""
    with factory() as db:
        company = f.company(db, "Mäkinen Design Oy")
        person = f.person(db, "Kaisa", "Mäkinen")
        f.member(db, person, company, ["user_admin", "bookkeeper"])
        reg = ClientService(db, clock, AuditLog(db, clock), settings.secret).register(
            ClientInput(name="bench", redirect_uris=[REDIRECT], id_token_signed_response_alg=alg),
            actor_person_id=None,
        )
        # The operator's own application: no consent page in the way (OIDC-4).
        db.execute(
            update(OidcClient)
            .where(OidcClient.client_id == reg.client_id)
            .values(first_party=True, version=OidcClient.version + 1)
        )
        sessions = SessionService(db, clock, idle=timedelta(hours=1), absolute=timedelta(hours=12))
        _, ws = sessions.start(person.id, method="oidc:fi_bank", strong=False, ctx=RequestContext())
        db.commit()
        assert reg.client_secret is not None
        return reg.client_id, reg.client_secret, ws.id


def basic_auth(client_id: str, client_secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


def mint_codes(factory, settings, client_id: str, ws_id: str, count: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(code, verifier) pairs, as the authorize endpoint would have issued them."""
    from portti.weblogin.models import WebSession

    clock = SystemClock()
    out = []
    with factory() as db:
        ws = db.get(WebSession, ws_id)
        provider = ProviderContext(
            db, clock, AuditLog(db, clock), issuer=settings.base_url,
            keys=KeyStoreSigningKeys(key_store_for(settings, factory, clock)),
            secret=settings.secret, clients=ClientCache(),
        )  # fmt: skip
        for _ in range(count):
            verifier = secrets.token_urlsafe(48)
            req = Authorization(provider).validate(
                {
                    "client_id": client_id,
                    "redirect_uri": REDIRECT,
                    "response_type": "code",
                    "scope": "openid profile email companies",
                    "nonce": secrets.token_urlsafe(12),
                    "code_challenge": s256(verifier),
                    "code_challenge_method": "S256",
                }
            )
            outcome = Authorization(provider).decide(req, ws)
            assert isinstance(outcome, Redirect)
            code = outcome.url.split("code=", 1)[1].split("&", 1)[0]
            out.append((code, verifier))
        db.commit()
    return out


async def redeem(
    url: str, auth: str, codes: list[tuple[str, str]], concurrency: int
) -> list[float]:
    conns = [await rawhttp.Connection.open(url) for _ in range(concurrency)]
    latencies: list[float] = []
    queue = list(codes)

    async def worker(conn: rawhttp.Connection) -> None:
        while queue:
            code, verifier = queue.pop()
            body = urlencode(
                {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                 "code_verifier": verifier}
            ).encode()  # fmt: skip
            t = time.perf_counter()
            status, _, data = await conn.request(
                "POST", "/oidc/token", body=body,
                headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": auth},
            )  # fmt: skip
            latencies.append(time.perf_counter() - t)
            if status != 200:
                raise rawhttp.HttpError(status, data)

    await asyncio.gather(*(worker(c) for c in conns))
    for c in conns:
        c.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codes", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=1000, help="codes live 60 s: made in batches")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--alg", default="RS256", help="the client's ID token algorithm")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, small counts")
    args = parser.parse_args()
    if args.smoke:  # the test suite's check that the benchmark still runs (no timing)
        args.codes, args.batch = 40, 40
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="portti-oidc-bench-") as tmp:
        server = start_server(Path(tmp))
        try:
            settings = server.settings
            engine = make_engine(settings.database_url)
            factory = make_session_factory(engine)
            clock = SystemClock()
            key_store_for(settings, factory, clock).ensure()
            client_id, client_secret, ws_id = seed_client(factory, settings, clock, args.alg)
            auth = basic_auth(client_id, client_secret)
            # Warm up: first requests import, read the keys, open connections.
            asyncio.run(
                redeem(server.url, auth, mint_codes(factory, settings, client_id, ws_id, 50), 4)
            )
            # How fast this (shared) machine is right now: the server's CPU for a trivial request.
            from qr_login import baseline

            cpu0 = server_cpu(server.proc.pid)
            probes = 100 if args.smoke else 2000
            asyncio.run(baseline(server.url, probes, 4))
            healthz_ms = (server_cpu(server.proc.pid) - cpu0) / probes * 1000
            latencies: list[float] = []
            cpu = wall = 0.0
            done = 0
            while done < args.codes:
                n = min(args.batch, args.codes - done)
                codes = mint_codes(factory, settings, client_id, ws_id, n)
                cpu0, t0 = server_cpu(server.proc.pid), time.perf_counter()
                latencies += asyncio.run(redeem(server.url, auth, codes, args.concurrency))
                wall += time.perf_counter() - t0
                cpu += server_cpu(server.proc.pid) - cpu0
                done += n
            engine.dispose()
        finally:
            server.stop()
    per_core = done / cpu
    print(
        f"{done} exchanges, concurrency {args.concurrency}, ID tokens {args.alg}, SQLite, 1 worker"
    )
    print(
        f"wall: {done / wall:.0f} exchanges/s; server CPU {cpu:.2f} s = {cpu / done * 1000:.2f} ms each"
    )
    print(f"per core: {per_core:.0f} exchanges/s (target {TARGET_PER_CORE:.0f}: "
          f"{'met' if per_core >= TARGET_PER_CORE else 'NOT met'}, {per_core / 15:.0f}x Keycloak's ~15/s/vCPU)")  # fmt: skip
    print(f"calibration: GET /healthz costs the server {healthz_ms:.2f} ms CPU now")
    print(f"latency p50 {statistics.median(latencies) * 1000:.1f} ms, "
          f"p99 {pct(latencies, 99) * 1000:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
