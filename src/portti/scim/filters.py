"""The part of the SCIM filter language (RFC 7644 §3.4.2.2) that identity providers send and
Portti answers from an index: equality tests joined by ``and``.

``userName eq "aino@firma.fi"``, ``externalId eq "e-1"``, ``emails.value eq "a@b.fi"``,
``emails[type eq "work" and value eq "a@b.fi"]``, ``displayName eq "Bookkeeper"``. Any other
operator, ``or`` or ``not`` is refused with ``invalidFilter`` naming what is supported: an
answer computed some other way would be a guess (RFC 7644 §3.4.2.2 lets a provider support a
subset, §3.12 names the error).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from portti.i18n import _l
from portti.scim.errors import InvalidFilter

MAX_FILTER_LENGTH = 1000

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<lbracket>\[)
      | (?P<rbracket>\])
      | (?P<lparen>\()
      | (?P<rparen>\))
      | (?P<word>[A-Za-z0-9_:.$\-]+)
    )""",
    re.VERBOSE,
)

_OPERATORS = {"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"}


@dataclass(frozen=True)
class Equality:
    """``path eq value``; ``path`` in lower case, sub-attribute after a dot (``emails.value``)."""

    path: str
    value: str | bool | int | float | None
    # The attribute as the filter wrote it (``name.familyName``), for messages.
    written: str = field(default="", compare=False)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise InvalidFilter(
                _l("The filter cannot be read near “%(part)s”.", part=text[pos : pos + 20])
            )
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _unsupported() -> InvalidFilter:
    return InvalidFilter(
        _l(
            "Only equality tests joined by “and” are supported, such as "
            '“userName eq "aino@example.com"”.'
        )
    )


def _value(kind: str, text: str) -> str | bool | int | float | None:
    if kind == "string":
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise InvalidFilter(_l("A quoted value in the filter is not valid.")) from exc
        assert isinstance(value, str)
        return value
    lowered = text.lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    if lowered == "null":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError as exc:
        raise InvalidFilter(
            _l("“%(value)s” is not a value: quote strings in double quotes.", value=text)
        ) from exc


def parse_filter(text: str) -> list[Equality]:
    """The filter's equality tests (all must hold), or ``InvalidFilter``."""
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilter(_l("The filter is too long."))
    tokens = _tokens(text)
    if not tokens:
        raise InvalidFilter(_l("The filter is empty."))
    out: list[Equality] = []
    i = 0

    def comparison(prefix: str, written: str) -> None:
        nonlocal i
        if i + 1 >= len(tokens):
            raise InvalidFilter(_l("The filter ends too early."))
        (k1, attr), (k2, op) = tokens[i], tokens[i + 1]
        if k1 != "word" or k2 != "word" or op.lower() not in _OPERATORS:
            raise InvalidFilter(_l("The filter cannot be read near “%(part)s”.", part=attr))
        if op.lower() != "eq":
            raise _unsupported()
        if i + 2 >= len(tokens):
            raise InvalidFilter(_l("The filter ends too early."))
        kind, raw = tokens[i + 2]
        if kind not in {"string", "word"}:
            raise InvalidFilter(_l("The filter cannot be read near “%(part)s”.", part=raw))
        out.append(Equality(prefix + attr.lower(), _value(kind, raw), written + attr))
        i += 3

    while True:
        if i >= len(tokens):
            raise InvalidFilter(_l("The filter ends too early."))
        kind, word = tokens[i]
        if (kind == "word" and word.lower() == "not") or kind in {"lparen", "rparen"}:
            raise _unsupported()
        if kind == "word" and i + 1 < len(tokens) and tokens[i + 1][0] == "lbracket":
            # A value path: attr[sub eq "x" and sub2 eq "y"]
            prefix = word.lower() + "."
            i += 2
            while True:
                comparison(prefix, word + ".")
                if i < len(tokens) and tokens[i][0] == "word" and tokens[i][1].lower() == "and":
                    i += 1
                    continue
                break
            if i >= len(tokens) or tokens[i][0] != "rbracket":
                raise InvalidFilter(_l("A “[” in the filter is not closed."))
            i += 1
        else:
            comparison("", "")
        if i == len(tokens):
            return out
        kind, word = tokens[i]
        if kind != "word" or word.lower() not in {"and", "or"}:
            raise InvalidFilter(_l("The filter cannot be read near “%(part)s”.", part=word))
        if word.lower() == "or":
            raise _unsupported()
        i += 1
