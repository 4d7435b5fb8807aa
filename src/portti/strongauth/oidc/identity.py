"""The person a provider vouched for, read from verified claims."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from portti.config import OidcProviderSettings
from portti.i18n import _l
from portti.strongauth.oidc.errors import ProviderError

__all__ = ["VerifiedIdentity", "identity_from_claims", "missing_identifier"]


@dataclass(frozen=True)
class VerifiedIdentity:
    provider: str
    subject: str
    country: str
    national_id: str
    given_name: str | None
    family_name: str | None
    name: str | None
    auth_time: datetime | None
    acr: str | None
    amr: tuple[str, ...] = ()


def missing_identifier() -> ProviderError:
    """The provider's answer names no national identifier (none given, or none readable)."""
    return ProviderError(
        ProviderError.MISSING_IDENTIFIER,
        _l("The identity provider did not tell us your national identity number."),
    )


def _optional_str(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


def identity_from_claims(
    provider: OidcProviderSettings, claims: Mapping[str, Any]
) -> VerifiedIdentity:
    """Read the national identifier and the person's names from verified claims."""
    national_id = claims.get(provider.identifier_claim)
    if not isinstance(national_id, str) or not national_id.strip():
        raise missing_identifier()
    if provider.identifier_country_claim:
        country = claims.get(provider.identifier_country_claim)
        if not isinstance(country, str) or not country.strip():
            raise missing_identifier()
    else:
        country = provider.identifier_country
    auth_time_raw = claims.get("auth_time")
    auth_time = (
        datetime.fromtimestamp(auth_time_raw, UTC)
        if isinstance(auth_time_raw, int | float) and not isinstance(auth_time_raw, bool)
        else None
    )
    return VerifiedIdentity(
        provider=provider.key,
        subject=str(claims["sub"]),
        country=country.strip().upper(),
        national_id=national_id.strip(),
        given_name=_optional_str(claims, "given_name"),
        family_name=_optional_str(claims, "family_name"),
        name=_optional_str(claims, "name"),
        auth_time=auth_time,
        acr=_optional_str(claims, "acr"),
        amr=tuple(a for a in claims.get("amr") or () if isinstance(a, str))
        if isinstance(claims.get("amr"), list)
        else (),
    )
