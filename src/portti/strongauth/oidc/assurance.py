"""Levels of assurance: the ``acr_values`` asked for, and whether an identity meets them and is
fresh enough for a step-up."""

from __future__ import annotations

from datetime import UTC, datetime

from portti.config import OidcProviderSettings
from portti.i18n import _l
from portti.strongauth.oidc.errors import ProviderError
from portti.strongauth.oidc.identity import VerifiedIdentity

__all__ = ["ACR_LEVELS", "acr_satisfies", "check_assurance", "requested_acr"]

# Levels of assurance that brokers send as ``acr``, ranked: asking for one accepts it or a
# higher one of the same scheme (FTN and eIDAS levels are comparable: loa2 = substantial,
# loa3 = high). An ``acr`` outside this table satisfies only a request that names it.
ACR_LEVELS: dict[str, int] = {
    "http://ftn.ficora.fi/2017/loa2": 2,
    "http://ftn.ficora.fi/2017/loa3": 3,
    "http://eidas.europa.eu/LoA/low": 1,
    "http://eidas.europa.eu/LoA/substantial": 2,
    "http://eidas.europa.eu/LoA/high": 3,
    "low": 1,
    "substantial": 2,
    "high": 3,
}


def requested_acr(provider: OidcProviderSettings, *, fresh: bool) -> str | None:
    """The ``acr_values`` asked for: a step-up may ask for more than a login."""
    if fresh and provider.step_up_acr_values:
        return provider.step_up_acr_values
    return provider.acr_values


def acr_satisfies(acr: str | None, asked: str | None) -> bool:
    """Whether the ``acr`` the provider reported meets the ``acr_values`` that were asked for."""
    if not asked:
        return True
    wanted = asked.split()
    if acr is None:
        return False
    if acr in wanted:
        return True
    levels = [ACR_LEVELS[w] for w in wanted if w in ACR_LEVELS]
    return bool(levels) and acr in ACR_LEVELS and ACR_LEVELS[acr] >= min(levels)


def check_assurance(
    provider: OidcProviderSettings,
    identity: VerifiedIdentity,
    *,
    fresh_since: datetime | None,
) -> None:
    """Refuse an identity whose ``acr`` is below what was asked or, for a step-up
    (``fresh_since``: when it started), whose authentication is older than the step-up.

    A provider may ignore ``max_age=0`` / ``prompt=login`` and answer from a session it already
    had with the person; then ``auth_time`` is earlier than the step-up, and the answer proves
    nothing fresh.
    """
    if not acr_satisfies(identity.acr, requested_acr(provider, fresh=fresh_since is not None)):
        raise ProviderError(
            ProviderError.ACR_TOO_WEAK,
            _l(
                "The identification method you used is not strong enough for this. "
                "Use one with a higher level of assurance."
            ),
        )
    if fresh_since is not None:
        started = int(fresh_since.replace(tzinfo=fresh_since.tzinfo or UTC).timestamp())
        if identity.auth_time is None or identity.auth_time.timestamp() < started:
            raise ProviderError(
                ProviderError.NOT_FRESH,
                _l(
                    "The identity provider did not authenticate you again. Start again and "
                    "identify yourself at the provider."
                ),
            )
