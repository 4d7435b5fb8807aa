"""The OpenID Provider's HTTP face: discovery, authorize, token, UserInfo, logout.

Each module adds its routes to the two routers of ``common.py``: ``router`` (called by clients'
servers and browsers' redirects) and ``browser`` (pages' forms, CSRF-checked); the two busiest
endpoints to ``plain_routes`` (plain Starlette routes, ``web/plain.py``)."""

from portti.oidc_provider.views import authorize, discovery, end_session, token
from portti.oidc_provider.views.common import browser, plain_routes, router

__all__ = [
    "authorize",
    "browser",
    "discovery",
    "end_session",
    "plain_routes",
    "router",
    "token",
]
