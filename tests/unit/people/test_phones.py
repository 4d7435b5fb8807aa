"""Contact details: mobile phone numbers and e-mail addresses."""

from __future__ import annotations

import pytest

from portti.people.phones import (
    InvalidEmail,
    InvalidPhone,
    format_phone,
    normalise_email,
    normalise_phone,
)


def test_finnish_mobile_without_country_code_is_read_as_finnish():  # ADM-3
    assert normalise_phone("040 123 4567") == "+358401234567"
    assert normalise_phone("040 123 4567", default_region="FI") == "+358401234567"
    assert normalise_phone("00358 40 123 4567") == "+358401234567"


def test_foreign_mobile_in_international_form_is_accepted():  # ADM-3
    assert normalise_phone("+46 70 123 45 67") == "+46701234567"
    assert normalise_phone("+46 70 123 45 67", default_region=None) == "+46701234567"


def test_number_that_may_be_mobile_is_accepted():  # ADM-3
    assert normalise_phone("+1 202 555 0143") == "+12025550143"  # fixed line or mobile


@pytest.mark.parametrize("text", ["12345", "", "not a number", "+358 40 12", "040 123 4567 8901"])
def test_invalid_phone_is_refused_with_a_readable_message(text: str):  # OPS-4
    with pytest.raises(InvalidPhone) as caught:
        normalise_phone(text)
    assert "+358 40 123 4567" in caught.value.message


def test_number_without_country_code_needs_a_default_region():  # OPS-4
    with pytest.raises(InvalidPhone):
        normalise_phone("040 123 4567", default_region=None)


@pytest.mark.parametrize("text", ["09 123 4567", "+46 8 123 456 78", "+44 20 7946 0958"])
def test_landline_is_refused_because_sms_cannot_reach_it(text: str):  # INV-5
    with pytest.raises(InvalidPhone, match="Text messages cannot reach"):
        normalise_phone(text)


def test_stored_number_is_shown_in_international_form():  # ADM-6
    assert format_phone("+358401234567") == "+358 40 1234567"
    assert format_phone("+46701234567") == "+46 70 123 45 67"
    assert format_phone("garbage") == "garbage"


def test_email_domain_is_lower_cased_and_local_part_kept():  # ADM-3
    assert normalise_email("  Maija.Meikalainen@Example.COM ") == "Maija.Meikalainen@example.com"


@pytest.mark.parametrize("text", ["not-an-email", "", "a@b@example.com", "person@"])
def test_invalid_email_is_refused_with_a_readable_message(text: str):  # OPS-4
    with pytest.raises(InvalidEmail) as caught:
        normalise_email(text)
    assert caught.value.message
