"""The password policy (NIST SP 800-63B-4) and the breached-password check against a real local
HTTP server."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from structlog.testing import capture_logs

from portti.accounts.passwords import (
    BreachedPasswordChecker,
    PasswordPolicy,
    PasswordRejected,
    common_passwords,
)

BREACHED = "correct horse battery staple 1"
GOOD = "violet tractor under 7 lanterns"


def rejected_code(policy: PasswordPolicy, password: str, email: str | None = None) -> str:
    with pytest.raises(PasswordRejected) as caught:
        policy.check(password, email=email)
    err = caught.value
    assert err.message and err.next_step
    assert password not in err.message and password not in err.next_step
    return err.code


def sha1_upper(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest().upper()


class RangeServer:
    """A tiny k-anonymity range API: ``GET /range/{prefix}`` answers "SUFFIX:COUNT" lines."""

    def __init__(self, breached: dict[str, int]) -> None:
        self.requests: list[tuple[str, str | None]] = []
        corpus: dict[str, list[str]] = {}
        for password, count in breached.items():
            digest = sha1_upper(password)
            corpus.setdefault(digest[:5], []).append(f"{digest[5:]}:{count}")
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append((self.path, self.headers.get("Add-Padding")))
                prefix = self.path.rsplit("/", 1)[-1]
                # Padding lines (count 0) as the real service sends with Add-Padding.
                lines = [*corpus.get(prefix, []), "0" * 35 + ":0", "F" * 35 + ":0"]
                body = "\r\n".join(lines).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/range"

    def __enter__(self) -> RangeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


@pytest.fixture
def range_server() -> Iterator[RangeServer]:
    with RangeServer({BREACHED: 42}) as server:
        yield server


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# -- the rules ---------------------------------------------------------------------------------


def test_a_long_passphrase_of_any_characters_is_accepted() -> None:  # APP-2
    policy = PasswordPolicy()
    policy.check(GOOD)
    policy.check("correct horse battery staple")  # spaces are characters too
    policy.check("ääliö öylätti 🦊 ja ƒ")  # no composition rules, any Unicode
    policy.check("x" * 128)


def test_shorter_than_12_characters_is_refused() -> None:  # APP-2, OPS-4
    policy = PasswordPolicy()
    assert rejected_code(policy, "vT7#kq!9Lm2") == "password_too_short"  # 11, however "complex"
    policy.check("vT7#kq!9Lm2z")  # 12


def test_length_counts_characters_after_nfkc_normalisation() -> None:  # APP-2
    policy = PasswordPolicy()
    decomposed = "e\u0301" * 11  # 22 code points as typed, 11 characters
    assert rejected_code(policy, decomposed) == "password_too_short"


def test_minimum_length_is_configurable() -> None:  # APP-2
    assert rejected_code(PasswordPolicy(min_length=16), GOOD[:15]) == "password_too_short"


def test_longer_than_128_characters_is_refused() -> None:  # APP-2, OPS-4
    assert rejected_code(PasswordPolicy(), "x" * 129) == "password_too_long"


def test_common_passwords_of_12_or_more_characters_are_refused() -> None:  # APP-2, OPS-4
    common = common_passwords()
    assert len(common) > 19_000
    assert "password123456" in common  # what the bundled list has
    policy = PasswordPolicy()
    for password in ("password123456", "PassWord123456", "1q2w3e4r5t6y", "123456789abc"):
        assert rejected_code(policy, password) == "password_common", password


def test_a_password_containing_the_email_local_part_is_refused() -> None:  # APP-2, OPS-4
    policy = PasswordPolicy()
    email = "Alice.Smith@example.com"
    assert rejected_code(policy, "my alice.smith secret!", email) == "password_contains_email"
    # A sub-address tag is not part of the name.
    assert (
        rejected_code(policy, "alice.smith and friends", "alice.smith+portti@example.com")
        == "password_contains_email"
    )
    policy.check(GOOD, email=email)
    # A one- or two-letter local part would refuse too many good passwords.
    policy.check("violet ai tractor lanterns", email="ai@example.com")


# -- breached passwords (k-anonymity range API) ---------------------------------------------------


def test_a_breached_password_is_refused_by_the_range_api(
    range_server: RangeServer, http: httpx.Client
) -> None:  # APP-2, OPS-4
    checker = BreachedPasswordChecker(range_server.url, http)
    assert checker.is_breached(BREACHED)
    assert not checker.is_breached(GOOD)
    assert rejected_code(PasswordPolicy(breached=checker), BREACHED) == "password_breached"
    PasswordPolicy(breached=checker).check(GOOD)
    # Only the first five hex digits of the SHA-1 left the process, with padding asked for.
    path, padding = range_server.requests[0]
    assert path == "/range/" + sha1_upper(BREACHED)[:5]
    assert padding == "true"
    assert all(len(p.rsplit("/", 1)[-1]) == 5 for p, _ in range_server.requests)


def test_padding_lines_with_count_zero_are_not_breaches(http: httpx.Client) -> None:  # APP-2
    with RangeServer({BREACHED: 42, GOOD: 0}) as server:
        checker = BreachedPasswordChecker(server.url, http)
        assert checker.is_breached(BREACHED)
        assert not checker.is_breached(GOOD)


def test_an_unreachable_range_api_fails_open_and_warns_without_the_password(
    http: httpx.Client,
) -> None:  # APP-2, OPS-4
    checker = BreachedPasswordChecker(f"http://127.0.0.1:{unused_port()}/range", http)
    with capture_logs() as logs:
        PasswordPolicy(breached=checker).check(BREACHED)  # allowed: fail open
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert [e["event"] for e in warnings] == ["breached_password_check_unavailable"]
    dumped = repr(logs)
    assert BREACHED not in dumped
    assert sha1_upper(BREACHED)[:5] not in dumped


def test_a_range_api_error_status_fails_open(http: httpx.Client) -> None:  # APP-2
    class Failing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(503)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        checker = BreachedPasswordChecker(f"http://{host!s}:{port}/range", http)
        assert not checker.is_breached(BREACHED)
    finally:
        server.shutdown()
        server.server_close()
