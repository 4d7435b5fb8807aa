"""TOTP for accounts: the authenticator app's seed, sealed to its account, and its QR code."""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import Enum

import segno

TOTP_ISSUER = "Portti"
TOTP_INTERVAL = 30
TOTP_VALID_WINDOW = 1  # one step either side: a phone clock 30 s off still works


def standalone_svg(qr: segno.QRCode) -> str:
    """The QR code as a complete SVG document (with the SVG namespace): it is shown as an image
    (``<img src="data:image/svg+xml,…">``), where an SVG without ``xmlns`` does not render (UX-1),
    as well as inline. Dark on white, with the quiet zone."""
    out = io.BytesIO()
    qr.save(
        out,
        kind="svg",
        xmldecl=False,
        svgns=True,
        nl=False,
        scale=4,
        light="#fff",
        title="QR code for your authenticator app",
    )
    return out.getvalue().decode("utf-8")


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str
    otpauth_uri: str
    qr_svg: str


class TotpCheck(Enum):
    """What a code said: right (and its time step now used), wrong, or right but used before."""

    OK = "ok"
    WRONG = "wrong"
    REUSED = "reused"


def totp_context(account_id: int) -> str:
    """What a TOTP seed is sealed to: its account (``SecretBox`` associated data, SEC-25)."""
    return f"account:{account_id}"
