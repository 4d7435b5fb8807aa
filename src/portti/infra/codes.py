"""Codes people type (sign-up codes, SMS and e-mail codes): one way to make them and one way
to read what was typed, so every code accepts the same spaces and dashes."""

from __future__ import annotations

import re
import secrets

_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212.]")


def random_digits(length: int) -> str:
    """``length`` decimal digits from ``secrets``, leading zeros kept."""
    return f"{secrets.randbelow(10**length):0{length}d}"


def clean_digits(text: str | None, length: int) -> str | None:
    """The digits typed, without spaces and dashes; ``None`` unless exactly ``length`` ASCII
    digits remain."""
    digits = _SEPARATORS.sub("", text or "")
    return digits if len(digits) == length and digits.isascii() and digits.isdigit() else None
