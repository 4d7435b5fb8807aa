"""The Portti ID: a person's stable public identifier, e.g. ``PT-7K4M-9Q2P`` (ADM-5, ADM-6).

This module owns its format, how new ones are drawn, and how one typed by a person is read back.
Eight characters from Crockford's base32 alphabet (no I, L, O, U: nothing to confuse with 1 and 0,
no accidental words): seven random ones and a Luhn mod 32 check character, which catches every
single mistyped character and most swaps of neighbours before a lookup is made.
"""

from __future__ import annotations

import secrets

from stdnum import luhn

from portti.i18n import _l

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "PT"
_RANDOM_LENGTH = 7
_CODE_LENGTH = _RANDOM_LENGTH + 1

# Crockford's decoding rules: letters people write for the digits they resemble.
_CONFUSABLES = str.maketrans({"O": "0", "I": "1", "L": "1"})
# Hyphens as typed, or as word processors and phones turn them into dashes.
_SEPARATORS = str.maketrans(dict.fromkeys("-‐‑‒–—_", ""))

_FORMAT_MESSAGE = _l("A Portti ID looks like PT-7K4M-9Q2P.")
_CHECK_MESSAGE = _l("The Portti ID has a wrong check character — check it for typos.")


class InvalidPorttiId(ValueError):
    """Text that is not a Portti ID; the message can be shown as is."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def new_portti_id() -> str:
    """A fresh random Portti ID in canonical form.

    32**7 (about 3.4e10) possibilities: collisions are rare but possible, so the caller relies
    on the unique constraint and draws again.
    """
    body = "".join(secrets.choice(ALPHABET) for _ in range(_RANDOM_LENGTH))
    return _canonical(body + luhn.calc_check_digit(body, alphabet=ALPHABET))


def normalise_portti_id(text: str) -> str:
    """Read a Portti ID as a person may type it; return ``PT-XXXX-XXXX`` or raise.

    Accepts lower case, spaces and hyphens anywhere (or none), an optional ``PT`` prefix and
    Crockford's confusables (O for 0, I and L for 1).
    """
    compact = "".join(text.split()).translate(_SEPARATORS).upper()
    if len(compact) == len(PREFIX) + _CODE_LENGTH and compact.startswith(PREFIX):
        compact = compact[len(PREFIX) :]
    code = compact.translate(_CONFUSABLES)
    if len(code) != _CODE_LENGTH or any(char not in ALPHABET for char in code):
        raise InvalidPorttiId(_FORMAT_MESSAGE)
    if luhn.checksum(code, alphabet=ALPHABET) != 0:
        raise InvalidPorttiId(_CHECK_MESSAGE)
    return _canonical(code)


def is_valid_portti_id(text: str) -> bool:
    try:
        normalise_portti_id(text)
    except InvalidPorttiId:
        return False
    return True


def _canonical(code: str) -> str:
    return f"{PREFIX}-{code[:4]}-{code[4:]}"
