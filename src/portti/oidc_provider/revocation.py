"""OAuth 2.0 Token Revocation (RFC 7009) at ``/oidc/revoke``.

A client revokes a refresh token or an access token it was given — a single-page app does so
when the person logs out of it (``oidc-client-ts``'s ``revokeTokensOnSignout``). Access tokens
are signed JWTs that are not stored, so what is revoked is what they name: the client login
(its ``sid``). Revoking either token therefore ends the login — its refresh tokens, the access
tokens of every family of that login, and a back-channel logout token to the client if it wants
one (RFC 7009 §2.1: revoking a refresh token should end the access tokens of the same grant).

A token that is unknown, malformed, expired or already revoked is answered 200 like any other
(§2.2: the client cannot do anything about it); a token issued to another client is refused
(``unauthorized_client``) without touching it."""

from __future__ import annotations

from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import select, update

from portti.audit.models import AuditAction
from portti.oidc_provider.errors import TokenError
from portti.oidc_provider.keys import registry_for
from portti.oidc_provider.logins import end_client_logins
from portti.oidc_provider.models import OidcClient, OidcLogin, RefreshToken
from portti.oidc_provider.provider import ProviderContext, sha256_hex

REASON = "tokens_revoked"


def _login_of_access_token(provider: ProviderContext, token: str) -> tuple[str, str] | None:
    """(client_id, sid) of an access token Portti issued, even an expired one, or None."""
    try:
        decoded = jwt.decode(
            token,
            provider.keys.verification_keys(),
            registry=registry_for(provider.keys.algorithms),
        )
    except (JoseError, ValueError):
        return None
    claims = decoded.claims
    if decoded.header.get("typ") != "at+jwt" or claims.get("iss") != provider.issuer:
        return None
    client_id, sid = claims.get("client_id"), claims.get("sid")
    if not isinstance(client_id, str) or not isinstance(sid, str):
        return None
    return client_id, sid


def revoke(provider: ProviderContext, client: OidcClient, token: str) -> bool:
    """Revokes ``token`` for ``client``; returns whether a login ended."""
    db, now = provider.db, provider.clock.now()
    if not 0 < len(token) < 4096:
        return False
    login_id: int | None = None
    row = db.get(RefreshToken, sha256_hex(token)) if len(token) < 200 else None
    if row is not None:
        if row.client_id != client.client_id:
            provider.audit.record(
                AuditAction.OIDC_TOKEN_REFUSED, client=client.client_id, reason="foreign_token"
            )
            raise TokenError("unauthorized_client", "The token was issued to another client.")
        db.execute(
            update(RefreshToken)
            .where(RefreshToken.family == row.family, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        login_id = row.login_id
    else:
        named = _login_of_access_token(provider, token)
        if named is None:
            return False
        client_id, sid = named
        if client_id != client.client_id:
            provider.audit.record(
                AuditAction.OIDC_TOKEN_REFUSED, client=client.client_id, reason="foreign_token"
            )
            raise TokenError("unauthorized_client", "The token was issued to another client.")
        login_id = db.scalars(select(OidcLogin.id).where(OidcLogin.sid == sid)).first()
    if login_id is None:
        return False
    login = db.get(OidcLogin, login_id)
    ended = end_client_logins(db, now, reason=REASON, login_ids=[login_id]) > 0
    if ended and login is not None:
        provider.audit.record(
            AuditAction.OIDC_LOGOUT,
            company_id=login.company_id,
            subject_person_id=login.person_id,
            client=client.client_id,
            reason=REASON,
        )
    return ended
