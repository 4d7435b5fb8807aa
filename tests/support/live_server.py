"""``portti serve`` in a subprocess on a free port, for the end-to-end tests: started with a
clean environment (settings from the developer's shell do not leak in), waited for until
``/healthz`` answers, stopped with SIGTERM. Its output goes to a log whose tail a failing test's
report shows."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from support.sinks import free_port

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class LiveServer:
    url: str
    database_url: str
    secret_key: str
    log_path: Path

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no server log: {exc})"
        return "\n".join(text.splitlines()[-lines:]) or "(the server wrote nothing)"


def server_env(database_url: str, url: str, secret_key: str, **settings: str) -> dict[str, str]:
    """The server's environment: this process's without any ``PORTTI_*``, then demo mode, the
    database, address and secret, and ``settings`` (``PORTTI_…`` names)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTTI_")}
    env |= {
        "PORTTI_MODE": "demo",
        "PORTTI_DATABASE_URL": database_url,
        "PORTTI_BASE_URL": url,
        "PORTTI_SECRET_KEY": secret_key,
        "PYTHONUNBUFFERED": "1",
        **settings,
    }
    return env


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def running_server(
    database_url: str,
    workdir: Path,
    *,
    prepare: tuple[list[str], ...] = (),
    **settings: str,
) -> Iterator[LiveServer]:
    """The server on ``database_url`` (after the ``portti`` commands in ``prepare``, such as
    ``["migrate"]``), its log in ``workdir/server.log``; stopped on leaving."""
    log = workdir / "server.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    secret_key = secrets.token_urlsafe(48)
    env = server_env(database_url, url, secret_key, **settings)
    for command in prepare:
        run_portti(command, env, workdir, log)
    with log.open("ab") as out:
        out.write(f"$ portti serve --port {port}\n".encode())
        proc = subprocess.Popen(
            [sys.executable, "-m", "portti.cli", "serve", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(url=url, database_url=database_url, secret_key=secret_key, log_path=log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"The server exited with {proc.returncode} before it answered /healthz:\n"
                    + server.log_tail()
                )
            try:
                if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"The server did not answer /healthz within {STARTUP_TIMEOUT_S:.0f} s:\n"
                    + server.log_tail()
                )
            time.sleep(0.05)
        yield server
    finally:
        stop(proc)


def run_portti(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
    """Runs one `portti` command to completion, its output appended to the server log."""
    with log.open("ab") as out:
        out.write(f"$ portti {' '.join(command)}\n".encode())
        out.flush()
        done = subprocess.run(
            [sys.executable, "-m", "portti.cli", *command],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=False,
        )
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        pytest.fail(f"`portti {' '.join(command)}` exited with {done.returncode}:\n{tail}")
