"""The OpenID Provider's HTTP face: discovery, authorize, token, UserInfo, logout.

Each module adds its routes to the two routers of ``common.py``: ``router`` (called by clients'
servers and browsers' redirects) and ``browser`` (pages' forms, CSRF-checked)."""

from portti.oidc_provider.views import authorize, discovery, end_session, token
from portti.oidc_provider.views.common import browser, router

__all__ = ["authorize", "browser", "discovery", "end_session", "router", "token"]
