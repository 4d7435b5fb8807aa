"""Pending OIDC authorisations: state, nonce and PKCE verifier, bound to one browser.

The nonce and the PKCE verifier are sealed (AES-GCM) under a key derived from the root secret
*and the state*, which only the browser carries: a copy of the database, even with the secret
key, does not hold what would finish someone's login (SEC-28)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portti.db.base import Model, UtcDateTime


class OidcFlow(Model):
    __tablename__ = "oidc_flows"

    # sha256 of the state parameter; the state itself travels only through the browser.
    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(20))  # "login" or "step_up"
    # {"nonce": …, "code_verifier": …} as JSON, sealed (see the module).
    sealed: Mapped[str] = mapped_column(Text)
    # sha256 of a cookie set when the flow started: only that browser may finish it.
    browser_binding_hash: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(64))  # for step-up
    return_to: Mapped[str] = mapped_column(String(500), default="/")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
