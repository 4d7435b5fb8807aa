"""Real servers on free local ports for the transports to talk to: an SMTP server (aiosmtpd)
that can be stopped and started again on the same port, and a tiny HTTP SMS gateway."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


@dataclass
class Received:
    """One delivered message as the recipient sees it, whatever carried it."""

    to: str
    subject: str | None
    text: str
    html: str | None = None


class SmtpSink:
    """An aiosmtpd server. ``stop()`` and ``start()`` again to simulate an outage."""

    def __init__(self, *, login: tuple[str, str] | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.login = login
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse: dict[str, str] = {}  # recipient -> SMTP reply, e.g. "550 No such user"
        self.delay = 0.0  # seconds to wait before answering DATA
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        if self.login:
            return f"smtp://{self.login[0]}:{self.login[1]}@{self.host}:{self.port}"
        return f"smtp://{self.host}:{self.port}"

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def received(self) -> list[Received]:
        with self._lock:
            messages = list(self.messages)
        out = []
        for m in messages:
            html_part = m.get_body(("html",))
            text_part = m.get_body(("plain",))
            assert text_part is not None
            out.append(
                Received(
                    to=str(m["To"]),
                    subject=str(m["Subject"]),
                    text=_text(text_part),
                    html=_text(html_part) if html_part is not None else None,
                )
            )
        return out

    def start(self) -> None:
        sink = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
                reply = sink.refuse.get(address)
                if reply:
                    return reply
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
                if sink.delay:
                    await asyncio.sleep(sink.delay)
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                with sink._lock:
                    sink.messages.append(msg)  # type: ignore[arg-type]
                    sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                return "250 Message accepted for delivery"

        kwargs: dict[str, Any] = {}
        if self.login:
            expected = self.login

            def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
                ok = (auth_data.login.decode(), auth_data.password.decode()) == expected
                return AuthResult(success=ok, handled=False)

            kwargs |= {"authenticator": authenticator, "auth_require_tls": False}
        self._controller = Controller(
            Handler(), hostname=self.host, port=self.port, ready_timeout=10, **kwargs
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def _text(part: Any) -> str:
    # Line ends come back as CRLF from the wire, and set_content ends every text with one.
    content: str = part.get_content()
    return content.replace("\r\n", "\n").removesuffix("\n")


@dataclass
class HttpRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class HttpSink:
    """A local HTTP server standing in for an SMS gateway; answers ``status`` after ``delay``."""

    def __init__(self) -> None:
        self.requests: list[HttpRequest] = []
        self.status = 200
        self.delay = 0.0
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if sink.delay:
                    time.sleep(sink.delay)
                with sink._lock:
                    sink.requests.append(
                        HttpRequest(
                            self.path, {k.lower(): v for k, v in self.headers.items()}, body
                        )
                    )
                payload = b'{"echo": "the gateway echoes what it got"}'
                try:
                    self.send_response(sink.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout tests)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/send"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
