"""Every setting is documented for operators, and a wrong one stops the start with its name
(OPS-12's operability: docs/operations.md is what an operator configures from)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from portti.config import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "operations.md"


def documented() -> set[str]:
    text = OPERATIONS.read_text(encoding="utf-8")
    table = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`(PORTTI_[A-Z0-9_]+)`", table))


def test_every_setting_is_in_the_operations_guide():  # OPS-12
    names = {f"PORTTI_{field.upper()}" for field in Settings.model_fields}
    missing = sorted(names - documented())
    assert not missing, f"not in docs/operations.md's settings table: {missing}"


def test_the_guide_lists_no_setting_that_does_not_exist():  # OPS-12
    names = {f"PORTTI_{field.upper()}" for field in Settings.model_fields}
    stale = sorted(documented() - names)
    assert not stale, f"docs/operations.md names settings Portti does not read: {stale}"


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"PORTTI_LOG_FORMAT": "xml"}, "PORTTI_LOG_FORMAT: must be 'text' or 'json'"),
        (
            {"PORTTI_SESSION_IDLE_MINUTES": "half an hour"},
            "PORTTI_SESSION_IDLE_MINUTES: must be a valid integer",
        ),
        (
            {"PORTTI_METRICS_NETWORKS": "everyone"},
            "PORTTI_METRICS_NETWORKS: 'everyone' is not an IP address",
        ),
        (
            {"PORTTI_OIDC_CODE_LIFETIME_SECONDS": "9999"},
            "PORTTI_OIDC_CODE_LIFETIME_SECONDS: must be less than or equal to 600",
        ),
    ],
)
def test_a_wrong_setting_is_named_with_what_is_wrong(monkeypatch, env, says):  # OPS-12
    monkeypatch.setenv("PORTTI_MODE", "test")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as exc:
        load_settings()
    assert says in str(exc.value)
    assert "pydantic" not in str(exc.value) and "errors.pydantic.dev" not in str(exc.value)


def test_the_cli_prints_the_wrong_settings_and_never_a_secret(tmp_path):  # OPS-12
    env = {
        **os.environ,
        "PORTTI_MODE": "production",
        "PORTTI_SECRET_KEY": "s3cr3t-value-that-must-not-be-shown-" + "z" * 20,
        "PORTTI_LOG_LEVEL": "chatty",
        "PORTTI_DATABASE_URL": f"sqlite:///{tmp_path}/p.db",
        "PORTTI_BASE_URL": "https://portti.example",
        "PORTTI_MAIL_URL": "smtp://127.0.0.1:2525",
        "PORTTI_SMS_URL": "https://sms.example/send",
        "PORTTI_METRICS_TOKEN": "tok-" + "q" * 30,
    }
    r = subprocess.run(
        [sys.executable, "-m", "portti.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert "Portti cannot start: wrong settings" in r.stderr
    assert "PORTTI_LOG_LEVEL: must be 'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL'" in r.stderr
    assert "Traceback" not in r.stderr
    assert "s3cr3t" not in r.stderr + r.stdout and "chatty" not in r.stderr


def test_redis_url_is_gone():  # OPS-12
    # PORTTI_REDIS_URL was read by nothing: Redis is named per use (rate limits, event bus).
    assert "redis_url" not in Settings.model_fields
