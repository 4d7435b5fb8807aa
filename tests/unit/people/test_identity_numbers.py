"""National identity numbers and other identifying codes: normalisation and refusal."""

from __future__ import annotations

from datetime import date

import pytest
from stdnum.ee import ik
from stdnum.fi import hetu
from stdnum.no import fodselsnummer

from portti.people.countries import COUNTRY_CODES, COUNTRY_NAMES
from portti.people.identity_numbers import (
    _ADJECTIVES,
    NATIONAL_ID_MODULES,
    IdentifierKind,
    InvalidIdentifier,
    country_has_validator,
    describe,
    make_hetu,
    normalise_identifier,
)

HETU = IdentifierKind.FI_HETU
PERSONAL = IdentifierKind.PERSONAL_NUMBER
OTHER = IdentifierKind.OTHER_CODE


def _refusal(kind: IdentifierKind, value: str, country: str | None) -> InvalidIdentifier:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_identifier(kind, value, country)
    return caught.value


def test_valid_hetu_is_normalised_to_upper_case_and_finland():  # ADM-4
    assert normalise_identifier(HETU, " 131052-308t ", None) == ("FI", "131052-308T")
    assert normalise_identifier(HETU, "131052-308T", "SE") == ("FI", "131052-308T")


def test_hetu_with_wrong_check_character_is_refused():  # ADM-4
    error = _refusal(HETU, "131052-308U", None)
    assert error.field == "value"
    assert str(error) == "The Finnish personal identity code has a wrong check character."


def test_hetu_with_impossible_date_or_bad_format_says_so():  # ADM-4
    assert "impossible date" in _refusal(HETU, "310252-308Y", None).message
    assert "format" in _refusal(HETU, "131052/308T", None).message


def test_empty_identifier_is_refused_on_the_value_field():  # ADM-4
    for kind in IdentifierKind:
        assert _refusal(kind, "   ", "SE").field == "value"


def test_personal_number_for_finland_must_be_a_valid_hetu():  # ADM-4
    assert normalise_identifier(PERSONAL, "131052-308t", "fi") == ("FI", "131052-308T")
    assert "check character" in _refusal(PERSONAL, "131052-308U", "FI").message


def test_make_hetu_gives_valid_codes_with_the_right_century_sign():  # ADM-4
    assert make_hetu(date(1952, 10, 13), 308) == "131052-308T"
    assert make_hetu(date(1899, 12, 31), 2)[6] == "+"
    assert make_hetu(date(2004, 2, 29), 950)[6] == "A"
    for day, individual in [
        (date(1985, 3, 14), 2),
        (date(2010, 1, 1), 899),
        (date(1970, 7, 7), 999),
    ]:
        assert hetu.is_valid(make_hetu(day, individual), allow_temporary=True)


def test_make_hetu_refuses_impossible_input():  # ADM-4
    with pytest.raises(ValueError):
        make_hetu(date(1985, 3, 14), 1)
    with pytest.raises(ValueError):
        make_hetu(date(1799, 3, 14), 100)


def test_temporary_hetu_from_demo_data_is_accepted():  # ADM-4
    code = make_hetu(date(1990, 5, 17), 901)
    assert normalise_identifier(HETU, code, None) == ("FI", code)


def test_swedish_personnummer_is_validated_and_kept_with_the_full_year():  # ADM-4
    assert normalise_identifier(PERSONAL, "19811218 9876", "se") == ("SE", "198112189876")
    # 10 and 12 digits are the same number, so the same person.
    assert normalise_identifier(PERSONAL, "811218-9876", "SE") == ("SE", "198112189876")


def test_invalid_swedish_personnummer_is_refused():  # ADM-4
    error = _refusal(PERSONAL, "19811218-9875", "SE")
    assert error.field == "value"
    assert error.message == "The Swedish personal identity number has a wrong check character."


def test_same_swedish_number_written_differently_normalises_to_one_value():  # ADM-4
    assert normalise_identifier(PERSONAL, "19811218-9876", "SE") == normalise_identifier(
        PERSONAL, "198112189876", "SE"
    )


