"""APP-9: only Finnish bank ID activates the app without an invitation; any other provider is
refused with a stable code (a refusal, not a malformed request: SEC-20)."""

from __future__ import annotations

import pytest

from portti.activation.errors import BankIdNotFinnish
from portti.activation.services import require_finnish_bank_id
from portti.config import OidcProviderSettings


def provider(key: str, country: str) -> OidcProviderSettings:
    return OidcProviderSettings(
        key=key,
        label=key,
        issuer="https://idp.example",
        client_id="portti",
        identifier_country=country,
    )


@pytest.mark.parametrize(("key", "country"), [("fi_bank", "FI"), ("ftn", "FI"), ("fi_x", "EE")])
def test_finnish_bank_id_starts_an_activation(key: str, country: str) -> None:  # APP-9
    require_finnish_bank_id(provider(key, country))


def test_another_countrys_identification_is_refused() -> None:  # APP-9 SEC-20
    with pytest.raises(BankIdNotFinnish) as refused:
        require_finnish_bank_id(provider("ee_id", "EE"))
    assert (refused.value.status, refused.value.code) == (403, "bank_id_not_finnish")
    assert "Only Finnish bank ID" in str(refused.value.message)
