"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the ID token hint and the
registered address to return to."""

from __future__ import annotations

from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from portti.i18n import _l
from portti.oidc_provider.errors import UntrustedRedirect
from portti.oidc_provider.keys import registry_for
from portti.oidc_provider.models import OidcClient
from portti.oidc_provider.provider import ProviderContext, redirect_with


class EndSession:
    def __init__(self, ctx: ProviderContext) -> None:
        self.issuer = ctx.issuer
        self.keys = ctx.keys

    def id_token_hint(self, hint: str) -> dict[str, Any] | None:
        """The claims of an ID token we issued (it may have expired: OIDC RP-Initiated
        Logout §2), or None."""
        try:
            token = jwt.decode(
                hint, self.keys.verification_keys(), registry=registry_for(self.keys.algorithms)
            )
        except (JoseError, ValueError):
            return None
        # SEC-25: an ID token has no "typ" (or the generic "JWT"); an access token ("at+jwt"),
        # a logout token ("logout+jwt") or anything else typed is not an ID token.
        if token.header.get("typ", "JWT") != "JWT":
            return None
        if token.claims.get("iss") != self.issuer or not isinstance(token.claims.get("aud"), str):
            return None
        return dict(token.claims)

    def logout_redirect(
        self, client: OidcClient | None, post_logout_redirect_uri: str | None, state: str | None
    ) -> str | None:
        if not post_logout_redirect_uri:
            return None
        if client is None or post_logout_redirect_uri not in client.post_logout_redirect_uris:
            raise UntrustedRedirect(
                _l("This application asked to return to an address it has not registered.")
            )
        return redirect_with(post_logout_redirect_uri, {"state": state} if state else {})
