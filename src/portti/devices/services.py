"""Devices (APP-4 … APP-8): one part per concern, each built with only what it uses; a part that
needs another receives it:

- ``lifecycle``: the device state machine, reading and refusing devices, ending one;
- ``challenges``: the nonces a device signs, and their limits (SEC-9);
- ``pins``: the PIN policy, its verifier, and how tries are counted (before they are checked);
- ``approval``: ``verify``, the one check every approval goes through (a nonce, then a PIN);
- ``app_sessions``: unlock, the app session, lock;
- ``binding``: binding an app installation, and the new-device notice (``devices/notices.py``);
- ``revocation``: log out, log out everywhere, revoke, "This wasn't me".

``DeviceService`` builds the parts over one database session; each route takes the part it
needs (``devices/deps.py``). The statements they run on every approval are in
``devices.queries``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from jinja2 import Environment
from sqlalchemy.orm import Session

from portti.audit.services import AuditLog
from portti.devices.app_sessions import AppSessions
from portti.devices.approval import DeviceApprovals
from portti.devices.binding import DeviceBinding
from portti.devices.challenges import DeviceChallenges
from portti.devices.lifecycle import PIN_MIN_LENGTH, DeviceLifecycle
from portti.devices.notices import DeviceNotices
from portti.devices.pins import PinTries
from portti.devices.revocation import DeviceRevocation
from portti.infra.clock import Clock
from portti.infra.outbox import Outbox
from portti.infra.ratelimit import RateLimiter


@dataclass(frozen=True, slots=True)
class DeviceService:
    """The parts of the device service over one database session."""

    lifecycle: DeviceLifecycle
    challenges: DeviceChallenges
    pins: PinTries
    approvals: DeviceApprovals
    sessions: AppSessions
    binding: DeviceBinding
    revocation: DeviceRevocation
    notices: DeviceNotices

    @classmethod
    def build(
        cls,
        db: Session,
        clock: Clock,
        audit: AuditLog,
        outbox: Outbox,
        *,
        secret: bytes,
        pin_hasher: PasswordHasher,
        jinja: Environment,
        base_url: str,
        session_idle: timedelta = timedelta(minutes=15),
        pin_lengths: tuple[int, int] = (PIN_MIN_LENGTH, PIN_MIN_LENGTH),
        limiter: RateLimiter | None = None,
    ) -> DeviceService:
        lifecycle = DeviceLifecycle(db, clock, audit)
        challenges = DeviceChallenges(lifecycle, limiter=limiter)
        pins = PinTries(lifecycle, secret=secret, pin_hasher=pin_hasher, pin_lengths=pin_lengths)
        approvals = DeviceApprovals(lifecycle, challenges, pins, base_url=base_url)
        sessions = AppSessions(lifecycle, approvals, secret=secret, session_idle=session_idle)
        notices = DeviceNotices(db, outbox, jinja, base_url=base_url)
        return cls(
            lifecycle=lifecycle,
            challenges=challenges,
            pins=pins,
            approvals=approvals,
            sessions=sessions,
            binding=DeviceBinding(lifecycle, pins, notices, secret=secret),
            revocation=DeviceRevocation(lifecycle, sessions, secret=secret),
            notices=notices,
        )
