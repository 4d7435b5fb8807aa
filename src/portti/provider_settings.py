"""The settings of one OpenID Connect identity provider (``PORTTI_OIDC_PROVIDERS``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class OidcProviderSettings(BaseModel):
    """One OpenID Connect identity provider (bank ID broker, mobile certificate, ID cards).

    ``issuer`` alone is enough when the provider publishes its discovery document; endpoints
    given here override the discovered ones. See docs/operations.md for an FTN broker.
    """

    # A configuration error must not print the client secret back.
    model_config = ConfigDict(hide_input_in_errors=True)

    key: str
    label: str
    issuer: str
    client_id: str
    client_secret: SecretStr | None = None
    # Read {issuer}/.well-known/openid-configuration even when every endpoint is configured.
    discovery: bool = False
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    jwks_uri: str | None = None
    userinfo_endpoint: str | None = None
    pushed_authorization_request_endpoint: str | None = None
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile"])
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256", "EdDSA"])
    # Which claim carries the national identifier, and how to read it.
    identifier_claim: str = "national_id"
    identifier_country_claim: str | None = None
    identifier_country: str = "FI"
    # Asked for at login; a step-up asks for ``step_up_acr_values`` when set. The ID token's
    # ``acr`` must meet what was asked (see ``portti.strongauth.oidc.assurance.acr_satisfies``).
    acr_values: str | None = None
    step_up_acr_values: str | None = None
    # Client authentication at the token (and PAR) endpoint. Unset: client_secret_basic with a
    # secret, else none (a public client with PKCE). private_key_jwt signs an assertion with
    # Portti's own key of ``client_assertion_alg`` (published at /.well-known/jwks.json).
    token_endpoint_auth_method: (
        Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "none"] | None
    ) = None
    client_assertion_alg: Literal["RS256", "PS256", "ES256"] = "RS256"
    # The ``aud`` of that assertion: the provider's issuer identifier (FAPI 2, RFC 7523bis, and
    # what the OpenID Foundation's 2025 audience advisory asks providers to accept) or, for a
    # provider that still wants the older form of RFC 7523 / OIDC Core 9, its token endpoint URL
    # (sent at the PAR endpoint too, as RFC 9126 allows).
    client_assertion_audience: Literal["issuer", "token_endpoint"] = "issuer"
    # The authorization request as a signed request object (JAR, RFC 9101) with this algorithm,
    # and/or pushed to the provider first (PAR, RFC 9126).
    request_object_signing_alg: Literal["RS256", "PS256", "ES256"] | None = None
    par: bool = False
    # Encrypted ID tokens and UserInfo (JWE to Portti's key): the key-management algorithms
    # accepted; with ``require_encryption`` a plain ID token is refused.
    encryption_algorithms: list[str] = Field(default_factory=lambda: ["RSA-OAEP-256", "ECDH-ES"])
    require_encryption: bool = False
    # UserInfo: "auto" calls it when the identifier is not in the ID token.
    userinfo: Literal["auto", "always", "never"] = "auto"
    # The OIDC ``claims`` request parameter (Core 5.5), e.g. {"id_token": {"national_id": null}}.
    claims: dict[str, Any] | None = None
    # RFC 9207: refuse an authorization response without ``iss`` (also when discovery says so).
    require_iss: bool = False

    def urls(self) -> list[str]:
        return [
            u
            for u in (
                self.issuer,
                self.authorization_endpoint,
                self.token_endpoint,
                self.jwks_uri,
                self.userinfo_endpoint,
                self.pushed_authorization_request_endpoint,
            )
            if u
        ]
