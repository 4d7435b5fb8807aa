"""Devices (APP-4 … APP-8): ``DeviceService``, the one service the routes call, made of one
module per concern over the shared lifecycle:

- ``lifecycle``: the device state machine, reading and refusing devices, ending one;
- ``binding``: binding an app installation, and the new-device notice (``devices/notices.py``);
- ``challenges``: the nonces a device signs, and their limits (SEC-9);
- ``pins``: the PIN policy, its verifier, and how tries are counted (before they are checked);
- ``approval``: ``verify``, the one check every approval goes through;
- ``app_sessions``: unlock, the app session, lock;
- ``revocation``: log out, log out everywhere, revoke, "This wasn't me".

The statements they run on every approval are in ``devices.queries``.
"""

from __future__ import annotations

from portti.devices.binding import DeviceBinding
from portti.devices.revocation import DeviceRevocation


class DeviceService(DeviceBinding, DeviceRevocation):
    """Binding, approvals, the app session and ending devices; see the modules above."""
