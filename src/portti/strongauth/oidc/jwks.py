"""Providers' signing keys: the cached key sets, and checking a signature against them."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from portti.i18n import _l
from portti.infra.ttlcache import TtlCache
from portti.strongauth.oidc.errors import ProviderError, invalid_answer

__all__ = ["FORCE_INTERVAL", "JWKS_TTL", "JwksCache", "has_kid", "verified_claims"]

JWKS_TTL = timedelta(minutes=10)
# A forced refetch (a known kid whose signature fails) at most this often per key set.
FORCE_INTERVAL = 5.0


class JwksCache:
    """Providers' signing keys by JWKS URI: cached ten minutes, refetched once for a new ``kid``.

    A ``kid`` missing from the cached set usually means the provider rotated its keys, so the set
    is fetched again (once per lookup) before the token is refused. The ID token reaches us
    straight from the provider's token endpoint, so a stranger cannot make us refetch at will.
    One lock guards the cache; fetches happen under it, which also keeps concurrent logins from
    fetching the same set several times.
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        ttl: timedelta = JWKS_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._cache: TtlCache[KeySet] = TtlCache(
            self._fetch, ttl_seconds=ttl.total_seconds(), clock=clock
        )

    def get(self, jwks_uri: str, *, kid: str | None = None, force: bool = False) -> KeySet:
        """The key set at ``jwks_uri``; refetched when stale, or when ``kid`` is not in it.

        ``force`` refetches a set read more than ``FORCE_INTERVAL`` seconds ago: a signature
        that fails with a known ``kid`` may mean the provider reused the ``kid`` for a new key.
        """

        def keep(key_set: KeySet, age: float) -> bool:
            if force:
                return age < FORCE_INTERVAL
            return age < self._cache.ttl_seconds and (kid is None or has_kid(key_set, kid))

        return self._cache.get(jwks_uri, keep=keep)

    def invalidate(self, jwks_uri: str | None = None) -> None:
        self._cache.invalidate(jwks_uri)

    def _fetch(self, jwks_uri: str) -> KeySet:
        unavailable = ProviderError(
            ProviderError.PROVIDER_ERROR,
            _l("The identity provider's signing keys could not be loaded."),
        )
        try:
            response = self._http.get(jwks_uri, headers={"Accept": "application/json"})
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise unavailable from exc
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise unavailable
        # Only public material is needed, and a key meant for encryption is no signing key.
        keys = [
            k
            for k in data["keys"]
            if isinstance(k, dict) and k.get("use", "sig") == "sig" and "d" not in k
        ]
        try:
            return KeySet.import_key_set({"keys": keys})
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise unavailable from exc


def has_kid(key_set: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in key_set.keys)


def verified_claims(
    token: str, jwks: JwksCache, jwks_uri: str, kid: str | None, registry: JWSRegistry
) -> dict[str, Any]:
    """The claims of a signed JWT whose signature one of the provider's keys verifies."""
    key_set = jwks.get(jwks_uri, kid=kid)
    if kid is not None and not has_kid(key_set, kid):
        raise invalid_answer("unknown signing key")
    try:
        return jwt.decode(token, key_set, registry=registry).claims
    except JoseError as exc:
        if kid is None:
            raise invalid_answer("bad signature") from exc
    # A known kid that does not verify: the provider may have put a new key under the old
    # kid. Read the set once more (at most every few seconds) before refusing.
    key_set = jwks.get(jwks_uri, kid=kid, force=True)
    try:
        return jwt.decode(token, key_set, registry=registry).claims
    except JoseError as exc:
        raise invalid_answer("bad signature") from exc
