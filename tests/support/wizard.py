"""The add-user wizard as a browser posts it and as the JSON API takes it."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from portti.people.identity_numbers import make_hetu

_seq = itertools.count(1)


def new_hetu() -> str:
    """A valid HETU no factory person has: factories draw birth years 1950–1999."""
    n = next(_seq)
    return make_hetu(date(2000 + n % 20, 1 + n % 12, 1 + n % 28), 900 + n % 99)


def form(**overrides: Any) -> dict[str, Any]:
    """A complete, valid wizard form for a new person with a Finnish HETU."""
    data: dict[str, Any] = {
        "method": "fi_hetu",
        "id_kind": "personal_number",
        "id_value": new_hetu(),
        "id_country": "",
        "already_user": "no",
        "portti_id": "",
        "given_name": "Maija",
        "family_name": "Meikäläinen",
        "email": "maija.meikalainen@example.com",
        "phone": "+358 40 765 4321",
        "roles": ["bookkeeper"],
        "validity": "until_further_notice",
        "valid_from": "",
        "valid_until": "",
        "receives_email": "yes",
    }
    data.update(overrides)
    return data


def body(**overrides: Any) -> dict[str, Any]:
    """A valid ``AddUserInput`` for the JSON API: a new person with a Finnish HETU."""
    data: dict[str, Any] = {
        "method": "fi_hetu",
        "id_value": new_hetu(),
        "given_name": "Matti",
        "family_name": "Meikäläinen",
        "email": "matti.meikalainen@example.com",
        "phone": "+358 40 765 4322",
        "roles": ["bookkeeper"],
    }
    data.update(overrides)
    return data
