"""Every benchmark still runs: each in its ``--smoke`` mode (a few seconds, small counts), as
its own process, on the suite's database kind where it takes one. A benchmark fails its smoke
run on any error, 5xx or crash; timing is never checked here (OPS-16)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PG_ADMIN

ROOT = Path(__file__).resolve().parents[2]
BACKEND = os.environ.get("PORTTI_TEST_DATABASE", "sqlite")
# Benchmarks that run on PostgreSQL too (``--postgresql``: a scratch database of their own).
BOTH = ("capacity", "users_list", "invitations", "retention", "scim", "csv_bulk")
SQLITE_ONLY = ("qr_login", "oidc_token", "oidc_token_cpu", "request_overhead")
# Benchmarks whose smoke run has a test of its own (it needs Node: tests/benchmarks/).
OWN_TEST = ("sso_roundtrip",)

pytestmark = pytest.mark.slow


def _run(name: str, *extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTTI_")}
    # The suite's PostgreSQL server: the benchmarks make their scratch databases there.
    env["PORTTI_BENCH_PG_ADMIN"] = PG_ADMIN
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), "--smoke", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "Traceback" not in out, out[-4000:]
    return out


@pytest.mark.parametrize("name", BOTH)
def test_benchmark_runs(name: str) -> None:  # OPS-16
    _run(name, *(["--postgresql"] if BACKEND == "postgresql" else []))


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite benchmarks: run in the SQLite pass")
@pytest.mark.parametrize("name", SQLITE_ONLY)
def test_sqlite_benchmark_runs(name: str) -> None:  # OPS-16
    out = _run(name)
    if name == "qr_login":
        # Another process wrote invitations to the same SQLite file during the approvals.
        assert "another writer" in out, out[-2000:]


def test_every_benchmark_has_a_smoke_run() -> None:  # OPS-16
    scripts = {p.stem for p in (ROOT / "benchmarks").glob("*.py")}
    helpers = {"benchdb", "rawhttp"}  # modules the benchmarks import, not benchmarks
    assert scripts - helpers == set(BOTH) | set(SQLITE_ONLY) | set(OWN_TEST)
