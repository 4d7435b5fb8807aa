"""Reading a typed code as the person was shown it (UX-4)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import segno

from portti.accounts.services import standalone_svg
from portti.infra.codes import clean_digits


@pytest.mark.parametrize(
    "typed", ["449192", "449 192", "449-192", "449\u2013192", "449\u00a0192", " 449.192 "]
)
def test_spaces_dashes_and_dots_as_shown_are_read_as_the_digits(typed):  # UX-4
    assert clean_digits(typed, 6) == "449192"


@pytest.mark.parametrize("typed", ["449 19", "449 1922", "449a192", "४४९१९२", ""])
def test_anything_but_exactly_the_digits_is_no_code(typed):  # UX-4
    assert clean_digits(typed, 6) is None


def test_the_authenticator_qr_is_an_svg_document_an_image_can_show():  # UX-1
    """A data: URI image renders only an SVG with its namespace (the inline form has none)."""
    svg = standalone_svg(segno.make("otpauth://totp/Portti:a@example.com?secret=JBSWY3DP"))
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("width") == root.get("height") and int(root.get("width") or 0) > 100
