"""What every endpoint of the OpenID Provider shares: the request's database session, clock,
audit log, issuer, signing keys and secret, the client lookup, and small helpers.

The endpoints are modules of their own: ``authorize.py`` (the authorization request, parking,
the decision and the code), ``grants.py`` (the code exchange and refresh), ``tokens.py``
(signing the tokens), ``userinfo.py`` and ``end_session.py``. Tokens are JWTs made and checked
with joserfc (explicit algorithm allow-list); codes and refresh tokens are random and stored
only as hashes; every single-use thing is claimed with a compare-and-set ``UPDATE``."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from sqlalchemy.orm import Session

from portti.audit.services import AuditLog
from portti.infra.clock import Clock
from portti.oidc_provider.client_cache import ClientCache
from portti.oidc_provider.keys import SigningKeys
from portti.oidc_provider.models import OidcClient
from portti.oidc_provider.session_bound import OFFLINE_ACCESS

SCOPES = ("openid", "profile", "email", "companies", OFFLINE_ACCESS)
CODE_LIFETIME = timedelta(seconds=60)  # the default of settings.oidc_code_lifetime_seconds
DEFAULT_SESSION_IDLE = timedelta(minutes=30)  # the default of settings.session_idle_minutes


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest())
        .rstrip(b"=")
        .decode()
    )


def redirect_with(uri: str, params: dict[str, str]) -> str:
    sep = "&" if urlsplit(uri).query else "?"
    return uri + sep + urlencode(params)


class ProviderContext:
    """One request's view of the provider; each endpoint's part is built on it."""

    def __init__(
        self,
        db: Session,
        clock: Clock,
        audit: AuditLog,
        *,
        issuer: str,
        keys: SigningKeys,
        secret: bytes,
        code_lifetime: timedelta = CODE_LIFETIME,
        session_idle: timedelta = DEFAULT_SESSION_IDLE,
        clients: ClientCache,
    ) -> None:
        self.clients = clients
        self.code_lifetime = code_lifetime
        self.idle = session_idle
        self.db = db
        self.clock = clock
        self.audit = audit
        self.issuer = issuer
        self.keys = keys
        self.secret = secret

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/oidc/token"

    def client(self, client_id: str | None) -> OidcClient | None:
        if not client_id or len(client_id) > 64:
            return None
        client = self.clients.get(self.db, client_id)
        if client is None or client.disabled_at is not None:
            return None
        return client
