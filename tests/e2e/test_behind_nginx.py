"""Portti behind a real nginx (OPS-15): the shipped site file `deploy/nginx/portti.conf`, a
self-signed certificate made here, two `portti serve` instances on one PostgreSQL database with
Redis as the event bus and rate-limit store. A bank-ID login and a QR login go through it from a
client on its own loopback address (127.0.0.5), and the audit rows name that address, not
nginx's. Runs with the PostgreSQL suite; needs Debian's nginx (`.ci/run` installs it)."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.audit.models import AuditEvent
from portti.db.session import make_engine
from portti.people.models import Person
from support.devices import PIN
from support.live_phone import bind_demo_device
from support.live_server import run_portti, server_env, stop
from support.pg import scratch_database
from support.qr import EventListener, Phone, complete, open_qr_login, status, typed_code
from support.sinks import free_port
from support.web import identity_of, login

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "deploy" / "nginx" / "portti.conf"
BACKEND = os.environ.get("PORTTI_TEST_DATABASE", "sqlite")
PG_ADMIN = os.environ.get("PORTTI_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("PORTTI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CLIENT_IP = "127.0.0.5"

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql", reason="runs with the PostgreSQL suite (two instances share it)"
)


def _nginx() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        message = "nginx is not installed (Debian: apt-get install nginx); the proxy test needs it"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@dataclass
class Deployment:
    url: str
    plain_url: str
    database_url: str
    secret_key: str
    ca: Path
    logs: Path
    upstreams: list[int]

    def client(self) -> httpx.Client:
        """A browser on its own loopback address, trusting the test certificate."""
        transport = httpx.HTTPTransport(
            local_address=CLIENT_IP, verify=ssl.create_default_context(cafile=str(self.ca))
        )
        return httpx.Client(
            base_url=self.url, transport=transport, follow_redirects=False, timeout=15
        )

    def log_tail(self) -> str:
        parts = []
        for log in sorted(self.logs.glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-30:]
            parts.append(f"--- {log.name}\n" + "\n".join(lines))
        return "\n".join(parts)


def _site(https_port: int, http_port: int, upstreams: list[int], cert: Path, key: Path) -> str:
    site = SITE.read_text()
    for old, new in [
        ("server 127.0.0.1:8000 ", f"server 127.0.0.1:{upstreams[0]} "),
        ("server 127.0.0.1:8001 ", f"server 127.0.0.1:{upstreams[1]} "),
        # The catch-all for unknown names (it refuses the TLS handshake) on a port of its own:
        # a client of an IP address sends no server name, and here the site is an address.
        (
            "listen 443 ssl http2 default_server;",
            f"listen 127.0.0.1:{free_port()} ssl http2 default_server;",
        ),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("server_name portti.example.com;", "server_name 127.0.0.1;"),
        ("/etc/ssl/portti/fullchain.pem", str(cert)),
        ("/etc/ssl/portti/privkey.pem", str(key)),
        ("shared:portti_tls:10m", "shared:portti_tls_test:1m"),
    ]:
        assert old in site, f"deploy/nginx/portti.conf no longer has {old!r}"
        site = site.replace(old, new)
    return site


def _wait_for(url: str, proc: subprocess.Popen[bytes], what: str, logs: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}:\n" + _tails(logs))
        try:
            httpx.get(url, timeout=1.0, verify=False)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"{what} did not answer within 30 s:\n" + _tails(logs))


def _tails(logs: Path) -> str:
    return "\n".join(
        f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-30:])
        for p in sorted(logs.glob("*.log"))
    )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with _deploy(tmp_path_factory) as deployment:
        yield deployment


@contextmanager
def _deploy(tmp_path_factory: pytest.TempPathFactory, **settings: str) -> Iterator[Deployment]:
    """nginx with the shipped site in front of two instances (``settings``: more of theirs)."""
    nginx = _nginx()
    work = tmp_path_factory.mktemp("nginx")
    logs = work / "logs"
    logs.mkdir()
    cert, key = _certificate(work)
    https_port, http_port = free_port(), free_port()
    upstreams = [free_port(), free_port()]
    url = f"https://127.0.0.1:{https_port}"
    secret = "nginx-test-" + os.urandom(32).hex()
    with scratch_database(PG_ADMIN, "portti_nginx") as database_url:
        env = server_env(
            database_url,
            url,
            secret,
            PORTTI_EVENT_BUS_URL=REDIS,
            PORTTI_RATE_LIMIT_STORAGE_URL=REDIS,
            PORTTI_TRUSTED_PROXIES='["127.0.0.1/32"]',
            # The test identity provider is Portti itself at the public (nginx) address: its
            # token endpoint is called over TLS, so the instances trust the test certificate.
            PORTTI_CA_BUNDLE=str(cert),
            **settings,
        )
        run_portti(["migrate"], env, work, logs / "prepare.log")
        run_portti(["demo"], env, work, logs / "prepare.log")
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for i, port in enumerate(upstreams):
                out = (logs / f"portti-{i}.log").open("ab")
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "portti.cli", "serve", "--port", str(port)],
                        env=env,
                        cwd=work,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
            for i, port in enumerate(upstreams):
                _wait_for(f"http://127.0.0.1:{port}/healthz", procs[i], f"instance {i}", logs)
            (work / "portti.conf").write_text(_site(https_port, http_port, upstreams, cert, key))
            user = "user root;\n" if os.geteuid() == 0 else ""
            for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
                (work / d).mkdir()
            (work / "nginx.conf").write_text(
                f"{user}worker_processes 1;\nerror_log {logs}/nginx-error.log;\n"
                f"pid {work}/nginx.pid;\nevents {{ worker_connections 512; }}\n"
                f"http {{\n  access_log {logs}/nginx-access.log;\n"
                f"  client_body_temp_path {work}/body;\n  proxy_temp_path {work}/proxy;\n"
                f"  fastcgi_temp_path {work}/fastcgi;\n  uwsgi_temp_path {work}/uwsgi;\n"
                f"  scgi_temp_path {work}/scgi;\n  include {work}/portti.conf;\n}}\n"
            )
            checked = subprocess.run(
                [nginx, "-t", "-p", str(work), "-c", str(work / "nginx.conf")],
                capture_output=True,
                text=True,
                check=False,
            )
            assert checked.returncode == 0, checked.stderr
            proxy = subprocess.Popen(
                [nginx, "-p", str(work), "-c", str(work / "nginx.conf"), "-g", "daemon off;"],
                stdout=(logs / "nginx-out.log").open("ab"),
                stderr=subprocess.STDOUT,
            )
            procs.append(proxy)
            _wait_for(url + "/healthz", proxy, "nginx", logs)
            yield Deployment(
                url=url,
                plain_url=f"http://127.0.0.1:{http_port}",
                database_url=database_url,
                secret_key=secret,
                ca=cert,
                logs=logs,
                upstreams=upstreams,
            )
        finally:
            for proc in reversed(procs):
                stop(proc)


def _audit(database_url: str, action: str) -> list[AuditEvent]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as db:
            return list(
                db.scalars(
                    select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
                )
            )
    finally:
        engine.dispose()


def _identity(database_url: str, given: str, family: str) -> dict[str, str]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as db:
            p = db.scalars(
                select(Person).where(Person.given_name == given, Person.family_name == family)
            ).one()
            return identity_of(p)
    finally:
        engine.dispose()


def test_plain_http_is_sent_to_https(deployment: Deployment) -> None:  # OPS-15
    r = httpx.get(deployment.plain_url + "/login?next=/", follow_redirects=False)
    assert r.status_code == 301
    assert r.headers["location"] == "https://127.0.0.1/login?next=/"


def test_a_bank_id_login_through_nginx_is_audited_from_the_clients_address(  # OPS-15 SEC-30
    deployment: Deployment,
) -> None:
    with deployment.client() as browser:
        page = browser.get("/login", headers={"accept": "text/html"})
        assert page.status_code == 200, deployment.log_tail()
        assert page.http_version in ("HTTP/1.1", "HTTP/2")
        assert "max-age=" in page.headers.get("strict-transport-security", "")
        done = login(browser, _identity(deployment.database_url, "Kaisa", "Mäkinen"))  # type: ignore[arg-type]
        assert done.status_code == 303, done.text
        # The session cookie is a __Host- cookie, set Secure over https.
        assert any(c.name.startswith("__Host-") for c in browser.cookies.jar)
        home = browser.get("/settings", headers={"accept": "text/html"})
        assert home.status_code == 200
        assert "no-store" in home.headers.get("cache-control", "")
    events = _audit(deployment.database_url, "login_succeeded")
    assert events, deployment.log_tail()
    assert events[-1].ip == CLIENT_IP


def test_a_qr_login_through_nginx_reaches_the_waiting_browser_at_once(  # OPS-15 WEB-1
    deployment: Deployment,
) -> None:
    sim = bind_demo_device(deployment.database_url, deployment.secret_key, "Kadri", "Tamm")
    with deployment.client() as app_http, deployment.client() as browser:
        ch = app_http.post(
            f"/app-api/v1/devices/{sim.public_id}/challenges", json={"purpose": "unlock"}
        ).json()
        unlocked = app_http.post(
            f"/app-api/v1/devices/{sim.public_id}/unlock",
            json={"nonce": ch["nonce"], "signature": sim.sign("unlock", ch["nonce"]), "pin": PIN},
        )
        assert unlocked.status_code == 200, unlocked.text
        phone = Phone(http=app_http, sim=sim, token=unlocked.json()["app_session_token"])

        panel = open_qr_login(browser)
        # The browser's event stream goes through nginx (to either instance), unbuffered.
        listener = EventListener(browser=deployment.client(), public_id=panel.public_id)
        listener.browser.cookies = browser.cookies
        listener.start()
        read = phone.type_code(typed_code(browser, panel))
        assert read.status_code == 200, read.text
        number = status(browser, panel.public_id)["number"]
        sent = time.perf_counter()
        approved = phone.approve(panel.public_id, number, nonce=read.json()["challenge"]["nonce"])
        assert approved.status_code == 200, approved.text
        at, _ = listener.wait_for("approved", timeout=5.0)
        assert at - sent < 2.0, "the approval reached the browser late: buffered by the proxy?"
        assert listener.content_type and listener.content_type.startswith("text/event-stream")
        assert complete(browser, panel).status_code == 303
    approvals = _audit(deployment.database_url, "login_succeeded")
    assert approvals[-1].ip == CLIENT_IP


def _hold_the_only_slot(port: int) -> socket.socket:
    """A request that has sent its headers and not its body: it holds the one request an
    instance with ``PORTTI_MAX_CONCURRENT_REQUESTS=1`` serves at once, for as long as it is
    open (as a slow upload would)."""
    held = socket.create_connection(("127.0.0.1", port))
    held.sendall(
        b"POST /oidc/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
    )
    deadline = time.monotonic() + 10
    while httpx.get(f"http://127.0.0.1:{port}/login").status_code != 503:
        assert time.monotonic() < deadline, f"the instance on {port} never became busy"
        time.sleep(0.05)
    return held


@pytest.fixture(scope="module")
def busy_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Instances that serve one request at once and queue none: a held request saturates them."""
    with _deploy(
        tmp_path_factory, PORTTI_MAX_CONCURRENT_REQUESTS="1", PORTTI_REQUEST_QUEUE_LENGTH="0"
    ) as deployment:
        yield deployment


