"""SEC-29 for the back-channel: an application's logout URI with a user, password and a token in
its query reaches the application and never the operators' log."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from portti.infra.logging import portti_handler
from support.oidc import every_company, logout_receiver, register, relying_party, return_url
from support.web import force_login, local, page_csrf

SECRETS = ("BACKCHANNELSECRET999",)


@pytest.fixture
def log_output(app) -> Iterator[io.StringIO]:  # type: ignore[no-untyped-def]
    handler = portti_handler()
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


@pytest.mark.parametrize("answer", [200, 503])
def test_backchannel_logout_uri_credentials_never_reach_the_log(
    client, app, db, clock, settings, cast, log_output, answer
):  # SEC-29 OPS-11
    outcome = "sent" if answer == 200 else "retry"
    sent_before = (
        REGISTRY.get_sample_value("portti_backchannel_logouts_total", {"outcome": outcome}) or 0
    )
    tokens_before = (
        REGISTRY.get_sample_value(
            "portti_oidc_tokens_issued_total", {"grant": "authorization_code"}
        )
        or 0
    )
    with logout_receiver() as receiver:
        receiver.status = answer  # delivered, or refused and retried: both paths log
        port = receiver.server_address[1]
        # User information in the URI is refused at registration (SEC-23); a token in its
        # query string is the credential left to keep out of the log.
        uri = f"http://127.0.0.1:{port}/bc?token=BACKCHANNELSECRET999"
        reg = register(
            db, clock, settings.secret, company_ids=every_company(db), backchannel_logout_uri=uri
        )
        rp = relying_party(client._transport, "http://testserver", reg)
        force_login(client, cast.kaisa)
        rp.fetch_token(return_url(client.get(local(rp.authorization_url()))))
        assert client.post("/logout", data={"csrf_token": page_csrf(client)}).status_code == 303
        app.state.runtime.backchannel_logout.deliver_due()
        assert receiver.arrived.wait(5) and len(receiver.tokens) == 1
    # Counted for the operators (OPS-11): the token issued and the delivery's outcome.
    sent = REGISTRY.get_sample_value("portti_backchannel_logouts_total", {"outcome": outcome})
    assert sent == sent_before + 1
    tokens = REGISTRY.get_sample_value(
        "portti_oidc_tokens_issued_total", {"grant": "authorization_code"}
    )
    assert tokens == tokens_before + 1
    text = log_output.getvalue()
    assert "backchannel_logout" in text, "the delivery was not logged: the search proves nothing"
    for secret in SECRETS:
        assert secret not in text, f"{secret} reached the log"
