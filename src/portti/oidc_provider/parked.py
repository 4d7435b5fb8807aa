"""Which business application a login on Portti's own login page is for (UX-14).

A login asked for by an application goes through ``/login?next=/oidc/continue?r=<handle>``: the
handle names the parked authorization request. The app's approval screen names the application
("Log in to Numerot accounting?") rather than the service, so that the person recognises what
they are logging in to.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.oidc_provider.models import AuthorizationRequest, OidcClient

CONTINUE_PATH = "/oidc/continue"


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
    request_id = hashlib.sha256(handle.encode()).hexdigest()
    name: str | None = db.scalar(
        select(OidcClient.name)
        .join(AuthorizationRequest, AuthorizationRequest.client_id == OidcClient.client_id)
        .where(AuthorizationRequest.id == request_id, OidcClient.disabled_at.is_(None))
    )
    return name
