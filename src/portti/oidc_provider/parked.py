"""Which business application a parked authorization request comes from (UX-14): Portti's login
page names it ("Log in to Numerot accounting"), and so does the app's approval screen ("Log in
to Numerot accounting?"), so that the person recognises what they are logging in to. A login
asked for by an application goes through ``/login?next=/oidc/continue?r=<handle>``: the handle
names the parked authorization request."""

from __future__ import annotations

import hmac
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.oidc_provider.authorize import REQUEST_LIFETIME
from portti.oidc_provider.models import AuthorizationRequest, OidcClient
from portti.oidc_provider.provider import sha256_hex

CONTINUE_PATH = "/oidc/continue"


def client_name_for_login(
    db: Session, next_path: str, browser_id: str, now: datetime
) -> str | None:
    """The name of the application whose request waits behind ``next_path`` (the login page's
    ``next``, ``/oidc/continue?r=<handle>``) in this browser; None for any other page, or a
    request that is unknown, too old, another browser's, or of a disabled client."""
    parts = urlsplit(next_path)
    if parts.path != CONTINUE_PATH:
        return None
    handle = (parse_qs(parts.query).get("r") or [""])[0]
    if not 0 < len(handle) < 100:
        return None
    row = db.execute(
        select(
            AuthorizationRequest.browser_binding_hash,
            AuthorizationRequest.created_at,
            OidcClient.name,
        )
        .join(OidcClient, OidcClient.client_id == AuthorizationRequest.client_id)
        .where(AuthorizationRequest.id == sha256_hex(handle), OidcClient.disabled_at.is_(None))
    ).one_or_none()
    if (
        row is None
        or now - row.created_at > REQUEST_LIFETIME
        or not hmac.compare_digest(row.browser_binding_hash, sha256_hex(browser_id))
    ):
        return None
    return str(row.name)


def client_name_for_return_to(db: Session, return_to: str | None) -> str | None:
    """The registered name of the application whose parked authorization request ``return_to``
    continues; ``None`` for any other address, an unknown or ended request, or a disabled
    application."""
    parts = urlsplit(return_to or "")
    if parts.path != CONTINUE_PATH or parts.scheme or parts.netloc:
        return None
    handle = (parse_qs(parts.query).get("r") or [""])[0]
    if not 0 < len(handle) < 100:
        return None
    request_id = sha256_hex(handle)
    name: str | None = db.scalar(
        select(OidcClient.name)
        .join(AuthorizationRequest, AuthorizationRequest.client_id == OidcClient.client_id)
        .where(AuthorizationRequest.id == request_id, OidcClient.disabled_at.is_(None))
    )
    return name
