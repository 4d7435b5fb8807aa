"""What reaches the operators' log (OPS-12, SEC-29): one structured line per request with its
route template and request id, JSON lines on request, tracebacks as one record, and no
credential, token or query string of an outgoing request anywhere in it."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import structlog
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from portti.infra.logging import portti_handler, redact_urls
from portti.infra.mail import make_mailer
from portti.infra.outbox import outbox_box
from portti.infra.outbox_worker import OutboxWorker
from portti.infra.sms import make_sms_sender
from support import factories as f
from support.activation import AppActivation, invite, latest_signup_code, latest_sms_code
from support.network import client_at
from support.sinks import HttpSink
from support.web import HTML, another_browser, force_login

SMS_SECRETS = ("gwuser", "gwpass", "SECRETAPIKEY123")


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"log_format": "json", "trusted_proxies": ["127.0.0.1"]})


@pytest.fixture
def log_output(app) -> Iterator[io.StringIO]:  # type: ignore[no-untyped-def]
    """What Portti's own log handler writes, as the operator's log collector reads it."""
    handler = portti_handler()
    assert handler is not None and isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def records(buffer: io.StringIO) -> list[dict[str, object]]:
    lines = [line for line in buffer.getvalue().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line is one JSON object


def test_one_json_line_per_request_with_route_template_and_no_query(
    client, world, log_output
):  # OPS-12
    force_login(client, world.kh_a)
    r = client.get(f"/c/{world.client_a.id}/users?q=Virtanen&secret_param=x", headers=HTML)
    assert r.status_code == 200
    request_id = r.headers["x-request-id"]
    (line,) = [x for x in records(log_output) if x.get("event") == "request"]
    assert line["method"] == "GET"
    assert line["route"] == "/c/{company_id}/users"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["request_id"] == request_id
    assert line["client_network"] == "testclient"
    assert line["level"] == "info" and line["timestamp"]
    text = log_output.getvalue()
    assert "Virtanen" not in text and "secret_param" not in text
    assert str(world.client_a.id) not in json.dumps(line["route"])


def test_unknown_paths_share_one_route_label(client, log_output):  # OPS-12
    assert client.get("/no/such/page/12345").status_code == 404
    (line,) = [x for x in records(log_output) if x.get("event") == "request"]
    assert line["route"] == "unmatched" and line["status"] == 404
    assert "12345" not in log_output.getvalue()


def test_static_files_and_probes_are_named_by_their_route(client, log_output):  # OPS-12
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/app/static/texts.js").status_code == 200
    assert client.get("/healthz").status_code == 200
    routes = [x["route"] for x in records(log_output) if x.get("event") == "request"]
    # Probes and scrapes are DEBUG lines: at the default INFO only the files show.
    assert routes == ["/static/{path}", "/app/static/{path}"]
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        client.get("/readyz")
    finally:
        logging.getLogger().setLevel(logging.INFO)
    (probe,) = [x for x in records(log_output) if x.get("route") == "/readyz"]
    assert probe["level"] == "debug" and probe["status"] == 200


def test_the_providers_plain_endpoints_are_named_by_their_route(client, log_output):  # OPS-12
    # /oidc/authorize and /oidc/token are plain Starlette endpoints (web/plain.py).
    client.get("/oidc/authorize?client_id=nobody")
    client.post("/oidc/token", data={"grant_type": "authorization_code"})
    got = [(x["route"], x["status"]) for x in records(log_output) if x.get("event") == "request"]
    assert got == [("/oidc/authorize", 400), ("/oidc/token", 401)]


def test_request_id_from_a_trusted_proxy_is_kept_and_others_are_replaced(
    app, client, log_output
):  # OPS-12
    own = client.get("/login", headers={**HTML, "X-Request-ID": "spoofed-by-client"})
    assert own.headers["x-request-id"] != "spoofed-by-client"
    assert len(own.headers["x-request-id"]) == 32
    proxy = client_at(app, "127.0.0.1")
    kept = proxy.get("/login", headers={**HTML, "X-Request-ID": "lb-7f3a.42"})
    assert kept.headers["x-request-id"] == "lb-7f3a.42"
    garbage = proxy.get("/login", headers={**HTML, "X-Request-ID": "bad id\twith spaces"})
    assert garbage.headers["x-request-id"] != "bad id\twith spaces"
    ids = [x["request_id"] for x in records(log_output) if x.get("event") == "request"]
    assert ids == [own.headers["x-request-id"], "lb-7f3a.42", garbage.headers["x-request-id"]]


def test_every_line_of_a_request_carries_its_id_and_a_traceback_is_one_record(
    app, log_output
):  # OPS-12
    def boom() -> None:
        structlog.get_logger("portti.test").info("working_on_it", step=1)
        logging.getLogger("portti.test.stdlib").warning("stdlib line in the handler thread")
        raise RuntimeError("something broke inside")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    request_id = r.headers["x-request-id"]
    lines = records(log_output)
    mine = [x for x in lines if x.get("request_id") == request_id]
    events = [x["event"] for x in mine]
    assert "working_on_it" in events
    assert "stdlib line in the handler thread" in events
    assert "unhandled_error" in events and "request" in events
    (failure,) = [x for x in mine if x["event"] == "unhandled_error"]
    assert "Traceback" in str(failure["exception"])
    assert "RuntimeError: something broke inside" in str(failure["exception"])
    (access,) = [x for x in mine if x["event"] == "request"]
    assert access["status"] == 500 and access["route"] == "/boom"
    # The traceback is nowhere else as loose lines: each line parsed as one JSON object above.
    assert sum("Traceback" in json.dumps(x) for x in lines) == 1


def test_text_format_is_one_key_value_line_per_request(client, settings, app, log_output):  # OPS-12
    from portti.infra.logging import configure_logging

    configure_logging("INFO", "text", stream=log_output)
    r = client.get("/login", headers=HTML)
    (line,) = [x for x in log_output.getvalue().splitlines() if "event='request'" in x]
    assert "route='/login'" in line and "status=200" in line
    assert f"request_id='{r.headers['x-request-id']}'" in line


@pytest.mark.parametrize(
    ("line", "kept", "gone"),
    [
        (
            'HTTP Request: POST http://gwuser:gwpass@127.0.0.1:8212/sms?api_key=SECRETAPIKEY123 "HTTP/1.1 200 OK"',
            "http://***@127.0.0.1:8212/sms?…",
            SMS_SECRETS,
        ),
        (
            "Client error '401' for url 'https://idp.example/token?client_secret=abc123#frag'",
            "https://idp.example/token?…",
            ("abc123", "frag"),
        ),
        ("redis://:hunter2@cache:6379/0 down", "redis://***@cache:6379/0", ("hunter2",)),
    ],
)
def test_urls_lose_their_credentials_and_query(line, kept, gone):  # SEC-29
    cleaned = redact_urls(line)
    assert kept in cleaned
    for secret in gone:
        assert secret not in cleaned


def test_outgoing_request_urls_never_reach_the_log(settings, log_output):  # SEC-29
    sink = HttpSink()
    sink.start()
    try:
        url = f"http://gwuser:gwpass@127.0.0.1:{sink.port}/sms?api_key=SECRETAPIKEY123"
        # httpx writes every request's URL at INFO; a failure's message names the URL too.
        with httpx.Client() as http:
            http.post(url, json={})
            sink.status = 503
            response = http.post(url, json={})
            try:
                response.raise_for_status()
            except httpx.HTTPStatusError:
                structlog.get_logger("portti.test").exception("gateway_failed")
                logging.getLogger("portti.test").exception("gateway failed: %s", url)
    finally:
        sink.stop()
    text = log_output.getvalue()
    assert "gateway_failed" in text and "127.0.0.1" in text, "nothing was logged: proves nothing"
    for secret in SMS_SECRETS:
        assert secret not in text, f"{secret} reached the log"


def test_a_whole_invitation_with_a_credentialed_sms_gateway_logs_no_secret(
    app, client, world, db, settings, clock, session_factory, log_output
):  # SEC-29 OPS-12 OPS-11
    sink = HttpSink()
    sink.start()
    sms_url = f"http://gwuser:gwpass@127.0.0.1:{sink.port}/sms?api_key=SECRETAPIKEY123"
    gateway = settings.model_copy(update={"sms_url": sms_url})
    worker = OutboxWorker(
        session_factory,
        clock,
        outbox_box(settings.secret),
        mailer=make_mailer(gateway, session_factory, clock),
        sms=make_sms_sender(gateway, session_factory, clock),
        max_attempts=5,
    )
    try:
        admin = another_browser(app)
        force_login(admin, world.kh_a, stepped_up=True)
        invited_before = REGISTRY.get_sample_value("portti_invitations_sent_total") or 0
        invite(admin, world.client_a.id, world.employee_a_membership.id)
        assert REGISTRY.get_sample_value("portti_invitations_sent_total") == invited_before + 1
        sms_failed = {"channel": "sms", "outcome": "retry"}
        retries_before = (
            REGISTRY.get_sample_value("portti_outbox_deliveries_total", sms_failed) or 0
        )
        act = AppActivation(another_browser(app))
        signup = latest_signup_code(db, settings.secret, world.employee_a)
        assert act.redeem(signup).status_code == 201
        sms_code = latest_sms_code(db, settings.secret, world.employee_a)
        sink.status = 502  # the gateway fails once: the retry path logs too
        asyncio.run(worker.run_once())
        sink.status = 200
        clock.advance(timedelta(seconds=30))
        asyncio.run(worker.run_once())
        sent = [r for r in sink.requests if r.path.startswith("/sms?api_key=")]
        assert len(sent) == 2, "the failed try and the retry"
        retries = REGISTRY.get_sample_value("portti_outbox_deliveries_total", sms_failed)
        assert retries == retries_before + 1
        assert sink.requests[-1].headers["authorization"].startswith("Basic ")
        assert act.confirm_phone(sms_code).status_code == 200
    finally:
        sink.stop()
    text = log_output.getvalue()
    assert '"event": "request"' in text and '"outcome": "retry"' in text
    for secret in (*SMS_SECRETS, signup, sms_code, act.token or "no token"):
        assert secret not in text, f"{secret} reached the log"
    assert isinstance(world, f.World)
