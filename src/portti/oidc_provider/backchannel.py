"""OpenID Back-Channel Logout 1.0: a logout token to each client whose login ended.

``end_client_logins`` marks logins ``pending`` in the transaction that ended them; this worker
claims due ones with a short lease (a compare-and-set ``UPDATE`` on ``logout_next_at``, so two
processes never send one twice while the lease holds), signs a logout token and POSTs it to the
client's ``backchannel_logout_uri``. Every ``sweep_every`` it also ends the logins that rested
on a membership whose end date has passed (``membership_sweep.py``) and those whose Portti
session has expired (``session_bound.py``). A 2xx answer is ``sent``; a network error or 5xx is retried
with back-off (2 s × 2ⁿ, capped at 10 minutes) up to ``MAX_ATTEMPTS``; a 4xx is ``failed`` (the
client refused the token, and sending it again would not change that)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from joserfc import jwt
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from portti.infra import metrics
from portti.infra.clock import Clock
from portti.oidc_provider.claims import subject_for
from portti.oidc_provider.keys import SigningKeys
from portti.oidc_provider.membership_sweep import end_logins_of_ended_memberships
from portti.oidc_provider.models import OidcClient, OidcLogin
from portti.oidc_provider.session_bound import end_logins_of_expired_sessions
from portti.people.models import Person

log = structlog.get_logger(__name__)

LEASE = timedelta(seconds=30)
MAX_ATTEMPTS = 10
BATCH = 50
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def retry_delay(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 * 2 ** max(attempts - 1, 0)), timedelta(minutes=10))


def logout_token(
    keys: SigningKeys, issuer: str, client: OidcClient, sub: str, sid: str, now: datetime
) -> str:
    alg = client.id_token_signed_response_alg
    key = keys.active_signing_key(alg)
    iat = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": client.client_id,
        "iat": iat,
        "exp": iat + 120,
        "jti": secrets.token_urlsafe(16),
        "sub": sub,
        "sid": sid,
        "events": {LOGOUT_EVENT: {}},
    }
    return jwt.encode(
        {"alg": alg, "kid": key.kid, "typ": "logout+jwt"}, claims, key, algorithms=[alg]
    )


class BackChannelLogout:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        clock: Clock,
        keys: SigningKeys,
        *,
        issuer: str,
        secret: bytes,
        http: httpx.Client,
        sweep_every: timedelta = timedelta(seconds=60),
        session_idle: timedelta | None = None,
    ) -> None:
        self.sweep_every = sweep_every
        # With the sessions' idle timeout, the sweep also ends the logins of expired sessions.
        self.session_idle = session_idle
        self._swept_at: datetime | None = None
        self.session_factory = session_factory
        self.clock = clock
        self.keys = keys
        self.issuer = issuer
        self.secret = secret
        self.http = http

    def _claim(self) -> list[tuple[int, str, str, str, int]]:
        """Due logins, leased to this worker: (login id, sid, client_id, uri, attempt)."""
        now = self.clock.now()
        claimed: list[tuple[int, str, str, str, int]] = []
        with self.session_factory() as db, db.begin():
            rows = db.execute(
                select(
                    OidcLogin.id,
                    OidcLogin.sid,
                    OidcLogin.client_id,
                    OidcLogin.logout_next_at,
                    OidcLogin.logout_attempts,
                    OidcClient.backchannel_logout_uri,
                )
                .join(OidcClient, OidcClient.client_id == OidcLogin.client_id)
                .where(OidcLogin.logout_status == "pending", OidcLogin.logout_next_at <= now)
                .order_by(OidcLogin.logout_next_at)
                .limit(BATCH)
            ).all()
            for login_id, sid, client_id, next_at, attempts, uri in rows:
                moved = db.execute(
                    update(OidcLogin)
                    .where(
                        OidcLogin.id == login_id,
                        OidcLogin.logout_next_at == next_at,
                        OidcLogin.logout_status == "pending",
                    )
                    .values(logout_next_at=now + LEASE, logout_attempts=attempts + 1)
                ).rowcount  # type: ignore[attr-defined]
                if moved and uri:
                    claimed.append((login_id, sid, client_id, uri, attempts + 1))
        return claimed

    def _token_for(self, login_id: int, client_id: str, sid: str) -> str | None:
        with self.session_factory() as db:
            client = db.scalars(select(OidcClient).where(OidcClient.client_id == client_id)).one()
            person_id = db.scalars(
                select(OidcLogin.person_id).where(OidcLogin.id == login_id)
            ).one()
            person = db.get(Person, person_id)
            if person is None:
                return None
            return logout_token(
                self.keys,
                self.issuer,
                client,
                subject_for(client, person, self.secret),
                sid,
                self.clock.now(),
            )

    def deliver_due(self) -> int:
        """Sends every due logout token once; returns how many were sent."""
        sent = 0
        for login_id, sid, client_id, uri, attempt in self._claim():
            error: str | None = None
            permanent = False
            token = self._token_for(login_id, client_id, sid)
            if token is None:
                error, permanent = "the person no longer exists", True
            else:
                try:
                    r = self.http.post(
                        uri,
                        data={"logout_token": token},
                        headers={"cache-control": "no-store"},
                    )
                    if r.status_code >= 500:
                        error = f"HTTP {r.status_code}"
                    elif r.status_code >= 400:
                        error, permanent = f"HTTP {r.status_code}", True
                except httpx.HTTPError as exc:
                    error = type(exc).__name__
            self._record(login_id, attempt, error, permanent)
            metrics.BACKCHANNEL_LOGOUTS.labels(
                "sent" if error is None else ("failed" if permanent else "retry")
            ).inc()
            log.info(
                "backchannel_logout",
                login_id=login_id,
                client=client_id,
                attempt=attempt,
                outcome="sent" if error is None else ("failed" if permanent else "retry"),
            )
            sent += error is None
        return sent

    def _record(self, login_id: int, attempt: int, error: str | None, permanent: bool) -> None:
        now = self.clock.now()
        if error is None:
            values: dict[str, Any] = {"logout_status": "sent", "logout_error": None}
        elif permanent or attempt >= MAX_ATTEMPTS:
            values = {"logout_status": "failed", "logout_error": error[:200]}
        else:
            values = {"logout_next_at": now + retry_delay(attempt), "logout_error": error[:200]}
        with self.session_factory() as db, db.begin():
            db.execute(update(OidcLogin).where(OidcLogin.id == login_id).values(**values))

    def sweep_ended_memberships(self) -> int:
        """Ends the logins of memberships ended with time (their tokens are then due)."""
        with self.session_factory() as db, db.begin():
            ended = end_logins_of_ended_memberships(db, self.clock)
        self._swept_at = self.clock.now()
        if ended:
            log.info("membership_sweep", logins_ended=ended)
        return ended

    def sweep_expired_sessions(self, idle: timedelta) -> int:
        """Ends the logins whose Portti session has expired (SEC-15; ``session_bound.py``)."""
        with self.session_factory() as db, db.begin():
            ended = end_logins_of_expired_sessions(db, self.clock, idle)
        if ended:
            log.info("session_sweep", logins_ended=ended)
        return ended

    def run_once(self) -> int:
        """The sweeps when they are due, then every due logout token; returns how many were sent."""
        now = self.clock.now()
        if self._swept_at is None or now - self._swept_at >= self.sweep_every:
            self.sweep_ended_memberships()
            if self.session_idle is not None:
                self.sweep_expired_sessions(self.session_idle)
        return self.deliver_due()

    async def run_forever(self, stop: asyncio.Event, poll_seconds: float = 0.5) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.run_once)
            except Exception as exc:  # keep the worker alive; the rows stay pending
                log.error("backchannel_logout_error", error_type=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_seconds)


Factory = Callable[[], BackChannelLogout]
