"""Names in the reader's alphabetical order (I18N-1): Swedish and Finnish put å, ä and ö after
z; English sorts them with a and o; marks, case and punctuation only break ties."""

from __future__ import annotations

import pytest

from portti.i18n import collation_key, use_locale
from portti.web.filters import by_country_name


def ordered(names: list[str], language: str) -> list[str]:
    return sorted(names, key=lambda n: collation_key(n, language))


@pytest.mark.parametrize("language", ["sv", "fi"])
def test_a_with_ring_a_and_o_with_dots_come_after_z(language: str) -> None:  # I18N-1
    names = ["Österrike", "Zambia", "Åland", "Ägypten", "Oman", "Aruba", "Ölby", "Ängelholm"]
    assert ordered(names, language) == [
        "Aruba", "Oman", "Zambia", "Åland", "Ägypten", "Ängelholm", "Ölby", "Österrike",
    ]  # fmt: skip


def test_nordic_letters_of_other_alphabets_sort_as_their_swedish_twins() -> None:  # I18N-1
    assert ordered(["Øresund", "Örebro", "Zug", "Ærø", "Äta"], "sv") == [
        "Zug", "Ærø", "Äta", "Örebro", "Øresund",
    ]  # fmt: skip
    assert ordered(["Yxa", "Über", "Zorro"], "sv") == ["Über", "Yxa", "Zorro"]


def test_english_sorts_marked_letters_with_their_base_letter() -> None:  # I18N-1
    names = ["Zambia", "Åland Islands", "Österreich", "Oman", "Aruba", "Côte d'Ivoire", "Curaçao"]
    assert ordered(names, "en") == [
        "Åland Islands", "Aruba", "Côte d'Ivoire", "Curaçao", "Oman", "Österreich", "Zambia",
    ]  # fmt: skip


def test_case_and_punctuation_only_break_ties_and_the_key_is_deterministic() -> None:  # I18N-1
    assert ordered(["guinea-bissau", "Guinea", "Guinea-Bissau", "Guinea Ecuatorial"], "en") == [
        "Guinea", "Guinea Ecuatorial", "Guinea-Bissau", "guinea-bissau",
    ]  # fmt: skip
    assert collation_key("Åland", "sv") == collation_key("A\u030aland", "sv")  # NFD input


def test_the_swedish_country_list_puts_osterrike_after_zimbabwe() -> None:  # I18N-1
    pairs = [(c, c) for c in ("AT", "ZW", "AX", "EG", "SE", "AU")]
    with use_locale("sv"):
        names = [name for _, name in by_country_name(pairs)]
    assert names[-2:] == ["Åland", "Österrike"], names
    assert names.index("Zimbabwe") < names.index("Åland")
    with use_locale("fi"):
        fi = [name for _, name in by_country_name(pairs)]
    assert fi == ["Ahvenanmaa", "Australia", "Egypti", "Itävalta", "Ruotsi", "Zimbabwe"]
