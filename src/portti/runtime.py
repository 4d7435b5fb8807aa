"""The composition root's product: every long-lived object of one app, typed, in one place.

A ``Runtime`` is the web kit's ``Kit`` (``web/kit.py``: settings, clock, database, templates,
keys, the outbox's wake-up, the drain) with the domains' objects added. ``create_app`` builds one ``Runtime`` and keeps it as ``app.state.runtime``; request code reaches
it through ``runtime(request)`` or the ``RuntimeDep`` dependency, tests through
``app.state.runtime`` (the ``runtime`` fixture). Nothing else is kept on ``app.state``.

Fields are plain attributes, not frozen: a test may swap one service for another (the HTTP
client that reaches the built-in identity provider in-process, an event bus that drops
messages) before the first request; the app itself never reassigns them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from portti.web.kit import Kit

if TYPE_CHECKING:
    import httpx
    from argon2 import PasswordHasher

    from portti.accounts.passwords import PasswordPolicy
    from portti.config import OidcProviderSettings
    from portti.infra.events import EventBus
    from portti.infra.ratelimit import LimitsRateLimiter
    from portti.oidc_provider.backchannel import BackChannelLogout
    from portti.oidc_provider.client_cache import ClientCache
    from portti.oidc_provider.keys import KeyStoreSigningKeys
    from portti.qrlogin.watch import StreamWatch
    from portti.strongauth.discovery import DiscoveryCache
    from portti.strongauth.oidc.jwks import JwksCache
    from portti.weblogin.geo import CountryLookup


@dataclass(eq=False)
class Runtime(Kit):
    # The identity providers by key: the configured ones, and in demo mode the test provider
    # under the names of those not configured.
    providers: dict[str, OidcProviderSettings]
    limiter: LimitsRateLimiter
    password_hasher: PasswordHasher
    password_policy: PasswordPolicy
    pin_hasher: PasswordHasher
    # The client the strong-auth relying party uses (token endpoint, JWKS, discovery).
    http: httpx.Client
    jwks: JwksCache
    discovery: DiscoveryCache
    # The OpenID Provider's view of Portti's own keys.
    oidc_keys: KeyStoreSigningKeys
    # The clients this process holds, checked by their version per request.
    oidc_clients: ClientCache
    # Server push (QR login): the bus between processes and the per-process database re-read.
    events: EventBus
    qr_watch: StreamWatch
    geo: CountryLookup
    # Back-channel logout has its own client: the strong-auth one may be replaced in tests.
    backchannel_http: httpx.Client
    backchannel_logout: BackChannelLogout


def runtime(request: Request) -> Runtime:
    """The running app's ``Runtime``."""
    rt: Runtime = request.app.state.runtime
    return rt


async def get_runtime(request: Request) -> Runtime:
    return runtime(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
