"""Device challenges (APP-5, SEC-9): the single-use nonces a device signs to approve anything,
each for one purpose and context, and the limits on asking for them."""

from __future__ import annotations

import math
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, delete, select
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from portti.devices.errors import ChallengesThrottled, TooManyChallenges
from portti.devices.lifecycle import DeviceLifecycle
from portti.devices.models import DeviceChallenge
from portti.devices.queries import BURN_CHALLENGE
from portti.errors import RateLimited, ValidationFailed
from portti.i18n import _l
from portti.infra.ratelimit import RateLimiter, client_network

CHALLENGE_VALIDITY = timedelta(minutes=2)
# SEC-9: anyone may ask for a device's nonces (the device id is all it takes), so each one is a
# row written for an unauthenticated request: limited per device and per client network, and a
# device holds at most this many unused, unexpired ones (an app needs one or two at a time).
MAX_OPEN_CHALLENGES = 10
CHALLENGE_LIMIT_PER_DEVICE = "20/minute;200/hour"
# Generous: a carrier-grade NAT puts many phones behind one IPv4 address. It bounds what one
# client can make the server read and write; the cap bounds the rows of each device.
CHALLENGE_LIMIT_PER_NETWORK = "300/minute"
PURPOSE_RE = re.compile(r"[a-z][a-z_]{0,39}")
MAX_CONTEXT = 200


class DeviceChallenges:
    """The nonces a device signs; ``limiter`` None: unlimited (tests)."""

    def __init__(self, lifecycle: DeviceLifecycle, *, limiter: RateLimiter | None = None) -> None:
        self.lifecycle = lifecycle
        self.db = lifecycle.db
        self.clock = lifecycle.clock
        self.limiter = limiter

    def challenge(
        self,
        device_public_id: str,
        purpose: str,
        context: str | None = None,
        *,
        client: str | None = None,
    ) -> DeviceChallenge:
        """A fresh nonce for the device to sign: 2 minutes, single use, for one purpose and
        context (e.g. ``approve_login`` for one login transaction). ``client``: the asking
        address, for the open endpoint's limit per network (SEC-9)."""
        if client is not None:  # every ask counts, for a known device or not
            self._limit_challenges("network", client_network(client))
        device = self.lifecycle.require_active(self.lifecycle.device(device_public_id))
        self._limit_challenges("device", device.public_id)
        if not isinstance(purpose, str) or not PURPOSE_RE.fullmatch(purpose):
            raise ValidationFailed(
                {"purpose": _l("Lower-case letters and underscores, at most 40.")}
            )
        if context is not None and len(context) > MAX_CONTEXT:
            raise ValidationFailed({"context": _l("At most %(num)s characters.", num=MAX_CONTEXT)})
        now = self.clock.now()
        # Spent and stale challenges are worth nothing; keep the table small.
        self.db.execute(
            delete(DeviceChallenge).where(
                DeviceChallenge.device_id == device.id,
                (DeviceChallenge.used_at.is_not(None)) | (DeviceChallenge.expires_at <= now),
            )
        )
        # What is left is open. Counted under the device row's lock (taken after the challenge
        # rows, the order ``verify`` uses), so parallel requests cannot overshoot the cap.
        self.lifecycle.device(device.public_id, lock=True)
        open_expiries = list(
            self.db.scalars(
                select(DeviceChallenge.expires_at)
                .where(DeviceChallenge.device_id == device.id)
                .order_by(DeviceChallenge.expires_at)
            )
        )
        if len(open_expiries) >= MAX_OPEN_CHALLENGES:
            retry_after = max(1, math.ceil((open_expiries[0] - now).total_seconds()))
            raise TooManyChallenges(retry_after=retry_after, open_challenges=len(open_expiries))
        ch = DeviceChallenge(
            nonce=secrets.token_urlsafe(32),
            device_id=device.id,
            purpose=purpose,
            context=context,
            created_at=now,
            expires_at=now + CHALLENGE_VALIDITY,
        )
        self.db.add(ch)
        self.db.flush()
        return ch

    def _limit_challenges(self, per: str, key: str) -> None:
        if self.limiter is None:
            return
        limit = CHALLENGE_LIMIT_PER_DEVICE if per == "device" else CHALLENGE_LIMIT_PER_NETWORK
        try:
            self.limiter.hit(limit, "challenge-" + per, key)
        except RateLimited as exc:
            raise ChallengesThrottled(retry_after=exc.retry_after, per=per) from exc

    def burn(self, nonce: str, now: datetime) -> Row[Any] | None:
        """Marks the nonce used; only the one caller that found it unused gets what the
        challenge was issued for (``RETURNING``: no second read of the row)."""
        if not isinstance(nonce, str) or not 0 < len(nonce) <= 64:
            return None
        row = self.db.execute(BURN_CHALLENGE, {"b_nonce": nonce, "now": now}).one_or_none()
        if row is not None:
            # A challenge object this session already holds sees the write too.
            held = self.db.identity_map.get(identity_key(DeviceChallenge, row.id))
            if held is not None:
                set_committed_value(held, "used_at", now)
        return row
