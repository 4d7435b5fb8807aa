"""Stopping and rolling instances loses no QR login (OPS-16).

Two `portti serve` processes share one database (SQLite file, or PostgreSQL with
``PORTTI_TEST_DATABASE=postgresql``) and one secret key, as instances behind a load balancer do.
The load balancer is ``Balancer``, an httpx transport that sends each request to an instance
and, when that one refuses the connection (it has stopped listening), to the next: what a real
one does for a backend that is down. A browser's event stream that ends without a final state
is opened again, as ``EventSource`` does.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from portti.db.migrate import upgrade
from portti.db.session import make_engine, make_session_factory
from portti.demo import seed_demo
from portti.infra.clock import SystemClock
from support.devices import PIN
from support.live_phone import bind_demo_device
from support.live_server import server_env
from support.pg import scratch_database
from support.qr import Phone, open_qr_login, typed_code
from support.sinks import free_port, wait_until

pytestmark = pytest.mark.e2e

BACKEND = os.environ.get("PORTTI_TEST_DATABASE", "sqlite")
PG_ADMIN = os.environ.get("PORTTI_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET_KEY = secrets.token_urlsafe(48)
# Long, so that "let go at once" (the streams ended, nothing in flight) and "held until the
# grace ran out" stay far apart however loaded the machine is.
GRACE_S = 30
# Each phone logs in once in this many seconds.
PACE_S = 6.5


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if BACKEND == "postgresql":
        with scratch_database(PG_ADMIN, "portti_e2e_drain") as url:
            yield prepared(url)
    else:
        yield prepared(f"sqlite:///{tmp_path_factory.mktemp('drain-db') / 'portti.db'}")


@dataclass
class Instance:
    """One `portti serve` process on a port of its own; started again on the same port."""

    database_url: str
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    # The address people use: the balancer's, the same for every instance behind it (the app
    # refuses a login asked for on another site than the service's own, SEC-16).
    public_url: str = "http://portti.test"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = server_env(
            self.database_url,
            self.public_url,
            SECRET_KEY,
            PORTTI_QR_RECHECK_SECONDS="0.5",
            PORTTI_QR_KEEPALIVE_SECONDS="1",
            PORTTI_SHUTDOWN_GRACE_SECONDS=str(GRACE_S),
        )
        with (self.workdir / f"server-{self.port}.log").open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "portti.cli", "serve", "--port", str(self.port)],
                env=env,
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        assert wait_until(self.healthy, timeout=30, step=0.05), self.log_tail()

    def healthy(self) -> bool:
        assert self.proc is not None
        assert self.proc.poll() is None, self.log_tail()
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def terminate(self) -> None:
        """SIGTERM, without waiting."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> bool:
        """Whether the process ended by its SIGTERM after a complete shutdown (uvicorn raises
        the signal again once its shutdown is done: the exit status is the signal's)."""
        assert self.proc is not None
        return self.proc.wait(timeout) == -signal.SIGTERM and "outbox_worker_stopped" in (
            self.log_tail()
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self) -> str:
        path = self.workdir / f"server-{self.port}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-40:])


def prepared(url: str) -> str:
    upgrade(url)
    engine = make_engine(url)
    try:
        assert seed_demo(make_session_factory(engine), SystemClock())
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="module")
def shared_database_url() -> Iterator[str]:
    """PostgreSQL: instances under load share one (OPS-2); processes writing one SQLite file
    at that rate wait on its lock."""
    with scratch_database(PG_ADMIN, "portti_e2e_rolling") as url:
        yield prepared(url)


def two_instances(database_url: str, workdir: Path) -> Iterator[tuple[Instance, Instance]]:
    a, b = Instance(database_url, workdir), Instance(database_url, workdir)
    a.start()
    b.start()
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.fixture
def instances(database_url: str, tmp_path: Path) -> Iterator[tuple[Instance, Instance]]:
    yield from two_instances(database_url, tmp_path)


@pytest.fixture
def instances_on_postgresql(
    shared_database_url: str, tmp_path: Path
) -> Iterator[tuple[Instance, Instance]]:
    yield from two_instances(shared_database_url, tmp_path)


class Balancer(httpx.BaseTransport):
    """Sends each request to one of ``instances`` (in turn, or always the first that answers);
    a refused connection goes to the next. Connections are not kept alive: a stopping
    instance closes idle ones, and a request raced onto one could not safely be sent again."""

    def __init__(self, instances: list[Instance], *, round_robin: bool = True) -> None:
        self.instances = instances
        self.round_robin = round_robin
        self._turn = itertools.count()
        self._inner = httpx.HTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        first = next(self._turn) if self.round_robin else 0
        public = request.url  # what the browser asked for (its cookies are for this address)
        try:
            for attempt in range(4 * len(self.instances)):
                target = self.instances[(first + attempt) % len(self.instances)]
                request.url = public.copy_with(host="127.0.0.1", port=target.port)
                try:
                    return self._inner.handle_request(request)
                except httpx.ConnectError:
                    time.sleep(0.05)
        finally:
            request.url = public
        raise httpx.ConnectError("no instance answers", request=request)


def client_through(balancer: Balancer) -> httpx.Client:
    return httpx.Client(base_url="http://portti.test", transport=balancer, timeout=30)


