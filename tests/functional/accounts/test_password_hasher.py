"""The argon2id password hasher, with the cost the test settings give it."""

from __future__ import annotations

from portti.accounts.passwords import make_password_hasher
from portti.config import Settings

GOOD = "violet tractor under 7 lanterns"


def test_the_hasher_is_argon2id_with_the_configured_cost(settings: Settings) -> None:  # OPS-4
    hasher = make_password_hasher(settings)
    hashed = hasher.hash(GOOD)
    assert hashed.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert GOOD not in hashed
    assert hasher.verify(hashed, GOOD)
