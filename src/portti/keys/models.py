"""Portti's own keys: one row per key, its private part sealed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portti.db.base import Model, UtcDateTime


class ServiceKey(Model):
    """A key of one purpose and algorithm; each rotation adds the next ``generation``.

    ``(purpose, alg, generation)`` is unique, so two processes that create the same key at once cannot
    both succeed: the one that loses re-reads the winner's key.
    """

    __tablename__ = "service_keys"
    __table_args__ = (UniqueConstraint("purpose", "alg", "generation"),)

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)  # RFC 7638 thumbprint
    alg: Mapped[str] = mapped_column(String(20))
    use: Mapped[str] = mapped_column(String(3))  # "sig" or "enc"
    # What the key is for (SEC-25): "op", the OpenID Provider's ID, access and logout tokens;
    # "rp", the relying party's client assertions and request objects to identity brokers and
    # the decryption of their answers. A key serves one purpose only.
    purpose: Mapped[str] = mapped_column(String(2), default="rp")
    generation: Mapped[int] = mapped_column(Integer)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The private JWK as JSON, sealed with AES-GCM under a key derived from PORTTI_SECRET_KEY,
    # with the key id as associated data: a sealed part copied to another row does not open.
    private_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Published from ``created_at``; signs (or is the encryption key offered) from here on.
    active_from: Mapped[datetime] = mapped_column(UtcDateTime)