def test_busy_instances_answer_busy_through_nginx_and_serve_again_at_once(  # OPS-15 OPS-16
    busy_deployment: Deployment,
) -> None:
    """A 503 goes to the client with its Retry-After; it does not count against the instance
    (max_fails), so every instance busy at once never becomes nginx's 502 "no live upstreams",
    and once the peak has passed the next requests are served, not refused for fail_timeout."""
    d = busy_deployment
    with d.client() as browser:
        for _ in range(4):
            assert browser.get("/login").status_code == 200, d.log_tail()
        held = [_hold_the_only_slot(port) for port in d.upstreams]
        try:
            busy = [browser.get("/login", headers={"accept": "text/html"}) for _ in range(6)]
        finally:
            for sock in held:
                sock.close()
        for r in busy:
            assert r.status_code == 503, (r.status_code, r.text[:200])
            assert r.headers["retry-after"] == "1"
        # The instances notice the held requests' end (a moment), well within fail_timeout
        # (5 s): both are still in nginx's rotation.
        for port in d.upstreams:
            deadline = time.monotonic() + 3
            while httpx.get(f"http://127.0.0.1:{port}/login").status_code != 200:
                assert time.monotonic() < deadline, f"the instance on {port} stayed busy"
                time.sleep(0.02)
        again = [browser.get("/login").status_code for _ in range(6)]
        assert again == [200] * 6, d.log_tail()
