"""Step-up freshness (ADM-2, SEC-6): changing users and applications needs a strong
authentication made within the window (``Settings.step_up_window``). The one rule; services
check it, pages show how long it lasts."""

from __future__ import annotations

from datetime import datetime, timedelta


def step_up_expires_at(strong_auth_at: datetime | None, window: timedelta) -> datetime | None:
    return strong_auth_at + window if strong_auth_at is not None else None


def is_stepped_up(strong_auth_at: datetime | None, now: datetime, window: timedelta) -> bool:
    """Fresh up to and including the window's last instant."""
    return strong_auth_at is not None and now - strong_auth_at <= window
