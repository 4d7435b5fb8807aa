"""The token endpoint's grants: the authorization code (RFC 6749 §4.1.3, with PKCE) and the
refresh token (§6, rotated, a reused one ending its family)."""

from __future__ import annotations

import hmac
from typing import Any

from sqlalchemy import and_, bindparam, select, update

from portti.audit.models import AuditAction
from portti.db.base import table_of
from portti.oidc_provider.claims import companies_for, scope_of_login
from portti.oidc_provider.errors import TokenError
from portti.oidc_provider.logins import end_client_logins
from portti.oidc_provider.models import AuthorizationCode, OidcClient, RefreshToken
from portti.oidc_provider.provider import ProviderContext, s256, sha256_hex
from portti.oidc_provider.session_bound import OFFLINE_ACCESS, SESSION_ENDED, session_alive
from portti.oidc_provider.tokens import TokenIssuer

_codes = table_of(AuthorizationCode)
_CLAIM_CODE = (
    update(_codes)
    .where(
        and_(
            _codes.c.code_hash == bindparam("h"),
            _codes.c.client_id == bindparam("cid"),
            _codes.c.used_at.is_(None),
        )
    )
    .values(used_at=bindparam("now"))
    .returning(
        _codes.c.login_id,
        _codes.c.redirect_uri,
        _codes.c.scope,
        _codes.c.nonce,
        _codes.c.code_challenge,
        _codes.c.expires_at,
    )
)
_CODE_STATE = select(_codes.c.client_id, _codes.c.login_id).where(
    _codes.c.code_hash == bindparam("h")
)


class Grants:
    """Exchanges a code, or a refresh token, for tokens."""

    def __init__(self, ctx: ProviderContext, tokens: TokenIssuer | None = None) -> None:
        self.db = ctx.db
        self.clock = ctx.clock
        self.audit = ctx.audit
        self.idle = ctx.idle
        self.tokens = tokens or TokenIssuer(ctx)

    def exchange_code(
        self, client: OidcClient, *, code: str, redirect_uri: str, code_verifier: str | None
    ) -> dict[str, Any]:
        now = self.clock.now()
        code_hash = sha256_hex(code) if 0 < len(code) < 200 else ""
        # Claimed only by the client it was issued to: another client presenting it (a code
        # leaked to it) neither uses it up nor revokes anything.
        claimed = self.db.execute(
            _CLAIM_CODE, {"h": code_hash, "cid": client.client_id, "now": now}
        ).first()
        if claimed is None:
            known = self.db.execute(_CODE_STATE, {"h": code_hash}).first() if code_hash else None
            if known is None:
                self._refused(client, "unknown_code")
                raise TokenError("invalid_grant", "The code is not valid.")
            if known.client_id != client.client_id:
                self._refused(client, "foreign_code")
                raise TokenError("invalid_grant", "The code was issued to another client.")
            # RFC 6749 §4.1.2: a code used twice was stolen or replayed; what was issued for
            # it is revoked: its refresh tokens (and their rotations: one family), and the
            # login its access tokens name, which ends them at UserInfo and tells the client
            # by back-channel logout.
            self.db.execute(
                update(RefreshToken)
                .where(RefreshToken.family == code_hash, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            issued = self.db.scalars(
                select(RefreshToken.login_id).where(RefreshToken.family == code_hash).limit(1)
            ).first()
            if issued is not None:
                end_client_logins(self.db, now, reason="code_replayed", login_ids=[issued])
            self._refused(client, "code_replayed")
            raise TokenError("invalid_grant", "The code has already been used.")
        login_id, c_redirect, scope, nonce, challenge, expires_at = claimed
        if now >= expires_at:
            self._refused(client, "code_expired")
            raise TokenError("invalid_grant", "The code has expired.")
        if redirect_uri != c_redirect:
            self._refused(client, "redirect_uri_mismatch")
            raise TokenError(
                "invalid_grant", "redirect_uri differs from the authorization request."
            )
        if challenge is not None:
            if not code_verifier or not hmac.compare_digest(s256(code_verifier), challenge):
                self._refused(client, "pkce_mismatch")
                raise TokenError("invalid_grant", "The code_verifier does not match.")
        elif code_verifier:
            self._refused(client, "pkce_unexpected")
            raise TokenError("invalid_grant", "No code_challenge was sent for this code.")
        login = self.tokens.login_ref(login_id)
        if login is None or login.ended_at is not None:
            self._refused(client, "login_ended")
            raise TokenError("invalid_grant", "The login has ended.")
        return self.tokens.issue(
            client, login, scope, nonce=nonce, family=code_hash, grant="authorization_code"
        )

    def refresh(
        self, client: OidcClient, *, refresh_token: str, scope: str | None
    ) -> dict[str, Any]:
        now = self.clock.now()
        token_hash = sha256_hex(refresh_token) if 0 < len(refresh_token) < 200 else ""
        row = self.db.get(RefreshToken, token_hash) if token_hash else None
        if row is None or row.client_id != client.client_id:
            self._refused(client, "unknown_refresh_token")
            raise TokenError("invalid_grant", "The refresh token is not valid.")
        # The request is checked before the token is spent (SEC-17): a refused request leaves
        # the token usable, and a later good request with it is not taken for a reuse. A token
        # already spent goes on to the reuse check whatever was asked.
        granted = row.scope.split()
        unspent = row.used_at is None and row.revoked_at is None
        if unspent and scope is not None and not set(scope.split()) <= set(granted):
            self._refused(client, "scope_widened")
            raise TokenError("invalid_scope", "A refresh cannot widen the scope.")
        claimed = self.db.execute(
            update(RefreshToken)
            .where(
                RefreshToken.token_hash == token_hash,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked_at.is_(None),
            )
            .values(used_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if not claimed:
            if row.revoked_at is None:
                # Reuse of a rotated token: someone holds a copy. The family ends (RFC 9700 §4.14.2).
                self.db.execute(
                    update(RefreshToken)
                    .where(RefreshToken.family == row.family, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
                # Its access tokens end too, as on a code replay (SEC-27): the login they name
                # ends, which stops them at UserInfo and tells the client by back-channel logout.
                end_client_logins(
                    self.db, now, reason="refresh_token_reused", login_ids=[row.login_id]
                )
                self._refused(client, "refresh_token_reused")
            raise TokenError("invalid_grant", "The refresh token has already been used.")
        if now >= row.expires_at:
            self._refused(client, "refresh_token_expired")
            raise TokenError("invalid_grant", "The refresh token has expired.")
        login = self.tokens.login_ref(row.login_id)
        if login is None or login.ended_at is not None:
            self._refused(client, "login_ended")
            raise TokenError("invalid_grant", "The login has ended.")
        if OFFLINE_ACCESS not in granted and not session_alive(self.db, login.id, now, self.idle):
            # Without offline_access a refresh lives only as long as the Portti session (SEC-15);
            # the login ends now rather than at the next sweep (back-channel logout).
            end_client_logins(self.db, now, reason=SESSION_ENDED, login_ids=[login.id])
            self._refused(client, "session_ended")
            raise TokenError("invalid_grant", "The login session has ended.")
        if not companies_for(
            self.db, client, login.person_id, now, scope_of_login(self.db, login.id)
        ):
            self._refused(client, "no_membership")
            raise TokenError("invalid_grant", "The person no longer has user rights here.")
        return self.tokens.issue(
            client, login, scope or row.scope, nonce=None, family=row.family, grant="refresh_token"
        )

    def _refused(self, client: OidcClient, reason: str) -> None:
        self.audit.record(AuditAction.OIDC_TOKEN_REFUSED, client=client.client_id, reason=reason)
