"""Each process holds the clients it serves and reads only their version per request: a change
made elsewhere (another process, the command line, the admin page) counts at the next request.
OPS-16 (the round trip's cost), ADM-9 (a disabled client logs nobody in)."""

from __future__ import annotations

from sqlalchemy import select, update

from portti.audit.services import AuditLog, RequestContext
from portti.oidc_provider.clients import ClientService
from portti.oidc_provider.models import OidcClient
from support.oidc import query_of
from support.web import local

from .test_code_flow import log_in_at_portti


def _clients(session_factory, clock, settings):  # type: ignore[no-untyped-def]
    db = session_factory()
    return db, ClientService(db, clock, AuditLog(db, clock, RequestContext()), settings.secret)


def test_a_client_disabled_elsewhere_is_refused_at_the_next_request(
    client, rp, cast, session_factory, clock, settings
) -> None:  # ADM-9 OPS-16
    log_in_at_portti(client, rp, cast.kaisa)  # the client is now held by this process
    again = client.get(local(rp.authorization_url()))
    assert again.headers["location"].startswith("https://accounting.example/callback?code=")

    db, clients = _clients(session_factory, clock, settings)
    with db:
        clients.disable(rp.reg.client_id, actor_person_id=None, strong_auth_at=None)
        db.commit()

    page = client.get(local(rp.authorization_url()))
    assert page.status_code == 400 and "not registered" in page.text
    token = client.post(
        "/oidc/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=(rp.reg.client_id, rp.reg.client_secret),
    )
    assert token.status_code == 401 and token.json()["error"] == "invalid_client"


def test_a_new_secret_and_new_settings_count_at_once(
    client, rp, cast, session_factory, clock, settings
) -> None:  # OPS-16
    callback = log_in_at_portti(client, rp, cast.kaisa)
    assert rp.fetch_token(callback)["access_token"]

    db, clients = _clients(session_factory, clock, settings)
    with db:
        new_secret = clients.rotate_secret(
            rp.reg.client_id, actor_person_id=None, strong_auth_at=None
        ).client_secret
        db.commit()
    old = client.post(
        "/oidc/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=(rp.reg.client_id, rp.reg.client_secret),
    )
    assert old.status_code == 401 and old.json()["error"] == "invalid_client"
    new = client.post(
        "/oidc/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=(rp.reg.client_id, new_secret or ""),
    )
    assert new.json()["error"] == "invalid_grant"  # authenticated: only the token is wrong

    # A change written without the ORM raises the version too (models.py says so).
    with session_factory() as db:
        db.execute(
            update(OidcClient)
            .where(OidcClient.client_id == rp.reg.client_id)
            .values(redirect_uris=["https://moved.example/cb"], version=OidcClient.version + 1)
        )
        db.commit()
        version = db.scalar(
            select(OidcClient.version).where(OidcClient.client_id == rp.reg.client_id)
        )
    assert version is not None and version >= 3  # registered, new secret, moved
    moved = client.get(local(rp.authorization_url()))
    assert moved.status_code == 400 and "not registered" in moved.text
    assert "code" not in query_of(moved.headers.get("location", "http://x/?"))
