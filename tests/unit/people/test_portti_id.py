"""The Portti ID: format, check character and lenient reading."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from portti.people.portti_id import (
    ALPHABET,
    InvalidPorttiId,
    is_valid_portti_id,
    new_portti_id,
    normalise_portti_id,
)

CANONICAL = re.compile(r"PT-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}")
EXAMPLE = "PT-7K4M-9Q2P"


def _with_check_character(body: str) -> str:
    code = body + luhn.calc_check_digit(body, alphabet=ALPHABET)
    return f"PT-{code[:4]}-{code[4:]}"


# Every valid ID, drawn by Hypothesis (new_portti_id draws from `secrets`, which Hypothesis
# can neither shrink nor replay).
valid_ids = st.text(alphabet=ALPHABET, min_size=7, max_size=7).map(_with_check_character)


def test_new_portti_ids_are_canonical_valid_and_differ():  # ADM-5
    ids = {new_portti_id() for _ in range(500)}
    assert len(ids) == 500
    for portti_id in ids:
        assert CANONICAL.fullmatch(portti_id)
        assert normalise_portti_id(portti_id) == portti_id


@given(valid_ids)
def test_portti_id_round_trips_through_normalisation(portti_id: str):  # ADM-5
    assert normalise_portti_id(portti_id) == portti_id
    assert normalise_portti_id(portti_id.lower().replace("-", " ")) == portti_id


@given(
    valid_ids,
    st.integers(min_value=0, max_value=7),
    st.integers(min_value=1, max_value=len(ALPHABET) - 1),
)
def test_any_single_mistyped_character_is_detected(
    portti_id: str, position: int, shift: int
):  # ADM-5
    code = portti_id[len("PT-") :].replace("-", "")
    wrong_char = ALPHABET[(ALPHABET.index(code[position]) + shift) % len(ALPHABET)]
    mistyped = code[:position] + wrong_char + code[position + 1 :]
    assert not is_valid_portti_id(mistyped)
    with pytest.raises(InvalidPorttiId, match="wrong check character"):
        normalise_portti_id(mistyped)


def test_example_in_the_message_is_itself_valid():  # ADM-5
    assert is_valid_portti_id(EXAMPLE)


@pytest.mark.parametrize(
    "typed",
    ["PT-7K4M-9Q2P", "pt-7k4m-9q2p", "7K4M9Q2P", "7k4m-9q2p", " PT 7K4M 9Q2P ", "PT--7K4M--9Q2P"],
)
def test_portti_id_is_read_leniently(typed: str):  # ADM-5
    assert normalise_portti_id(typed) == EXAMPLE


def test_crockford_confusables_are_read_as_digits():  # ADM-5
    portti_id = _with_check_character("1010000")
    assert normalise_portti_id(portti_id.replace("1", "I").replace("0", "O")) == portti_id
    assert normalise_portti_id(portti_id.replace("1", "l")) == portti_id


@pytest.mark.parametrize(
    "typed", ["", "PT-7K4M-9Q2", "PT-7K4M-9Q2PX", "PT-7K4M-9U2P", "PT-7K4M-9Q2!"]
)
def test_text_that_is_not_a_portti_id_gets_the_format_message(typed: str):  # OPS-4
    with pytest.raises(InvalidPorttiId) as caught:
        normalise_portti_id(typed)
    assert str(caught.value) == "A Portti ID looks like PT-7K4M-9Q2P."


def test_wrong_check_character_gets_its_own_message():  # OPS-4
    with pytest.raises(InvalidPorttiId) as caught:
        normalise_portti_id("PT-7K4M-9Q2X")
    assert caught.value.message == "The Portti ID has a wrong check character — check it for typos."
