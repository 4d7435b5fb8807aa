"""How a key's private part is kept: AES-GCM under a key derived from PORTTI_SECRET_KEY, with
the key id as associated data (SEC-25), so a sealed part moved to another row does not open.
Shared by the key store and the migration that sealed the older rows again."""

from __future__ import annotations

from portti.infra.crypto import SecretBox

PURPOSE = "service-keys"


def seal_private(secret: bytes, private_json: str, *, kid: str | None) -> str:
    return SecretBox(secret, PURPOSE).seal(private_json, context=kid)


def open_private(secret: bytes, sealed: str, *, kid: str | None) -> str:
    return SecretBox(secret, PURPOSE).open(sealed, context=kid)
