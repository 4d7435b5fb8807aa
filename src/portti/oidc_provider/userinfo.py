"""The UserInfo endpoint (OIDC Core §5.3): the claims an access token may read."""

from __future__ import annotations

from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import select

from portti.oidc_provider.claims import (
    companies_for,
    person_claims,
    person_ref,
    scope_of_login,
    subject_for,
)
from portti.oidc_provider.errors import BearerError
from portti.oidc_provider.keys import registry_for
from portti.oidc_provider.models import OidcClient, OidcLogin
from portti.oidc_provider.provider import ProviderContext
from portti.oidc_provider.session_bound import OFFLINE_ACCESS, session_alive


class UserInfo:
    """Reads an access token and answers with the claims it may see."""

    def __init__(self, ctx: ProviderContext) -> None:
        self.ctx = ctx
        self.db = ctx.db
        self.clock = ctx.clock
        self.issuer = ctx.issuer
        self.keys = ctx.keys
        self.secret = ctx.secret
        self.idle = ctx.idle

    def claims(self, access_token: str) -> dict[str, Any]:
        return self.claims_and_client(access_token)[0]

    def claims_and_client(self, access_token: str) -> tuple[dict[str, Any], OidcClient]:
        """The UserInfo claims, and the client the access token was issued to (its web origins
        may read them)."""
        try:
            token = jwt.decode(
                access_token,
                self.keys.verification_keys(),
                registry=registry_for(self.keys.algorithms),
            )
            if token.header.get("typ") != "at+jwt":
                raise BearerError("invalid_token", "Not an access token.")
            jwt.JWTClaimsRegistry(
                now=int(self.clock.now().timestamp()),
                leeway=0,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.issuer},
                exp={"essential": True},
                sid={"essential": True},
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise BearerError("invalid_token", "The access token is not valid.") from exc
        claims = token.claims
        login = self.db.scalars(
            select(OidcLogin).where(OidcLogin.sid == claims["sid"])
        ).one_or_none()
        if login is None or login.ended_at is not None:
            raise BearerError("invalid_token", "The login has ended.")
        client = self.ctx.client(claims.get("client_id"))
        person = person_ref(self.db, login.person_id)
        if client is None or person is None or client.client_id != login.client_id:
            raise BearerError("invalid_token", "The access token is not valid.")
        scopes = set(str(claims.get("scope", "")).split())
        now = self.clock.now()
        if OFFLINE_ACCESS not in scopes and not session_alive(self.db, login.id, now, self.idle):
            # SEC-15: the Portti session is over; the back-channel worker's sweep ends the login.
            raise BearerError("invalid_token", "The login session has ended.")
        grants = (
            companies_for(self.db, client, login.person_id, now, scope_of_login(self.db, login.id))
            if "companies" in scopes
            else []
        )
        claims = {
            "sub": subject_for(client, person, self.secret),
            **person_claims(
                person,
                scopes,
                grants,
                company_id=login.company_id,
                company_selection=client.company_selection,
                one_company=client.company_ids is None,
            ),
        }
        return claims, client
