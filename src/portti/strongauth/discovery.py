"""A provider's endpoints: configured, or read from its OpenID Connect discovery document.

A provider may be configured by ``issuer`` alone; ``{issuer}/.well-known/openid-configuration``
is then read (OpenID Connect Discovery 1.0 §4), its ``issuer`` must be exactly the configured one
(§4.3), and it is cached for an hour. A failed read keeps using the last good copy; a login that
fails in a way stale metadata could explain (the token or PAR endpoint unreachable, a key not
found) drops the copy so the next login reads it again. Endpoints given in the configuration
win over the discovered ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from portti.config import OidcProviderSettings
from portti.infra.tls import transport_failure
from portti.infra.ttlcache import TtlCache

__all__ = ["DiscoveryCache", "Endpoints", "static_endpoints"]

DISCOVERY_TTL = timedelta(hours=1)


class DiscoveryError(Exception):
    """The provider's metadata could not be read and none was cached."""

    def __init__(self, message: str, *, reason: str = "invalid_metadata") -> None:
        super().__init__(message)
        # For the audit row and the log (OIDC-8): see ``portti.infra.tls.transport_failure``.
        self.reason = reason


@dataclass(frozen=True)
class Endpoints:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    pushed_authorization_request_endpoint: str | None = None
    # RFC 9207: the provider puts ``iss`` in its authorization responses, so one without it
    # is refused.
    iss_parameter_supported: bool = False


def _merge(provider: OidcProviderSettings, meta: dict[str, Any]) -> Endpoints:
    def pick(name: str) -> str | None:
        configured = getattr(provider, name)
        if configured:
            return str(configured)
        found = meta.get(name)
        return found if isinstance(found, str) and found else None

    missing = [
        n for n in ("authorization_endpoint", "token_endpoint", "jwks_uri") if pick(n) is None
    ]
    if missing:
        raise DiscoveryError(f"provider {provider.key!r} has no {', '.join(missing)}")
    return Endpoints(
        issuer=provider.issuer,
        authorization_endpoint=pick("authorization_endpoint") or "",
        token_endpoint=pick("token_endpoint") or "",
        jwks_uri=pick("jwks_uri") or "",
        userinfo_endpoint=pick("userinfo_endpoint"),
        pushed_authorization_request_endpoint=pick("pushed_authorization_request_endpoint"),
        iss_parameter_supported=provider.require_iss
        or meta.get("authorization_response_iss_parameter_supported") is True,
    )


def static_endpoints(provider: OidcProviderSettings) -> Endpoints:
    """The endpoints from the configuration alone (no discovery)."""
    return _merge(provider, {})


def needs_discovery(provider: OidcProviderSettings) -> bool:
    """Discovery is read when an endpoint is not configured (or when asked for)."""
    return provider.discovery or not (
        provider.authorization_endpoint and provider.token_endpoint and provider.jwks_uri
    )


class DiscoveryCache:
    def __init__(
        self,
        http: httpx.Client,
        *,
        ttl: timedelta = DISCOVERY_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._cache: TtlCache[dict[str, Any]] = TtlCache(
            self._fetch, ttl_seconds=ttl.total_seconds(), clock=clock
        )

    def endpoints(self, provider: OidcProviderSettings) -> Endpoints:
        """The provider's endpoints: the configured ones, completed by discovery if needed."""
        if not needs_discovery(provider):
            return static_endpoints(provider)
        return _merge(provider, self.metadata(provider.issuer))

    def metadata(self, issuer: str) -> dict[str, Any]:
        # While the provider does not answer, the last good copy is used.
        return self._cache.get(issuer, stale_on=(DiscoveryError,))

    def invalidate(self, issuer: str | None = None) -> None:
        self._cache.invalidate(issuer)

    def _fetch(self, issuer: str) -> dict[str, Any]:
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            response = self._http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            meta = response.json()
        except httpx.HTTPError as exc:
            raise DiscoveryError(
                f"the discovery document of {issuer} could not be read",
                reason=transport_failure(exc),
            ) from exc
        except ValueError as exc:
            raise DiscoveryError(f"the discovery document of {issuer} could not be read") from exc
        if not isinstance(meta, dict):
            raise DiscoveryError(f"the discovery document of {issuer} is not an object")
        if meta.get("issuer") != issuer:
            # OIDC Discovery §4.3: a document for another issuer is not this provider's.
            raise DiscoveryError(f"the discovery document at {url} names another issuer")
        return meta
