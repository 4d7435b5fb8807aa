"""The SCIM filter subset Portti answers: equality tests joined by ``and`` (PRV-3)."""

from __future__ import annotations

import pytest

from portti.scim.errors import InvalidFilter
from portti.scim.filters import Equality, parse_filter


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('userName eq "aino@firma.fi"', [Equality("username", "aino@firma.fi")]),
        ('externalId EQ "e \\"1\\""', [Equality("externalid", 'e "1"')]),
        (
            'emails[type eq "work" and value eq "a@b.fi"]',
            [Equality("emails.type", "work"), Equality("emails.value", "a@b.fi")],
        ),
        (
            'userName eq "x" and active eq true',
            [Equality("username", "x"), Equality("active", True)],
        ),
        (
            'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"',
            [Equality("urn:ietf:params:scim:schemas:core:2.0:user:username", "x")],
        ),
    ],
)
def test_equality_tests_are_read(text, expected):  # PRV-3
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        'userName co "a"',
        'userName sw "a"',
        "title pr",
        'userName eq "a" or userName eq "b"',
        'not (userName eq "a")',
        "userName eq",
        'userName eq "open',
        'emails[value eq "x"',
        "userName eq unquoted",
        "",
        "x" * 1001,
    ],
)
def test_anything_else_is_an_invalid_filter(text):  # PRV-3
    with pytest.raises(InvalidFilter) as exc:
        parse_filter(text)
    assert exc.value.status == 400
    assert exc.value.scim_type == "invalidFilter"
    assert exc.value.detail
