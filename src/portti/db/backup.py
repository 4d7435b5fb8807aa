"""Backups and restores: SQLite through its online backup API, PostgreSQL through
``pg_dump``/``pg_restore`` (custom format). Both are safe while the service runs."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from portti.db.session import normalise_url


class BackupError(RuntimeError):
    pass


def _pg_args(url: str) -> tuple[list[str], str]:
    u = make_url(normalise_url(url))
    args = []
    if u.host:
        args += ["--host", u.host]
    if u.port:
        args += ["--port", str(u.port)]
    if u.username:
        args += ["--username", u.username]
    return args, str(u.database)


def _pg_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    password = make_url(normalise_url(url)).password
    if password:
        env["PGPASSWORD"] = str(password)
    return env


def backup(url: str, target: Path) -> Path:
    """Write a backup readable by its owner alone (0600): it holds every person's details."""
    old_umask = os.umask(0o077)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        os.chmod(target, 0o600)  # a file that was there keeps its mode through O_CREAT
        return _backup(url, target)
    finally:
        os.umask(old_umask)


def _backup(url: str, target: Path) -> Path:
    if url.startswith("sqlite:///"):
        source = sqlite3.connect(url.removeprefix("sqlite:///"))
        dest = sqlite3.connect(target)
        try:
            source.backup(dest)  # consistent even while the service writes
        finally:
            dest.close()
            source.close()
        target.chmod(0o600)
        return target
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError("pg_dump is not installed (Debian: postgresql-client)")
    args, db = _pg_args(url)
    subprocess.run(  # noqa: S603 - fixed executable, arguments from settings
        [
            pg_dump,
            *args,
            "--format=custom",
            "--no-owner",
            "--file",
            str(target),
            db,
        ],
        check=True,
        env=_pg_env(url),
    )
    target.chmod(0o600)
    return target


def restore(url: str, source: Path) -> None:
    if not source.exists():
        raise BackupError(f"No backup at {source}")
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        src = sqlite3.connect(source)
        dest = sqlite3.connect(path)
        try:
            src.backup(dest)
        finally:
            dest.close()
            src.close()
        return
    pg_restore = shutil.which("pg_restore")
    if pg_restore is None:
        raise BackupError("pg_restore is not installed (Debian: postgresql-client)")
    args, db = _pg_args(url)
    subprocess.run(  # noqa: S603
        [
            pg_restore,
            *args,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--dbname",
            db,
            str(source),
        ],
        check=True,
        env=_pg_env(url),
    )
