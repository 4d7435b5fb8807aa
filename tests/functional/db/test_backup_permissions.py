"""A backup is readable by its owner only (OPS-15's hardening list): it holds every person's
identity numbers and contact details."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from support import factories as f


def mode_of(path) -> int:  # type: ignore[no-untyped-def]
    return stat.S_IMODE(path.stat().st_mode)


def test_backup_file_is_written_0600_whatever_the_umask(database_url, db, tmp_path):  # OPS-15
    f.World(db)
    db.commit()
    target = tmp_path / "portti.backup"
    # An earlier file that anyone could read is tightened, not kept as it was.
    target.write_bytes(b"old")
    target.chmod(0o644)
    env = {**os.environ, "PORTTI_MODE": "test", "PORTTI_DATABASE_URL": database_url}
    script = "import os, sys; os.umask(0o022); from portti.cli import main; sys.argv = ['portti', 'backup', sys.argv[1]]; main()"
    r = subprocess.run(
        [sys.executable, "-c", script, str(target)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "Backup written to" in r.stdout
    assert target.stat().st_size > 3
    assert mode_of(target) == 0o600
