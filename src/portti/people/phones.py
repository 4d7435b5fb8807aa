"""A person's contact details: mobile phone numbers and e-mail addresses.

This module owns what is accepted as a person's phone (a valid mobile number, stored in E.164 so
that SMS gateways and comparisons see one form) and e-mail address (syntax only: deliverability is
proven later by the invitation itself), and the messages shown when they are refused.
"""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from portti.i18n import _l

_PHONE_MESSAGE = _l("Enter a mobile phone number in international form, e.g. +358 40 123 4567.")
# Confirmation codes go by SMS (INV-5); a number that may be a mobile one gets the benefit of
# the doubt (North American numbers cannot be told apart).
_MOBILE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


class InvalidPhone(ValueError):
    """A phone number that cannot be used; the message can be shown as is."""

    def __init__(self, message: str = _PHONE_MESSAGE) -> None:
        self.message = message
        super().__init__(message)


class InvalidEmail(ValueError):
    """An e-mail address that cannot be used; the message can be shown as is."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def normalise_phone(text: str, default_region: str | None = "FI") -> str:
    """The E.164 form of a mobile number, e.g. ``+358401234567``, or raise :class:`InvalidPhone`.

    Numbers without a country code are read as numbers of *default_region*; with ``None`` the
    country code is required.
    """
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhone() from error
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone()
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise InvalidPhone(
            _l(
                "Text messages cannot reach this number. Enter a mobile phone number in "
                "international form, e.g. +358 40 123 4567."
            )
        )
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def format_phone(e164: str) -> str:
    """A stored E.164 number in international form for display, e.g. ``+358 40 1234567``."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        # Display must not fail on a row written before validation was this strict.
        return e164
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


def normalise_email(text: str) -> str:
    """The normalised address (domain in lower case, local part as given) or raise."""
    try:
        result = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        # The library explains in English only: the reader gets the catalogue's sentence.
        raise InvalidEmail(_l("Enter a valid e-mail address.")) from error
    return result.normalized
