"""Keys that outlive a rotation of the root secret (OPS-13), kept sealed in the database.

The PIN pepper, the pairwise-subject key and the keys of long-lived token hashes (the app's
"this wasn't me" token, clients' secrets) protect what a new secret cannot make again: the
server never knows a PIN, clients keep the subjects they were given, the app and the client
hold their tokens. Each is derived once from the secret in use when it is first needed — the
same value Portti derived before this table existed, so nothing changes for anyone — and then
kept here, sealed under the root secret; :func:`load` puts them on the settings' ring at start
(``crypto.derive_key`` returns them from there), and ``portti secrets rotate`` re-seals them
(:func:`reseal_all`) with everything else that was sealed under a previous secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from sqlalchemy import String, Table, Text, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from portti.config import SecretRing
from portti.db.base import Model, UtcDateTime
from portti.infra.clock import Clock
from portti.infra.crypto import STABLE_PURPOSES, SecretBox, _derive


class SecretMaterial(Model):
    __tablename__ = "secret_material"

    purpose: Mapped[str] = mapped_column(String(60), primary_key=True)
    sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SecretMaterialError(RuntimeError):
    """The stored keys cannot be opened with the configured secrets."""


def _box(ring: SecretRing) -> SecretBox:
    return SecretBox(ring, "secret-material")


def load(session_factory: sessionmaker[Session], ring: SecretRing, clock: Clock) -> None:
    """Fill ``ring.stable``: open each stored key, or make and store the ones not yet there.
    A database not yet migrated has no such table: nothing is loaded (every key is then the
    one derived from the current secret, as before the table existed)."""
    box = _box(ring)
    with session_factory() as db:
        if not inspect(db.get_bind()).has_table(SecretMaterial.__tablename__):
            return
        rows = {r.purpose: r.sealed for r in db.scalars(select(SecretMaterial))}
        for purpose in STABLE_PURPOSES:
            if purpose in rows:
                continue
            value = _derive(ring.current, purpose, 32)
            db.add(
                SecretMaterial(
                    purpose=purpose, sealed=box.seal(value.hex()), created_at=clock.now()
                )
            )
            try:
                db.commit()
            except IntegrityError:  # another instance stored it first: read theirs
                db.rollback()
            rows = {r.purpose: r.sealed for r in db.scalars(select(SecretMaterial))}
    stable = {}
    for purpose in STABLE_PURPOSES:
        try:
            stable[purpose] = bytes.fromhex(box.open(rows[purpose]))
        except InvalidTag:
            if ring.made_up:
                raise SecretMaterialError(
                    "No secret key is configured, and the keys stored in this database were "
                    "sealed under one: set PORTTI_SECRET_KEY or PORTTI_SECRET_KEY_FILE to it "
                    "(`make run` keeps it in var/secret_key)"
                ) from None
            raise SecretMaterialError(
                "PORTTI_SECRET_KEY cannot open Portti's stored keys: they were sealed under "
                "another secret. Set PORTTI_PREVIOUS_SECRET_KEYS to the secret in use before "
                '(docs/operations.md, "Rotating the secret key")'
            ) from None
    ring.stable.clear()
    ring.stable.update(stable)


@dataclass(frozen=True)
class Sealed:
    """A table's column sealed with ``SecretBox(secret, purpose)``; ``context`` is the associated
    data it is bound to, made from the row's key (``{key}`` in it), None for none."""

    table: str
    key: str
    column: str
    purpose: str
    context: str | None = None

    def context_of(self, row_key: object) -> str | None:
        return None if self.context is None else self.context.format(key=row_key)


# Everything Portti seals under the root secret that lives longer than a day, each bound to its
# row (SEC-25). A sealed column added later is listed here. Not listed: a pending bank-ID login's
# nonce and verifier (``oidc_flows``, minutes long, sealed under the secret and the state only
# the browser holds).
SEALED: tuple[Sealed, ...] = (
    Sealed("secret_material", "purpose", "sealed", "secret-material"),
    Sealed("service_keys", "kid", "private_sealed", "service-keys", "{key}"),
    Sealed("accounts", "id", "totp_secret_sealed", "totp", "account:{key}"),
    Sealed("outbox_messages", "id", "sealed_body", "outbox", "outbox:{key}"),
    Sealed("dev_messages", "id", "sealed_body", "devmail", "devmail:{key}"),
)


def reseal_all(session_factory: sessionmaker[Session], ring: SecretRing) -> dict[str, int]:
    """Seal again under the current secret whatever a previous one sealed; how many rows of
    each table changed. Idempotent; one short transaction a row."""
    changed: dict[str, int] = {}
    for s in SEALED:
        table = Model.metadata.tables[s.table]
        assert isinstance(table, Table)
        key, column = table.c[s.key], table.c[s.column]
        box = SecretBox(ring, s.purpose)
        n = 0
        with session_factory() as db:
            rows = db.execute(select(key, column).where(column.is_not(None), column != "")).all()
        for row_key, sealed in rows:
            try:
                fresh = box.reseal(sealed, context=s.context_of(row_key))
            except InvalidTag:
                raise SecretMaterialError(
                    f"{s.table}.{s.column} ({row_key}) opens with none of the configured "
                    "secrets: is a previous secret missing from PORTTI_PREVIOUS_SECRET_KEYS?"
                ) from None
            if fresh is None:
                continue
            with session_factory.begin() as db:
                # Only if unchanged meanwhile (a message sent and its body erased, say).
                n += db.execute(
                    update(table).where(key == row_key, column == sealed).values({s.column: fresh})
                ).rowcount  # type: ignore[attr-defined]
        changed[s.table] = n
    return changed