def test_norwegian_fodselsnummer_is_validated():  # ADM-4
    base = "151086950"
    first = fodselsnummer.calc_check_digit1(base)
    number = base + first + fodselsnummer.calc_check_digit2(base + first)
    assert normalise_identifier(PERSONAL, f"{number[:6]} {number[6:]}", "NO") == ("NO", number)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert "check character" in _refusal(PERSONAL, wrong, "NO").message


def test_estonian_isikukood_is_validated():  # ADM-4
    base = "3850314012"
    number = base + ik.calc_check_digit(base + "0")  # it ignores the last digit
    assert normalise_identifier(PERSONAL, number, "EE") == ("EE", number)
    assert "wrong number of characters" in _refusal(PERSONAL, number[:-1], "EE").message


def test_danish_cpr_is_validated_and_compacted():  # ADM-4
    assert normalise_identifier(PERSONAL, "211062-5629", "DK") == ("DK", "2110625629")
    assert _refusal(PERSONAL, "511062-5629", "DK").field == "value"


def test_country_with_two_kinds_of_number_accepts_either():  # ADM-4
    assert normalise_identifier(PERSONAL, "54362315-K", "ES") == ("ES", "54362315K")
    assert normalise_identifier(PERSONAL, "x-2482300w", "ES") == ("ES", "X2482300W")
    # A NIE with a wrong letter: the NIE's own complaint is the helpful one.
    assert "check character" in _refusal(PERSONAL, "X2482300A", "ES").message


def test_organisation_numbers_are_not_accepted_as_a_persons_number():  # ADM-4
    assert normalise_identifier(PERSONAL, "120174-3399", "IS") == ("IS", "1201743399")
    assert "organisation" in _refusal(PERSONAL, "450401-3150", "IS").message
    assert "organisation" in _refusal(PERSONAL, "40003521600", "LV").message


def test_country_without_validator_accepts_the_number_as_given():  # ADM-4
    assert not country_has_validator("KE")
    assert normalise_identifier(PERSONAL, "  a12 \t 345 ", "ke") == ("KE", "A12 345")


def test_unknown_country_is_refused_on_the_country_field():  # ADM-4
    error = _refusal(PERSONAL, "12345", "XX")
    assert error.field == "country"
    assert error.message == "Unknown country code 'XX'."
    assert _refusal(OTHER, "1985-03-14", None).field == "country"


def test_other_code_such_as_date_of_birth_is_accepted_as_given():  # ADM-4
    assert normalise_identifier(OTHER, " 1985-03-14 ", "GB") == ("GB", "1985-03-14")
    assert normalise_identifier(OTHER, "Passport  ab123", "SE") == ("SE", "Passport ab123")


def test_free_form_identifier_longer_than_64_characters_is_refused():  # ADM-4
    assert normalise_identifier(OTHER, "x" * 64, "GB")[1] == "x" * 64
    assert _refusal(OTHER, "x" * 65, "GB").field == "value"
    assert _refusal(PERSONAL, "x" * 65, "KE").field == "value"


def test_validator_table_covers_only_real_countries_with_names():  # ADM-4
    assert len(COUNTRY_CODES) == 249
    assert set(NATIONAL_ID_MODULES) <= COUNTRY_CODES
    assert set(_ADJECTIVES) == set(NATIONAL_ID_MODULES)
    for code in ("FI", "SE", "NO", "DK", "EE", "LV", "LT", "PL", "DE", "ES", "US", "BR"):
        assert country_has_validator(code)


def test_country_names_are_sorted_by_name_for_the_picker():  # ADM-4
    names = list(COUNTRY_NAMES.values())
    assert names == sorted(names, key=lambda name: name.replace("Å", "A").casefold())
    assert COUNTRY_NAMES["FI"] == "Finland"


def test_describe_names_the_kind_value_and_country():  # ADM-6
    assert describe(PERSONAL, "SE", "19811218-9876") == "Swedish personal number 19811218-9876 (SE)"
    assert describe(HETU, "FI", "131052-308T") == "Finnish personal identity code 131052-308T (FI)"
    assert describe(PERSONAL, "KE", "A12345") == "Personal number A12345 (KE)"
    assert describe(OTHER, "GB", "1985-03-14") == "Other identifier 1985-03-14 (GB)"
