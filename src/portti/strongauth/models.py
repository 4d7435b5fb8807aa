"""Pending OIDC authorisations: state, nonce and PKCE verifier, bound to one browser."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from portti.db.base import Model, UtcDateTime


class OidcFlow(Model):
    __tablename__ = "oidc_flows"

    # sha256 of the state parameter; the state itself travels only through the browser.
    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(20))  # "login" or "step_up"
    nonce: Mapped[str] = mapped_column(String(100))
    code_verifier: Mapped[str] = mapped_column(String(100))
    # sha256 of a cookie set when the flow started: only that browser may finish it.
    browser_binding_hash: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(64))  # for step-up
    return_to: Mapped[str] = mapped_column(String(500), default="/")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
