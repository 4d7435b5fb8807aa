"""Settings: one object, read from the environment (prefix ``PORTTI_``) or given by tests.

Secrets have no silent defaults outside demo mode: a production start without a secret key fails.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Part of the settings (``Settings.oidc_providers``), read from here by the code that uses them.
from portti.provider_settings import OidcProviderSettings as OidcProviderSettings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: list[str] | tuple[str, ...]) -> tuple[Network, ...]:
    """Addresses and networks (CIDR): a single address is a /32 or /128."""
    networks: list[Network] = []
    for raw in values:
        text = raw.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(
                f"{text!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/8)"
            ) from None
    return tuple(networks)


class Mode(StrEnum):
    DEMO = "demo"
    TEST = "test"
    PRODUCTION = "production"


class SecretRing(bytes):
    """The current root secret (its ``bytes`` value) with the previous ones, newest first, and
    the stable keys read from the database (empty until ``infra.secret_material`` loads them)."""

    previous: tuple[bytes, ...]
    stable: dict[str, bytes]
    # No secret was configured: demo mode made this one up for the process.
    made_up: bool

    def __new__(
        cls, current: bytes, previous: tuple[bytes, ...] = (), *, made_up: bool = False
    ) -> SecretRing:
        ring = super().__new__(cls, current)
        ring.previous = tuple(previous)
        ring.stable = {}
        ring.made_up = made_up
        return ring

    @property
    def current(self) -> bytes:
        return bytes(self)

    @property
    def all(self) -> tuple[bytes, ...]:
        return (bytes(self), *self.previous)


# A production secret key carries at least 32 bytes of randomness (SEC-32).
MIN_SECRET_BITS = 256


def secret_strength_bits(value: str) -> int:
    """A generous estimate of the randomness in ``value``: its length times the bits of the
    smallest alphabet that writes it (hex, base64url/base64, printable ASCII), and nothing for
    a value of few distinct characters ("aaaa…", "abab…"). A generated key passes (``token_urlsafe
    (48)``: 384, ``token_hex(32)``: 256); a word or "x" does not."""
    if len(set(value)) < 12:
        return 0
    hexdigits = set("0123456789abcdefABCDEF")
    b64 = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=")
    chars = set(value)
    if chars <= hexdigits:
        per = 4.0
    elif chars <= b64:
        per = 6.0
    else:
        per = 6.5
    # A repeated block adds nothing: count the distinct 8-character windows, not the length.
    windows = {value[i : i + 8] for i in range(max(1, len(value) - 7))}
    effective = min(len(value), len(windows) + 7)
    return int(effective * per)


# Connections of a process's pool that no request may take: the outbox worker, the back-channel
# logout worker, the QR streams' re-check and their first reads (which hold no request place
# while they stream) each need one beside the requests being served.
DB_RESERVED_CONNECTIONS = 4


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PORTTI_", env_nested_delimiter="__", hide_input_in_errors=True
    )
    _ring: SecretRing | None = PrivateAttr(default=None)
    _ring_source: tuple[object, object] | None = PrivateAttr(default=None)
    # Demo mode without PORTTI_SECRET_KEY(_FILE): a secret made up for this process only.
    _secret_key_made_up: bool = PrivateAttr(default=False)

    mode: Mode = Mode.PRODUCTION
    base_url: str = "http://127.0.0.1:8000"
    database_url: str = "sqlite:///var/portti.db"
    # Events between processes: "memory://", "postgresql" (LISTEN/NOTIFY) or a redis:// URL.
    event_bus_url: str = "memory://"
    # What the app says is asking when a QR login is scanned (WEB-2).
    service_name: str = "Portti"
    # A MaxMind DB file (GeoLite2-Country or -City) for the country of the browser the app is
    # asked to approve (SEC-13); unset: public addresses are "Unknown".
    geoip_database: Path | None = None
    rate_limit_storage_url: str = "memory://"
    secret_key: SecretStr | None = None
    # The secret key read from a file (a mounted secret, systemd's LoadCredential): one of the two.
    secret_key_file: Path | None = None
    # After a rotation (docs/operations.md, "Rotating the secret key"): the secrets in use before,
    # newest first; what they sealed or hashed keeps working until `portti secrets rotate`
    # re-sealed it and the codes they hashed have expired. A file: one secret a line.
    previous_secret_keys: list[SecretStr] = Field(default_factory=list)
    previous_secret_keys_file: Path | None = None
    # The CAs outgoing HTTPS trusts (identity providers, brokers, back-channel logout): unset,
    # certifi's public bundle; "system", the operating system's store; a PEM file (or a
    # directory), certifi's bundle plus those CAs (OIDC-10, portti.infra.tls).
    ca_bundle: str | None = None

    # A QR login's event stream (WEB-1): a comment line this often while nothing happens (finds
    # a browser that has gone away, keeps proxies from closing a quiet connection); one response
    # streams at most qr_stream_seconds (EventSource reconnects and reads the database first);
    # every open stream's login is re-read from the database each qr_recheck_seconds, which
    # brings expiry and whatever another instance's lost message said.
    qr_keepalive_seconds: float = Field(default=3.0, gt=0)
    qr_stream_seconds: float = Field(default=30.0, gt=0)
    qr_recheck_seconds: float = Field(default=3.0, gt=0)
    # On SIGTERM (OPS-16): the requests in flight get this long to finish; event streams end
    # at once with a reconnection hint (browsers come back through another instance).
    shutdown_grace_seconds: int = Field(default=20, ge=0)

    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    step_up_minutes: int = 15

    # Argon2id cost; tests lower it, production keeps OWASP's recommendation or more.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    # The device PIN verifier's argon2id cost: far lower, by decision (docs/architecture.md,
    # "The PIN and the device keys"): the pepper, not the hash cost, keeps a copied database
    # from being a PIN oracle, and no affordable cost protects a 6-digit PIN once both the
    # database and the secret key are out.
    pin_argon2_time_cost: int = Field(default=1, ge=1)
    pin_argon2_memory_kib: int = Field(default=4096, ge=1024)
    pin_argon2_parallelism: int = Field(default=1, ge=1)
    breached_password_api_url: str | None = None

    # Portti's own keys (portti.keys): a new key is published this long before it is used; the
    # previous one stays published this long after (longer than anything signed with it
    # lives); keys older than keys_rotate_days get a successor (0: only `portti keys rotate`).
    keys_prepublish_hours: float = Field(default=24, ge=0)
    keys_retain_hours: float = Field(default=24, ge=0)
    keys_rotate_days: int = Field(default=90, ge=0)
    keys_rsa_bits: int = Field(default=2048, ge=2048)

    # The OpenID Provider: an authorization code lives this long (RFC 6749 §4.1.2: at most ten
    # minutes, short recommended); clients' logins are checked against ended memberships this
    # often (the back-channel logout worker runs the sweep).
    oidc_code_lifetime_seconds: int = Field(default=60, ge=1, le=600)
    oidc_membership_sweep_seconds: float = Field(default=60, gt=0)
    # Access tokens of machine clients (client credentials, PRV-1): short-lived, as nothing
    # revokes them; narrowing or disabling the client takes effect at once anyway.
    machine_token_lifetime_seconds: int = Field(default=600, ge=30, le=3600)

    test_idp_enabled: bool = False
    oidc_providers: list[OidcProviderSettings] = Field(default_factory=list)

    mail_url: str = "dev://"  # dev:// keeps mail for the dev mailbox; smtp://user:pass@host:port
    mail_from: str = "Portti <no-reply@portti.localhost>"
    sms_url: str = "dev://"  # dev:// or an HTTP gateway URL
    sms_auth_header: SecretStr | None = None
    sms_body_template: str = '{"to": "{to}", "text": "{text}"}'
    outbox_in_process: bool = True
    # The outbox worker looks for due messages this often when nothing wakes it sooner.
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    # Back-channel logout tokens due for delivery are looked for this often.
    backchannel_poll_seconds: float = Field(default=0.5, gt=0)
    # With back-off capped at 10 minutes, 20 tries ride out about two and a half hours of outage.
    outbox_max_attempts: int = 20

    # Retention (portti.retention, OPS-14): what expired or ended this long ago is purged; the
    # audit log is kept audit_retention_days (at least 30) and written as JSON lines to
    # audit_export_dir before its rows go (unset: the audit log is kept whole); `portti worker`
    # purges every purge_interval_minutes (0: only `portti purge`).
    purge_grace_hours: float = Field(default=24, ge=0)
    audit_retention_days: int = Field(default=365, ge=30)
    audit_export_dir: Path | None = None
    purge_interval_minutes: float = Field(default=60, ge=0)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # "text": key=value lines; "json": one JSON object a line (OPS-12).
    log_format: Literal["text", "json"] = "text"
    # Addresses or networks (CIDR) of the reverse proxies whose X-Forwarded-For, -Proto, -Host
    # and X-Request-ID are believed (OPS-15); a JSON list or comma-separated.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Who may read /metrics (OPS-11): clients in these networks, or anyone with this token.
    metrics_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1"]
    )
    metrics_token: SecretStr | None = None
    # Threads that run request handlers (their database work, PIN and password hashing, calls
    # to an identity provider); unset: 4 with SQLite, 16 with PostgreSQL. SQLite has one writer
    # and Python one interpreter lock, so beyond a few threads more only contend (measured in
    # docs/benchmarks.md); a remote database's round trips leave room for more.
    handler_threads: int | None = Field(default=None, ge=1, le=256)
    # Database connections per process: kept open, opened beyond them when busy, and how long
    # a request waits for one before it is answered 503 (docs/operations.md, "Capacity").
    db_pool_size: int = Field(default=20, ge=1, le=1000)
    db_max_overflow: int = Field(default=10, ge=0, le=1000)
    db_pool_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    # Requests served at once per process (liveness, metrics and static files not counted);
    # unset: the handler threads, at most the pool's connections less DB_RESERVED_CONNECTIONS,
    # so a request let in always gets a connection and a thread. More wait their turn in a
    # queue of at most request_queue_length, for at most request_queue_seconds: one that finds
    # the queue full, or so long that at the pace requests are served its turn would come
    # later (saturated), is answered 503 with Retry-After at once (web/admission.py).
    max_concurrent_requests: int | None = Field(default=None, ge=1, le=10000)
    request_queue_length: int = Field(default=1000, ge=0, le=100000)
    request_queue_seconds: float = Field(default=1.0, ge=0, le=60)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("trusted_proxies", "metrics_networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if isinstance(value, list):
            cleaned = [str(v).strip() for v in value if str(v).strip()]
            parse_networks(cleaned)  # raises with the entry that is not an address or network
            return cleaned
        return value

    @model_validator(mode="before")
    @classmethod
    def _parse_providers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            raw = data.get("oidc_providers")
            if isinstance(raw, str):
                data["oidc_providers"] = json.loads(raw)
        return data

    @model_validator(mode="after")
    def _check_secrets(self) -> Settings:
        if self.secret_key_file is not None:
            if self.secret_key is not None:
                raise ValueError("Set PORTTI_SECRET_KEY or PORTTI_SECRET_KEY_FILE, not both")
            try:
                value = self.secret_key_file.read_text(encoding="utf-8").strip()
            except OSError as e:
                raise ValueError(
                    f"PORTTI_SECRET_KEY_FILE: cannot read {self.secret_key_file} ({e.strerror})"
                ) from None
            if not value:
                raise ValueError(f"PORTTI_SECRET_KEY_FILE: {self.secret_key_file} is empty")
            self.secret_key = SecretStr(value)
        if self.previous_secret_keys_file is not None:
            try:
                lines = self.previous_secret_keys_file.read_text(encoding="utf-8").splitlines()
            except OSError as e:
                raise ValueError(
                    f"PORTTI_PREVIOUS_SECRET_KEYS_FILE: cannot read "
                    f"{self.previous_secret_keys_file} ({e.strerror})"
                ) from None
            self.previous_secret_keys += [SecretStr(x.strip()) for x in lines if x.strip()]
        if self.secret_key is not None and self.mode is Mode.PRODUCTION:
            bits = secret_strength_bits(self.secret_key.get_secret_value())
            if bits < MIN_SECRET_BITS:
                raise ValueError(
                    f"PORTTI_SECRET_KEY holds about {bits} bits of randomness; production needs "
                    f"at least {MIN_SECRET_BITS} (32 random bytes), e.g. "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
                )
        if self.secret_key is None:
            if self.mode is Mode.PRODUCTION:
                raise ValueError(
                    "PORTTI_SECRET_KEY must be set in production mode "
                    "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
                )
            self.secret_key = SecretStr(secrets.token_urlsafe(48))
            self._secret_key_made_up = True
        if (
            self.mode is Mode.PRODUCTION
            and not self.base_url.startswith("https://")
            and self.host not in {"127.0.0.1", "localhost", "::1"}
        ):
            raise ValueError("PORTTI_BASE_URL must be https:// outside localhost in production")
        if not self.mail_url.startswith(("dev://", "smtp://", "smtps://")):
            raise ValueError(
                "PORTTI_MAIL_URL must be dev://, smtp://user:password@host:port or smtps://…"
            )
        if not self.sms_url.startswith(("dev://", "http://", "https://")):
            raise ValueError("PORTTI_SMS_URL must be dev:// or the SMS gateway's http(s):// URL")
        if self.mode is Mode.PRODUCTION and "dev://" in (self.mail_url, self.sms_url):
            raise ValueError(
                "PORTTI_MAIL_URL and PORTTI_SMS_URL must name real transports in production "
                "(dev:// keeps messages for the dev mailbox only)"
            )
        if self.mode is Mode.PRODUCTION:
            for p in self.oidc_providers:
                plain = [u for u in p.urls() if not u.startswith("https://")]
                if plain:
                    raise ValueError(
                        f"Identity provider {p.key!r}: its URLs must be https:// in production "
                        f"(not {', '.join(plain)})"
                    )
        if self.mode is Mode.PRODUCTION and self.test_idp_enabled:
            raise ValueError("The built-in test identity provider is refused in production mode")
        if (
            self.max_concurrent_requests is not None
            and self.max_concurrent_requests > self.db_connections
        ):
            # More requests at once than connections: requests holding a connection would wait
            # for a handler thread while every thread waits for a connection.
            raise ValueError(
                "PORTTI_MAX_CONCURRENT_REQUESTS must not exceed the pool's connections "
                f"(PORTTI_DB_POOL_SIZE + PORTTI_DB_MAX_OVERFLOW = {self.db_connections}); "
                f"leave {DB_RESERVED_CONNECTIONS} of them to the workers"
            )
        if self.mode is not Mode.PRODUCTION:
            self.test_idp_enabled = True
        return self

    @property
    def demo(self) -> bool:
        return self.mode is not Mode.PRODUCTION

    @property
    def secret(self) -> SecretRing:
        """The root secret with the previous ones: one ring per settings object, so the stable
        keys loaded into it at start (``infra.secret_material``) reach every service."""
        assert self.secret_key is not None
        ring, source = self._ring, self._ring_source
        # Read on every request: while the secrets are the objects the ring was made of, it
        # stands without reading them again.
        if (
            ring is not None
            and source is not None
            and source[0] is self.secret_key
            and source[1] is self.previous_secret_keys
        ):
            return ring
        current = self.secret_key.get_secret_value().encode()
        previous = tuple(p.get_secret_value().encode() for p in self.previous_secret_keys)
        # A copy with other secrets (``model_copy(update=…)``) must not keep this ring.
        if ring is None or ring.current != current or ring.previous != previous:
            ring = self._ring = SecretRing(current, previous, made_up=self._secret_key_made_up)
        self._ring_source = (self.secret_key, self.previous_secret_keys)
        return ring

    @property
    def host(self) -> str:
        return self.base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def step_up_window(self) -> timedelta:
        return timedelta(minutes=self.step_up_minutes)

    @property
    def db_connections(self) -> int:
        return self.db_pool_size + self.db_max_overflow

    @property
    def concurrent_requests(self) -> int:
        if self.max_concurrent_requests is not None:
            return self.max_concurrent_requests
        # No more than the handler threads either: a request between two of its hops to a
        # thread may hold a connection or SQLite's write lock, and then one thread stays free
        # for it whatever the others wait for.
        return max(1, min(self.threads, self.db_connections - DB_RESERVED_CONNECTIONS))

    @property
    def threads(self) -> int:
        if self.handler_threads is not None:
            return self.handler_threads
        return 4 if self.database_url.startswith("sqlite") else 16


class SettingsError(Exception):
    """Settings that stop the start: one line per setting, naming it and what is wrong."""


def _env_name(loc: tuple[int | str, ...]) -> str:
    if not loc:
        return "PORTTI_* settings"
    head, *rest = loc
    name = f"PORTTI_{str(head).upper()}"
    return name + "".join(f"[{p}]" for p in rest)


def load_settings(**overrides: Any) -> Settings:
    """``Settings()`` from the environment, or :class:`SettingsError` whose message an operator
    can act on (the setting's variable and what is wrong; never the value, which may be a
    secret)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False, include_input=False):
            message = str(error.get("msg", "invalid"))
            message = message.removeprefix("Value error, ")
            message = message.replace("Input should be", "must be")
            if error.get("type") == "missing":
                message = "must be set"
            lines.append(f"{_env_name(tuple(error.get('loc', ())))}: {message}")
        raise SettingsError("\n".join(lines)) from None
    except Exception as exc:  # pydantic-settings' own parse errors (JSON that does not parse)
        text = str(exc)
        raise SettingsError(text.split("\n", 1)[0].replace('"', "")[:300]) from None
