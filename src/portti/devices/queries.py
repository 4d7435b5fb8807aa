"""The statements every device approval runs, built once, on the tables (no unit of work: plain
statements cost a third of an ORM flush)."""

from __future__ import annotations

from sqlalchemy import bindparam, or_, select, update

from portti.db.base import table_of
from portti.devices.models import AppSession, Device, DeviceChallenge

_challenges = table_of(DeviceChallenge).c
_devices = table_of(Device).c

# Spends a nonce: only the one caller that found it unused gets what it was issued for.
BURN_CHALLENGE = (
    update(table_of(DeviceChallenge))
    .where(_challenges.nonce == bindparam("b_nonce"), _challenges.used_at.is_(None))
    .values(used_at=bindparam("now"))
    .returning(
        _challenges.id,
        _challenges.device_id,
        _challenges.purpose,
        _challenges.context,
        _challenges.expires_at,
    )
)
SESSION_WITH_DEVICE = (
    select(AppSession, Device)
    .join(Device, Device.id == AppSession.device_id)
    .where(AppSession.token_hash == bindparam("token_hash"))
)
DEVICE = select(Device).where(Device.public_id == bindparam("public_id"))
DEVICE_FRESH = DEVICE.execution_options(populate_existing=True)
DEVICE_LOCKED = DEVICE_FRESH.with_for_update()
# An approval by biometrics uses the device, while it is still active.
DEVICE_USED = (
    update(table_of(Device))
    .where(_devices.id == bindparam("b_id"), _devices.status == bindparam("active"))
    .values(last_used_at=bindparam("now"))
)
# Counting a PIN try before checking it: a compare-and-set on the count the try was decided on
# (and on no pause running), so of two tries that read the same count only one moves it; the
# other reads the device again and is decided afresh.
RESERVE_PIN_TRY = (
    update(table_of(Device))
    .where(
        _devices.id == bindparam("b_id"),
        _devices.status == bindparam("active"),
        _devices.pin_failures == bindparam("b_seen"),
        or_(_devices.pin_blocked_until.is_(None), _devices.pin_blocked_until <= bindparam("now")),
    )
    .values(pin_failures=bindparam("b_counted"), pin_blocked_until=bindparam("b_blocked"))
)
# The right PIN: the count starts again, the device is used (only while it is still active).
PIN_RIGHT = (
    update(table_of(Device))
    .where(_devices.id == bindparam("b_id"), _devices.status == bindparam("active"))
    .values(pin_failures=0, pin_blocked_until=None, last_used_at=bindparam("now"))
)
PIN_RIGHT_REHASHED = PIN_RIGHT.values(pin_hash=bindparam("b_hash"))