@dataclass
class Stream:
    """A browser's ``EventSource`` on the login: reopened after an end without a final
    state (after the ``retry:`` the server asked for); every raw line kept."""

    browser: httpx.Client
    public_id: str
    lines: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    error: BaseException | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Stream:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        retry_ms = 1000
        try:
            while True:
                with self.browser.stream("GET", f"/login/qr/{self.public_id}/events") as r:
                    assert r.status_code == 200, r.status_code
                    for line in r.iter_lines():
                        self.lines.append(line)
                        if line.startswith("retry: "):
                            retry_ms = int(line[7:])
                        if line.startswith("data: "):
                            self.states.append(json.loads(line[6:])["status"])
                if self.states and self.states[-1] in ("approved", "rejected", "expired"):
                    return
                time.sleep(retry_ms / 1000)
        except BaseException as exc:
            self.error = exc

    def wait_for(self, status: str, timeout: float = 15) -> None:
        assert wait_until(lambda: status in self.states or self.error is not None, timeout), (
            self.states
        )
        assert self.error is None, self.error

    def join(self) -> None:
        assert self._thread is not None
        self._thread.join(15)


def phone_through(
    balancer: Balancer, database_url: str, person: tuple[str, str] = ("Kadri", "Tamm")
) -> Phone:
    sim = bind_demo_device(database_url, SECRET_KEY, *person)
    http = client_through(balancer)
    ch = http.post(
        f"/app-api/v1/devices/{sim.public_id}/challenges", json={"purpose": "unlock"}
    ).json()
    r = http.post(
        f"/app-api/v1/devices/{sim.public_id}/unlock",
        json={"nonce": ch["nonce"], "signature": sim.sign("unlock", ch["nonce"]), "pin": PIN},
    )
    assert r.status_code == 200, r.text
    return Phone(http=http, sim=sim, token=r.json()["app_session_token"])


def approve_typed_code(browser: httpx.Client, phone: Phone, public_id: str, panel) -> None:  # type: ignore[no-untyped-def]
    read = phone.type_code(typed_code(browser, panel))
    assert read.status_code == 200, read.text
    number = browser.get(f"/login/qr/{public_id}/status").json()["number"]
    approved = phone.approve(public_id, number, nonce=read.json()["challenge"]["nonce"])
    assert approved.status_code == 200, approved.text


def complete(browser: httpx.Client, panel) -> httpx.Response:  # type: ignore[no-untyped-def]
    return browser.post(
        f"/login/qr/{panel.public_id}/complete",
        data={"csrf_token": panel.csrf},
        headers={"accept": "text/html", "origin": "http://portti.test"},
    )


def test_sigterm_ends_the_event_stream_with_a_retry_hint_and_another_instance_completes(
    instances, database_url
):  # OPS-16
    a, b = instances
    phone = phone_through(Balancer([b]), database_url)
    # The browser is on A while A runs; the load balancer sends it to B once A stops.
    browser = client_through(Balancer([a, b], round_robin=False))
    panel = open_qr_login(browser)
    stream = Stream(browser, panel.public_id).start()
    stream.wait_for("pending")

    stopped_at = time.monotonic()
    a.terminate()
    assert wait_until(lambda: ": draining" in stream.lines, timeout=GRACE_S / 2), stream.lines
    ended = stream.lines.index(": draining")
    assert stream.lines[ended - 1].startswith("retry: ")
    assert 250 <= int(stream.lines[ended - 1][7:]) <= 1500
    assert a.wait(timeout=GRACE_S), a.log_tail()
    # The stream held A for no longer than it took to tell the browser to go elsewhere, not
    # until the grace ran out.
    assert time.monotonic() - stopped_at < GRACE_S / 2

    approve_typed_code(browser, phone, panel.public_id, panel)
    stream.wait_for("approved")
    done = complete(browser, panel)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/companies"
    # Logged in: the company list leads on to Kadri's company, not to the login page.
    after = browser.get("/companies", headers={"accept": "text/html"})
    assert after.status_code in (200, 303), after.text
    assert not after.headers.get("location", "").startswith("/login"), after.headers


@pytest.mark.slow
def test_a_rolling_restart_under_qr_login_load_loses_no_login(
    instances_on_postgresql, shared_database_url
):  # OPS-16
    a, b = instances_on_postgresql
    database_url = shared_database_url
    balancer = Balancer([a, b])
    # One login at a time per person (a second one waits for the first: approval_pending).
    people = [
        ("Kadri", "Tamm"),
        ("Erik", "Andersson"),
        ("Aino", "Laine"),
        ("Kaisa", "Mäkinen"),
        ("Timo", "Tilinen"),
        ("Sanna", "Tuki"),
    ]
    phones = [phone_through(balancer, database_url, person) for person in people]
    stop = threading.Event()
    done: list[float] = []
    failures: list[str] = []

    def log_in_until_stopped(phone: Phone) -> None:
        while not stop.is_set():
            browser = client_through(balancer)
            try:
                panel = open_qr_login(browser)
                stream = Stream(browser, panel.public_id).start()
                stream.wait_for("pending")
                approve_typed_code(browser, phone, panel.public_id, panel)
                stream.wait_for("approved")
                stream.join()
                r = complete(browser, panel)
                assert r.status_code == 303, (r.status_code, r.text[:200])
                done.append(time.monotonic())
            except BaseException as exc:
                failures.append(repr(exc))
                return
            finally:
                browser.close()
            # A typed code is tried at most 10 times a minute per device (WEB-2).
            stop.wait(PACE_S)

    workers = [threading.Thread(target=log_in_until_stopped, args=(p,)) for p in phones]
    for w in workers:
        w.start()
    try:
        time.sleep(PACE_S)
        for instance in (a, b):
            restarted_at = time.monotonic()
            instance.terminate()
            assert instance.wait(timeout=GRACE_S + 5), instance.log_tail()
            instance.start()
            time.sleep(PACE_S + 2)
            assert failures == []
            assert any(t > restarted_at for t in done), "no login completed across the restart"
    finally:
        stop.set()
        for w in workers:
            w.join(60)
    assert failures == []
    assert len(done) >= 3 * len(phones)
