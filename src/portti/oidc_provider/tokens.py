"""The tokens a login is given: the access token, the ID token and a refresh token."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select

from portti.audit.models import AuditAction
from portti.db.base import table_of
from portti.infra import metrics
from portti.oidc_provider.claims import (
    companies_for,
    person_claims,
    person_ref,
    scope_of_login,
    subject_for,
)
from portti.oidc_provider.keys import ACCESS_TOKEN_ALGORITHM, sign_compact
from portti.oidc_provider.models import OidcClient, OidcLogin, RefreshToken
from portti.oidc_provider.provider import ProviderContext, sha256_hex

ACCESS_TOKEN_LIFETIME = timedelta(minutes=10)
ID_TOKEN_LIFETIME = timedelta(minutes=10)
REFRESH_TOKEN_LIFETIME = timedelta(days=30)

# Built once: every exchange and refresh runs them, and building and caching an ORM statement
# per request cost more than running it (benchmarks/oidc_token_cpu.py).
_INSERT_REFRESH = insert(table_of(RefreshToken))
_logins = table_of(OidcLogin)
_LOGIN = select(
    _logins.c.id,
    _logins.c.sid,
    _logins.c.person_id,
    _logins.c.company_id,
    _logins.c.auth_time,
    _logins.c.acr,
    _logins.c.amr,
    _logins.c.ended_at,
).where(_logins.c.id == bindparam("id"))


@dataclass(frozen=True)
class LoginRef:
    """What tokens are made of: a client login read with one plain statement."""

    id: int
    sid: str
    person_id: int
    company_id: int | None
    auth_time: datetime
    acr: str
    amr: list[str]
    ended_at: datetime | None


class TokenIssuer:
    """Signs and stores what a code exchange or a refresh gives the client."""

    def __init__(self, ctx: ProviderContext) -> None:
        self.db = ctx.db
        self.clock = ctx.clock
        self.audit = ctx.audit
        self.issuer = ctx.issuer
        self.keys = ctx.keys
        self.secret = ctx.secret

    def warm_keys(self, client: OidcClient | None) -> None:
        """Fetches the signing keys before the request writes anything: the key store makes
        (or rotates) a key in a transaction of its own, which on SQLite must not wait behind
        this request's write lock."""
        self.keys.active_signing_key(ACCESS_TOKEN_ALGORITHM)
        if client is not None:
            self.keys.active_signing_key(client.id_token_signed_response_alg)

    def login_ref(self, login_id: int) -> LoginRef | None:
        row = self.db.execute(_LOGIN, {"id": login_id}).first()
        return LoginRef(*row) if row is not None else None

    def sign(
        self,
        client: OidcClient,
        claims: dict[str, Any],
        typ: str | None = None,
        alg: str | None = None,
    ) -> str:
        alg = alg or client.id_token_signed_response_alg
        return sign_compact(self.keys.active_signing_key(alg), alg, claims, typ=typ)

    def issue(
        self,
        client: OidcClient,
        login: LoginRef,
        scope: str,
        *,
        nonce: str | None,
        family: str,
        grant: str,
    ) -> dict[str, Any]:
        now = self.clock.now()
        person = person_ref(self.db, login.person_id)
        assert person is not None
        scopes = set(scope.split())
        sub = subject_for(client, person, self.secret)
        iat = int(now.timestamp())
        access_token = self.sign(
            client,
            {
                "iss": self.issuer,
                "sub": sub,
                "aud": self.issuer,
                "client_id": client.client_id,
                "scope": scope,
                "sid": login.sid,
                "iat": iat,
                "exp": iat + int(ACCESS_TOKEN_LIFETIME.total_seconds()),
                "jti": secrets.token_urlsafe(16),
            },
            typ="at+jwt",
            alg=ACCESS_TOKEN_ALGORITHM,
        )
        grants = (
            companies_for(self.db, client, login.person_id, now, scope_of_login(self.db, login.id))
            if "companies" in scopes
            else []
        )
        id_claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": client.client_id,
            "azp": client.client_id,
            "iat": iat,
            "exp": iat + int(ID_TOKEN_LIFETIME.total_seconds()),
            "auth_time": int(login.auth_time.timestamp()),
            "acr": login.acr,
            "amr": login.amr,
            "sid": login.sid,
            **person_claims(
                person,
                scopes,
                grants,
                company_id=login.company_id,
                company_selection=client.company_selection,
                one_company=client.company_ids is None,
            ),
        }
        if nonce is not None:
            id_claims["nonce"] = nonce
        refresh_token = secrets.token_urlsafe(32)
        # A plain INSERT (no unit of work): every exchange and refresh writes one.
        self.db.execute(
            _INSERT_REFRESH,
            {
                "token_hash": sha256_hex(refresh_token),
                "family": family,
                "client_id": client.client_id,
                "login_id": login.id,
                "scope": scope,
                "created_at": now,
                "expires_at": now + REFRESH_TOKEN_LIFETIME,
            },
        )
        self.audit.record(
            AuditAction.OIDC_TOKENS_ISSUED,
            company_id=login.company_id,
            subject_person_id=login.person_id,
            client=client.client_id,
            grant=grant,
        )
        metrics.OIDC_TOKENS.labels(grant).inc()
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
            "id_token": self.sign(client, id_claims),
            "refresh_token": refresh_token,
            "scope": scope,
        }
