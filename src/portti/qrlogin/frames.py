"""The QR code that changes every second (WEB-1): its payload, the payload's MAC, and the SVG.

The QR content is ``portti1.<id>.<elapsed seconds>.<MAC>`` with
``MAC = HMAC-SHA256(k_tx, "<id>.<elapsed>")[:16 hex]`` and ``k_tx = HMAC(k, id)``, ``k`` derived
from the server secret (so nothing that makes frames is stored). The server accepts a frame only
while its second is at most ``FRAME_MAX_AGE_SECONDS`` old: a photo of the screen, or a frame
relayed to a victim, soon stops working (as Swedish BankID's animated QR).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime

import segno

from portti.infra.crypto import derive_keys
from portti.weblogin.errors import QrInvalid

FRAME_MAX_AGE_SECONDS = 5
# A frame made by another instance whose clock is a little ahead is still fine.
FRAME_FUTURE_SECONDS = 1
PAYLOAD_VERSION = "portti1"
MAC_HEX_CHARS = 16
PAYLOAD_RE = re.compile(
    r"portti1\.(?P<id>[A-Za-z0-9_-]{16,32})\.(?P<elapsed>[0-9]{1,6})\.(?P<mac>[0-9a-f]{16})"
)

# segno picks the best of 8 masks by scoring each (~5 ms a frame); a fixed mask costs ~1.2 ms,
# and every waiting browser asks for a frame a second. A frame with a poor mask is replaced a
# second later anyway; the browser tests decode frames with zxing-cpp.
QR_MASK = 2
QR_LABEL = "QR code for logging in with the Portti app"


def elapsed_seconds(created_at: datetime, now: datetime) -> int:
    return max(0, int((now - created_at).total_seconds()))


class QrFrames:
    """Makes and checks the per-second QR payloads."""

    def __init__(self, secret: bytes) -> None:
        # Frames are made under the current secret; one shown before a rotation still scans.
        self._keys = derive_keys(secret, "login-qr-frames")

    def mac(self, public_id: str, elapsed: int, key: bytes | None = None) -> str:
        tx_key = hmac.new(key or self._keys[0], public_id.encode(), hashlib.sha256).digest()
        message = f"{public_id}.{elapsed}".encode()
        return hmac.new(tx_key, message, hashlib.sha256).hexdigest()[:MAC_HEX_CHARS]

    def payload(self, public_id: str, elapsed: int) -> str:
        return f"{PAYLOAD_VERSION}.{public_id}.{elapsed}.{self.mac(public_id, elapsed)}"

    @staticmethod
    def parse(payload: str) -> tuple[str, int, str]:
        m = PAYLOAD_RE.fullmatch(payload.strip()) if isinstance(payload, str) else None
        if m is None:
            raise QrInvalid()
        return m["id"], int(m["elapsed"]), m["mac"]

    def verify(self, public_id: str, elapsed: int, mac: str) -> bool:
        ok = False
        for key in self._keys:
            ok |= hmac.compare_digest(self.mac(public_id, elapsed, key), mac)
        return ok


def render_qr_svg(payload: str) -> str:
    """Inline SVG (no XML declaration, no size: CSS sizes it) with a title and an ARIA label."""
    qr = segno.make_qr(payload, error="m", mask=QR_MASK)
    svg: str = qr.svg_inline(
        scale=1,
        border=4,
        dark="#000",
        light="#fff",
        title=QR_LABEL,
        svgclass="qr-code",
        lineclass=None,
        omitsize=True,
    )
    return svg.replace("<svg ", f'<svg role="img" aria-label="{QR_LABEL}" ', 1)
