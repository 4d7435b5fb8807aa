"""Settings refuse unsafe production configurations."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from portti.config import Mode, Settings

GOOD = {
    "mode": Mode.PRODUCTION,
    "secret_key": secrets.token_urlsafe(48),
    "base_url": "https://portti.example",
    "mail_url": "smtp://mail.example:587",
    "sms_url": "https://sms.example/send",
}


def test_production_settings_with_everything_given_are_accepted() -> None:  # OPS-4
    s = Settings(**GOOD)
    assert s.secure_cookies and not s.test_idp_enabled


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"secret_key": None}, "PORTTI_SECRET_KEY"),
        ({"base_url": "http://portti.example"}, "https://"),
        ({"test_idp_enabled": True}, "test identity provider"),
        ({"mail_url": "dev://"}, "real transports"),
        ({"sms_url": "dev://"}, "real transports"),
        ({"mail_url": "smtpx://mail.example"}, "PORTTI_MAIL_URL must be"),
        ({"sms_url": "not-a-url"}, "PORTTI_SMS_URL must be"),
    ],
)
def test_unsafe_production_settings_are_refused(change, message) -> None:  # OPS-4
    with pytest.raises(ValidationError, match=message):
        Settings(**{**GOOD, **change})


def test_demo_mode_gets_a_random_secret_and_the_test_provider() -> None:  # OPS-1
    a, b = Settings(mode=Mode.DEMO), Settings(mode=Mode.DEMO)
    assert a.secret != b.secret and a.test_idp_enabled


@pytest.mark.parametrize(
    ("database_url", "given", "threads"),
    [
        ("sqlite:///var/portti.db", None, 4),
        ("postgresql://portti@db/portti", None, 16),
        ("sqlite:///var/portti.db", 12, 12),
    ],
)
def test_handler_threads_follow_the_database_unless_given(  # OPS-2
    database_url: str, given: int | None, threads: int
) -> None:
    s = Settings(mode=Mode.TEST, database_url=database_url, handler_threads=given)
    assert s.threads == threads


def test_handler_threads_must_be_positive() -> None:  # OPS-4
    with pytest.raises(ValidationError, match="handler_threads"):
        Settings(mode=Mode.TEST, handler_threads=0)


def _provider(**change: object) -> dict[str, object]:
    return {
        "key": "fi_bank",
        "label": "Bank ID",
        "issuer": "https://broker.example",
        "client_id": "portti",
        "client_secret": "very-secret-client-secret-123",
        **change,
    }


def test_production_refuses_plain_http_provider_urls() -> None:  # OPS-4 WEB-4
    Settings(**GOOD, oidc_providers=[_provider()])
    for change in ({"issuer": "http://broker.example"}, {"token_endpoint": "http://b.example/t"}):
        with pytest.raises(ValidationError, match="must be https:// in production"):
            Settings(**GOOD, oidc_providers=[_provider(**change)])


def test_configuration_errors_never_echo_secrets() -> None:  # OPS-4 WEB-4
    bad = [
        _provider(client_id=None),
        _provider(issuer="http://broker.example"),
        _provider(token_endpoint_auth_method="telepathy"),
    ]
    for provider in bad:
        with pytest.raises(ValidationError) as caught:
            Settings(**GOOD, oidc_providers=[provider])
        assert "very-secret-client-secret-123" not in str(caught.value)
        assert "s" * 48 not in str(caught.value)


@pytest.mark.parametrize(
    "weak",
    ["x", "s" * 64, "correct-horse", "ab" * 40, "Portti2026!" * 6, "0123456789abcdef0123"],
)
def test_production_refuses_a_secret_key_without_32_random_bytes(weak: str) -> None:  # SEC-32
    with pytest.raises(ValidationError, match="at least 256") as e:
        Settings(**{**GOOD, "secret_key": weak})
    assert weak not in str(e.value)


@pytest.mark.parametrize(
    "make",
    [
        lambda: secrets.token_urlsafe(48),
        lambda: secrets.token_hex(32),
        lambda: secrets.token_urlsafe(32),
    ],
    ids=["token_urlsafe(48)", "token_hex(32)", "token_urlsafe(32)"],
)
def test_production_accepts_generated_secret_keys(make) -> None:  # SEC-32
    strong = make()
    assert Settings(**{**GOOD, "secret_key": strong}).secret == strong.encode()


def test_the_secret_key_can_come_from_a_file(tmp_path: Path) -> None:  # OPS-13
    key = secrets.token_urlsafe(48)
    path = tmp_path / "secret_key"
    path.write_text(key + "\n")
    s = Settings(**{**GOOD, "secret_key": None, "secret_key_file": path})
    assert s.secret == key.encode()
    with pytest.raises(ValidationError, match="not both"):
        Settings(**{**GOOD, "secret_key_file": path})
    with pytest.raises(ValidationError, match="cannot read"):
        Settings(**{**GOOD, "secret_key": None, "secret_key_file": tmp_path / "missing"})
    path.write_text("x")
    with pytest.raises(ValidationError, match="at least 256"):
        Settings(**{**GOOD, "secret_key": None, "secret_key_file": path})


def test_the_secret_ring_is_kept_until_the_secrets_change() -> None:  # OPS-13
    s = Settings(**GOOD)
    ring = s.secret
    ring.stable["example"] = b"loaded at start"
    assert s.secret is ring  # every service reads the ring the stable keys were loaded into
    new_key = secrets.token_urlsafe(48)
    rotated = s.model_copy(
        update={"secret_key": SecretStr(new_key), "previous_secret_keys": [s.secret_key]}
    )
    assert rotated.secret == new_key.encode()
    assert rotated.secret.previous == (GOOD["secret_key"].encode(),)
    assert s.secret is ring and s.secret == GOOD["secret_key"].encode()
