"""The short code to type when the camera cannot be used (WEB-1, SEC-13): shown only when the
person asks for it ("Type a code instead"), valid 30 seconds, stored as an HMAC, and its tries
limited per device."""

from __future__ import annotations

import math
import re
import secrets
from datetime import timedelta

from sqlalchemy import select

from portti.devices.models import Device
from portti.qrlogin.machine import LoginMachine
from portti.weblogin.errors import CodeExpired, CodeUnknown, LoginEnded
from portti.weblogin.models import LoginTransaction, LoginTransactionStatus

# Crockford base32: no I, L, O, U; typed codes read I/L as 1 and O as 0.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SHORT_CODE_LENGTH = 8
SHORT_CODE_TRIES = "10/minute"
# The code to type is shown only when the person asks for it ("Type a code instead"), and is
# valid this long: a code relayed by a phishing page soon stops working (SEC-13).
SHORT_CODE_LIFETIME = timedelta(seconds=30)
SHORT_CODE_ISSUES = "10/minute"


def new_short_code() -> str:
    return "".join(secrets.choice(CROCKFORD) for _ in range(SHORT_CODE_LENGTH))


def format_short_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def normalise_short_code(text: str) -> str | None:
    """What a person typed, as the code: case, spaces and dashes ignored; I/L read as 1, O as 0."""
    if not isinstance(text, str) or len(text) > 20:
        return None
    code = re.sub(r"[\s-]", "", text).upper().translate(str.maketrans("ILO", "110"))
    if len(code) != SHORT_CODE_LENGTH or any(c not in CROCKFORD for c in code):
        return None
    return code


class ShortCodes(LoginMachine):
    """The code's two ends: the page that shows it, and the app it is typed into."""

    def issue_short_code(self, tx: LoginTransaction) -> str:
        """ "Type a code instead" on the page: a fresh code for this transaction, valid for
        ``SHORT_CODE_LIFETIME`` (never past the transaction). It replaces the earlier one, which
        stops working at once."""
        if self.limiter is not None:
            self.limiter.hit(SHORT_CODE_ISSUES, "login-short-code-issue", tx.public_id)
        if self.effective_status(tx) != LoginTransactionStatus.PENDING:
            raise LoginEnded()
        now = self.clock.now()
        code = new_short_code()
        tx.short_code_hash = self.code_hasher.hash(code)
        tx.short_code_expires_at = min(now + SHORT_CODE_LIFETIME, tx.expires_at)
        self.db.flush()
        return code

    def short_code_seconds_left(self, tx: LoginTransaction) -> int:
        if tx.short_code_expires_at is None:
            return 0
        # Rounded up: a code just issued shows its full 30 seconds.
        return max(0, math.ceil((tx.short_code_expires_at - self.clock.now()).total_seconds()))

    def scan_code(self, device: Device, text: str) -> LoginTransaction:
        """The short code typed when the camera cannot be used: at most
        ``SHORT_CODE_LIFETIME`` old. An expired code gets its own answer (the person asks the
        page for a new one) and is audited: it is also what a relayed code looks like."""
        if self.limiter is not None:
            self.limiter.hit(SHORT_CODE_TRIES, "login-short-code", device.public_id)
        code = normalise_short_code(text)
        if code is None:
            raise CodeUnknown()
        tx = self.db.scalars(
            select(LoginTransaction).where(
                LoginTransaction.short_code_hash.in_(self.code_hasher.hashes(code))
            )
        ).one_or_none()
        if tx is None:
            raise CodeUnknown()
        if tx.short_code_expires_at is None or self.clock.now() >= tx.short_code_expires_at:
            # Older than the page shows codes for: typed late, or relayed (SEC-13).
            self._record_refusal(tx, device, "code_expired")
            raise CodeExpired()
        return self._claim(tx, device, via="code")
