"""Failed client authentication at the token endpoint is rate-limited (SEC-21).

A confidential client's secret is long and random, but nothing stopped a guesser from trying
as fast as the server answers. Failures are counted per client network (``infra/ratelimit.py``:
an IPv6 client counts as its /64) and per client id:

* past the **network**'s limit, the endpoint answers ``429`` with ``Retry-After`` without checking
  the credentials, so a right guess from that network made meanwhile is not recognised (as the
  account login lockout does);
* past the **client id**'s limit, a *failing* request is answered ``429`` (a guesser spread over
  many networks is told to wait), while the client's correct credentials are still checked and
  accepted: the client id is public (it is in every authorize URL), and whoever knows it must
  not be able to stop the application's own code exchanges and refreshes. Its secret is 256
  random bits: what stops guessing is the per-network limit and the secret's length.

Successful authentications count nothing. Each failure is audited (``oidc_token_refused``,
``client_auth_failed``); refusals for a limit are audited at most once a minute per client and
network, so a flood does not fill the audit trail."""

from __future__ import annotations

import contextlib
import hashlib

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.errors import RateLimited
from portti.infra.ratelimit import RateLimiter
from portti.oidc_provider.errors import TokenError

FAILURES_PER_CLIENT = "10/minute;100/hour"
FAILURES_PER_NETWORK = "20/minute;200/hour"
AUDIT_THROTTLED = "1/minute"


class ClientAuthThrottled(TokenError):
    """Too many failed client authentications: 429 with ``Retry-After``."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "invalid_client",
            f"Too many failed client authentications. Try again in {retry_after} seconds.",
        )
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        return 429


def _client_key(client_id: str | None) -> str:
    # Hashed: any string may be claimed as a client id, and limiter keys may sit in Redis.
    return hashlib.sha256((client_id or "").encode()).hexdigest()[:32]


class ClientAuthLimits:
    def __init__(self, limiter: RateLimiter, audit: AuditLog, network: str) -> None:
        self.limiter = limiter
        self.audit = audit
        self.network = network

    def check(self, client_id: str | None) -> None:
        """Raises ``ClientAuthThrottled`` while the network is over its limit."""
        retry = self.limiter.retry_after(FAILURES_PER_NETWORK, "oidc-client-auth-net", self.network)
        if retry is not None:
            self._throttled(client_id, retry)

    def _throttled(self, client_id: str | None, retry: int) -> None:
        try:
            self.limiter.hit(
                AUDIT_THROTTLED, "oidc-client-auth-audit", _client_key(client_id), self.network
            )
            self.audit.record(
                AuditAction.OIDC_TOKEN_REFUSED,
                client=(client_id or "")[:64],
                reason="client_auth_rate_limited",
            )
        except RateLimited:
            pass
        raise ClientAuthThrottled(retry)

    def failed(self, client_id: str | None) -> None:
        """Counts one failure; raises ``ClientAuthThrottled`` when the client id was already
        over its limit (the failure that reaches a limit is still answered 401)."""
        self.audit.record(
            AuditAction.OIDC_TOKEN_REFUSED,
            client=(client_id or "")[:64],
            reason="client_auth_failed",
        )
        with contextlib.suppress(RateLimited):
            self.limiter.hit(FAILURES_PER_NETWORK, "oidc-client-auth-net", self.network)
        retry = self.limiter.retry_after(
            FAILURES_PER_CLIENT, "oidc-client-auth", _client_key(client_id)
        )
        with contextlib.suppress(RateLimited):
            self.limiter.hit(FAILURES_PER_CLIENT, "oidc-client-auth", _client_key(client_id))
        if retry is not None:
            self._throttled(client_id, retry)
