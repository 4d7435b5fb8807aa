"""QR login (WEB-1, WEB-2) and step-up by the app (ADM-2): the login transaction's state machine,
its QR code that changes every second, the short code to type (shown on request, valid 30
seconds; SEC-13), and what the app is told about the browser that is asking.

One state machine::

    pending ──scan (app)──▶ scanned ──approve (PIN/biometrics + number)──▶ approved
       │                      │                                             │
       │                      └─ reject ("This wasn't me"), wrong number,   └─ complete (the
       │                         replaced by a newer one ──▶ rejected          browser that
       └──────────── 2 minutes ──▶ expired                                      showed it) ──▶
                                                                               completed
A step-up (``purpose = step_up``) is bound to a web session and its person from the start; that
person's app sees it as a pending approval ("push") and may approve it without scanning.

The QR content is ``portti1.<id>.<elapsed seconds>.<MAC>`` with
``MAC = HMAC-SHA256(k_tx, "<id>.<elapsed>")[:16 hex]`` and ``k_tx = HMAC(k, id)``, ``k`` derived
from the server secret (so nothing that makes frames is stored). The server accepts a frame only
while its second is at most ``FRAME_MAX_AGE_SECONDS`` old: a photo of the screen, or a frame
relayed to a victim, soon stops working (as Swedish BankID's animated QR).

The browser is bound by a random cookie set for this transaction only (its SHA-256 is stored):
only the browser that showed the code can turn an approval into a session.

Methods flush, never commit. Refusals that must leave a trace (a wrong number ends the
transaction, a failed completion is audited) write and then raise: routes commit on
``DomainError``, then call ``publish_changes`` so waiting browsers learn at once.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import math
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import segno
from sqlalchemy import Connection, CursorResult, Update, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog, RequestContext
from portti.db.base import table_of
from portti.devices.models import Device
from portti.errors import NotFound
from portti.infra.clock import Clock
from portti.infra.crypto import CodeHasher, derive_key
from portti.infra.events import EventBus
from portti.infra.ratelimit import RateLimiter
from portti.weblogin.errors import (
    AlreadyScanned,
    ApprovalNotYours,
    ApprovalPending,
    ApprovalUsed,
    BrowserMismatch,
    CodeExpired,
    CodeUnknown,
    LoginEnded,
    LoginExpired,
    NumberMismatch,
    QrInvalid,
    QrStale,
    StepUpMismatch,
)
from portti.weblogin.models import (
    OPEN_STATUSES,
    LoginPurpose,
    LoginTransaction,
    LoginTransactionStatus,
    WebSession,
)
from portti.weblogin.sessions import SessionService

Status = LoginTransactionStatus

LIFETIME = timedelta(minutes=2)
# After the app approves, the browser has this long to pick its session up (it does so at once;
# an approval near the end of the 2 minutes must still be usable).
COMPLETION_WINDOW = timedelta(seconds=60)
FRAME_MAX_AGE_SECONDS = 5
# A frame made by another instance whose clock is a little ahead is still fine.
FRAME_FUTURE_SECONDS = 1
PAYLOAD_VERSION = "portti1"
MAC_HEX_CHARS = 16
PAYLOAD_RE = re.compile(
    r"portti1\.(?P<id>[A-Za-z0-9_-]{16,32})\.(?P<elapsed>[0-9]{1,6})\.(?P<mac>[0-9a-f]{16})"
)
METHOD = "app_qr"
STEP_UP_METHOD = "app"
APPROVE_PURPOSE = "approve_login"  # the device challenge's purpose; its context is the id

# Crockford base32: no I, L, O, U; typed codes read I/L as 1 and O as 0.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SHORT_CODE_LENGTH = 8
SHORT_CODE_TRIES = "10/minute"
# The code to type is shown only when the person asks for it ("Type a code instead"), and is
# valid this long: a code relayed by a phishing page soon stops working (SEC-13).
SHORT_CODE_LIFETIME = timedelta(seconds=30)
SHORT_CODE_ISSUES = "10/minute"
ORIGIN_MAX_LENGTH = 200
START_LIMIT = "30/minute"

# segno picks the best of 8 masks by scoring each (~5 ms a frame); a fixed mask costs ~1.2 ms,
# and every waiting browser asks for a frame a second. A frame with a poor mask is replaced a
# second later anyway; the browser tests decode frames with zxing-cpp.
QR_MASK = 2
QR_LABEL = "QR code for logging in with the Portti app"

# How far each status is along the lifecycle: a browser never goes back to an earlier one.
RANK = {
    Status.PENDING: 0,
    Status.SCANNED: 1,
    Status.APPROVED: 2,
    Status.REJECTED: 3,
    Status.EXPIRED: 3,
    Status.COMPLETED: 3,
}
_RANK_OF_VALUE = {s.value: r for s, r in RANK.items()}


def channel_of(public_id: str) -> str:
    """The event-bus channel a transaction's browser listens on."""
    return "login:" + public_id


def binding_hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def elapsed_seconds(created_at: datetime, now: datetime) -> int:
    return max(0, int((now - created_at).total_seconds()))


# -- frames --------------------------------------------------------------------------------


class QrFrames:
    """Makes and checks the per-second QR payloads."""

    def __init__(self, secret: bytes) -> None:
        self._key = derive_key(secret, "login-qr-frames")

    def mac(self, public_id: str, elapsed: int) -> str:
        tx_key = hmac.new(self._key, public_id.encode(), hashlib.sha256).digest()
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
        return hmac.compare_digest(self.mac(public_id, elapsed), mac)


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


# -- the short code --------------------------------------------------------------------------


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


# -- what is asking ---------------------------------------------------------------------------

_BROWSERS = (
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("HeadlessChrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Windows", "Windows"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
)


@functools.lru_cache(maxsize=64)  # the base URL's, on every approval screen
def origin_of(url: str | None) -> str | None:
    """The serialized origin (``scheme://host[:port]``, lower case) of a URL or an ``Origin``
    header; None for anything else (``null``, a path, another scheme)."""
    if not isinstance(url, str) or not url or len(url) > ORIGIN_MAX_LENGTH:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def describe_browser(user_agent: str | None) -> str:
    """A rough "Firefox on Windows" from the User-Agent: enough for a person to recognise their
    own computer, not an identification."""
    ua = user_agent or ""
    browser = next((name for token, name in _BROWSERS if token in ua), None)
    system = next((name for token, name in _SYSTEMS if token in ua), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or (f"A browser on {system}" if system else "Unknown browser")


# -- the service ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrowserState:
    """What the waiting browser is told: by server push, and by the polling fallback."""

    status: str
    number: int | None
    reason: str | None
    expires_in: int

    def to_json(self) -> str:
        return json.dumps(
            {
                "status": self.status,
                "number": self.number,
                "reason": self.reason,
                "expires_in": self.expires_in,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> BrowserState | None:
        try:
            data = json.loads(text)
            status = str(data["status"])
            number = data.get("number")
            reason = data.get("reason")
            return cls(
                status=status,
                number=int(number) if number is not None else None,
                reason=str(reason) if reason is not None else None,
                expires_in=int(data.get("expires_in", 0)),
            )
        except (ValueError, KeyError, TypeError):
            return None

    @property
    def rank(self) -> int:
        return _RANK_OF_VALUE.get(self.status, 0)

    @property
    def final(self) -> bool:
        return self.status in {Status.APPROVED, Status.REJECTED, Status.EXPIRED, Status.COMPLETED}


class _StateColumns(Protocol):
    """What a browser's state is made of: a ``LoginTransaction`` or a row of these columns."""

    @property
    def status(self) -> str: ...
    @property
    def purpose(self) -> str: ...
    @property
    def number(self) -> int: ...
    @property
    def end_reason(self) -> str | None: ...
    @property
    def expires_at(self) -> datetime: ...


def effective_status(status: str, expires_at: datetime, now: datetime) -> Status:
    """The status, with time taken into account (expiry is written lazily)."""
    current = Status(status)
    if current in (*OPEN_STATUSES, Status.APPROVED) and now >= expires_at:
        return Status.EXPIRED
    return current


def browser_state_of(tx: _StateColumns, now: datetime) -> BrowserState:
    status = effective_status(tx.status, tx.expires_at, now)
    # The number appears once an app has read the code (for a step-up at once: only the
    # person's own app can answer it).
    shows_number = status == Status.SCANNED or (
        tx.purpose == LoginPurpose.STEP_UP and status == Status.PENDING
    )
    left = max(0, int((tx.expires_at - now).total_seconds()))
    return BrowserState(
        status=status.value,
        number=tx.number if shows_number else None,
        reason=tx.end_reason if status in {Status.REJECTED, Status.EXPIRED} else None,
        expires_in=left if status in OPEN_STATUSES else 0,
    )


_BROWSER_STATE = select(
    LoginTransaction.status,
    LoginTransaction.purpose,
    LoginTransaction.number,
    LoginTransaction.end_reason,
    LoginTransaction.expires_at,
    LoginTransaction.browser_binding_hash,
).where(LoginTransaction.public_id == bindparam("public_id"))


def read_browser_state(
    conn: Connection, public_id: str, cookie: str | None, now: datetime
) -> BrowserState | None:
    """One small read for the event stream's re-checks (no ORM, no keys): the state, or None
    for an unknown transaction or another browser."""
    if not isinstance(public_id, str) or not 0 < len(public_id) <= 32:
        return None
    row = conn.execute(_BROWSER_STATE, {"public_id": public_id}).one_or_none()
    if row is None or not cookie or len(cookie) > 100:
        return None
    if not hmac.compare_digest(binding_hash(cookie), row.browser_binding_hash):
        return None
    return browser_state_of(row, now)


@dataclass(frozen=True)
class Completion:
    transaction: LoginTransaction
    session_token: str  # a new web session: a login, or the rotated one after a step-up


# Statements the approval path runs, built once (building and keying a statement costs more
# than SQLite takes to run it).
_BY_PUBLIC_ID = select(LoginTransaction).where(LoginTransaction.public_id == bindparam("public_id"))


@functools.lru_cache(maxsize=32)
def _move_statement(from_statuses: tuple[str, ...], names: tuple[str, ...]) -> Update:
    """``UPDATE … SET status = :v_status, <name> = :v_<name> … WHERE id = :b_id AND status IN
    (<from_statuses>)``."""
    table = table_of(LoginTransaction)
    return (
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            or_(*(table.c.status == status for status in from_statuses)),
        )
        .values({name: bindparam("v_" + name) for name in ("status", *names)})
    )


class LoginTransactionService:
    def __init__(
        self,
        db: Session,
        clock: Clock,
        audit: AuditLog,
        *,
        secret: bytes,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit
        self.limiter = limiter
        self.frames = QrFrames(secret)
        self.code_hasher = CodeHasher(secret, "login-short-code")
        # Transactions changed by this request, for ``publish_changes`` after the commit.
        self.changed: list[LoginTransaction] = []

    # -- the browser's side ------------------------------------------------------------------

    def start(
        self,
        *,
        binding_cookie: str,
        ctx: RequestContext,
        browser_id: str,
        return_to: str = "/",
        step_up_of: WebSession | None = None,
        origin: str | None = None,
    ) -> LoginTransaction:
        """A new transaction for the browser that holds ``binding_cookie``, which is on the
        site ``origin`` (its ``Origin`` header; the app shows it). It has no code to type until
        the browser asks for one (``issue_short_code``). With ``step_up_of`` it is a step-up of
        that session, which only its person's app may approve."""
        if self.limiter is not None:
            self.limiter.hit(START_LIMIT, "login-qr-start", browser_id)
        now = self.clock.now()
        number = 10 + secrets.randbelow(90)
        others = secrets.SystemRandom().sample([n for n in range(10, 100) if n != number], 2)
        choices = sorted([number, *others])
        tx = LoginTransaction(
            public_id=secrets.token_urlsafe(16),
            purpose=LoginPurpose.STEP_UP if step_up_of else LoginPurpose.LOGIN,
            status=Status.PENDING,
            browser_binding_hash=binding_hash(binding_cookie),
            number=number,
            number_choices=",".join(str(n) for n in choices),
            web_session_id=step_up_of.id if step_up_of else None,
            return_to=return_to[:300],
            ip=ctx.ip,
            user_agent=(ctx.user_agent or "")[:300] or None,
            origin=origin_of(origin),
            created_at=now,
            expires_at=now + LIFETIME,
        )
        if step_up_of is not None:
            self._replace_open(step_up_of.person_id, now)
            tx.person_id = step_up_of.person_id
        self.db.add(tx)
        self._flush_claim()
        return tx

    def issue_short_code(self, tx: LoginTransaction) -> str:
        """ "Type a code instead" on the page: a fresh code for this transaction, valid for
        ``SHORT_CODE_LIFETIME`` (never past the transaction). It replaces the earlier one, which
        stops working at once."""
        if self.limiter is not None:
            self.limiter.hit(SHORT_CODE_ISSUES, "login-short-code-issue", tx.public_id)
        if self.effective_status(tx) != Status.PENDING:
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

    def get(self, public_id: str) -> LoginTransaction | None:
        if not isinstance(public_id, str) or not 0 < len(public_id) <= 32:
            return None
        return self.db.scalars(_BY_PUBLIC_ID, {"public_id": public_id}).one_or_none()

    @staticmethod
    def binding_matches(tx: LoginTransaction, cookie: str | None) -> bool:
        if not cookie or len(cookie) > 100:
            return False
        return hmac.compare_digest(binding_hash(cookie), tx.browser_binding_hash)

    def for_browser(self, public_id: str, cookie: str | None) -> LoginTransaction:
        """The transaction, for the browser that showed it only."""
        tx = self.get(public_id)
        if tx is None or not self.binding_matches(tx, cookie):
            raise NotFound("No such login.")
        return tx

    def effective_status(self, tx: LoginTransaction) -> Status:
        """The status, with time taken into account (expiry is written lazily)."""
        return effective_status(tx.status, tx.expires_at, self.clock.now())

    def browser_state(self, tx: LoginTransaction) -> BrowserState:
        return browser_state_of(tx, self.clock.now())

    def current_frame(self, tx: LoginTransaction) -> str:
        return self.frames.payload(tx.public_id, elapsed_seconds(tx.created_at, self.clock.now()))

    def complete(
        self,
        public_id: str,
        cookie: str | None,
        *,
        current: WebSession | None,
        sessions: SessionService,
        ctx: RequestContext,
    ) -> Completion:
        """The approved browser picks its result up: a fresh web session (login), or a recorded
        step-up of its session. Single use."""
        tx = self.get(public_id)
        if tx is None:
            raise NotFound("No such login.")
        if not self.binding_matches(tx, cookie):
            self.audit.record(
                AuditAction.STEP_UP_FAILED
                if tx.purpose == LoginPurpose.STEP_UP
                else AuditAction.LOGIN_FAILED,
                actor_person_id=current.person_id if current else None,
                subject_person_id=tx.person_id,
                method=METHOD,
                reason="browser_mismatch",
                approval=tx.public_id,
            )
            raise BrowserMismatch()
        status = self.effective_status(tx)
        if status == Status.COMPLETED:
            raise ApprovalUsed()
        if status == Status.EXPIRED:
            raise LoginExpired()
        if status == Status.REJECTED:
            raise LoginEnded()
        if status != Status.APPROVED or tx.person_id is None:
            raise ApprovalNotYours()
        if tx.purpose == LoginPurpose.STEP_UP and (
            current is None or current.id != tx.web_session_id or current.person_id != tx.person_id
        ):
            self.audit.record(
                AuditAction.STEP_UP_FAILED,
                actor_person_id=current.person_id if current else None,
                subject_person_id=tx.person_id,
                method=STEP_UP_METHOD,
                reason="session_mismatch",
                approval=tx.public_id,
            )
            raise StepUpMismatch()
        now = self.clock.now()
        if not self._move(tx, (Status.APPROVED,), Status.COMPLETED, completed_at=now):
            raise ApprovalUsed()
        if tx.purpose == LoginPurpose.STEP_UP:
            assert current is not None
            token, _ = sessions.record_step_up(current, STEP_UP_METHOD, device_id=tx.device_id)
            self.audit.record(
                AuditAction.STEP_UP_SUCCEEDED,
                actor_person_id=tx.person_id,
                subject_person_id=tx.person_id,
                method=STEP_UP_METHOD,
                approval=tx.public_id,
            )
        else:
            # A login by app approval is not a step-up: ADM-2 stays an explicit act.
            token, new_session = sessions.start(
                tx.person_id,
                method=METHOD,
                strong=False,
                ctx=ctx,
                replaces=current.id if current else None,
                approved_by_device_id=tx.device_id,
            )
            # Which device made this session: revoking the device ends the logins at business
            # applications made with it (OpenID back-channel logout).
            tx.web_session_id = new_session.id
            self.audit.record(
                AuditAction.LOGIN_SUCCEEDED,
                actor_person_id=tx.person_id,
                subject_person_id=tx.person_id,
                method=METHOD,
                approval=tx.public_id,
            )
        self.changed.append(tx)
        return Completion(transaction=tx, session_token=token)

    # -- the app's side ----------------------------------------------------------------------

    def scan(self, device: Device, payload: str) -> LoginTransaction:
        """ "Read QR code for web login": the frame must be genuine and fresh."""
        public_id, elapsed, mac = self.frames.parse(payload)
        tx = self.get(public_id)
        # Unknown id and wrong MAC get one answer; the MAC is checked even for an unknown id.
        genuine = self.frames.verify(public_id, elapsed, mac)
        if tx is None or not genuine:
            raise QrInvalid()
        age = elapsed_seconds(tx.created_at, self.clock.now()) - elapsed
        if age > FRAME_MAX_AGE_SECONDS or age < -FRAME_FUTURE_SECONDS:
            raise QrStale()
        return self._claim(tx, device, via="qr")

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
                LoginTransaction.short_code_hash == self.code_hasher.hash(code)
            )
        ).one_or_none()
        if tx is None:
            raise CodeUnknown()
        if tx.short_code_expires_at is None or self.clock.now() >= tx.short_code_expires_at:
            # Older than the page shows codes for: typed late, or relayed (SEC-13).
            self.audit.record(
                AuditAction.STEP_UP_FAILED
                if tx.purpose == LoginPurpose.STEP_UP
                else AuditAction.LOGIN_FAILED,
                actor_person_id=device.person_id,
                subject_person_id=device.person_id,
                method=METHOD,
                reason="code_expired",
                approval=tx.public_id,
                device=device.public_id,
            )
            raise CodeExpired()
        return self._claim(tx, device, via="code")

    def pending_for(self, device: Device) -> Sequence[LoginTransaction]:
        """What the person's app should show: step-ups waiting for them (push), and logins this
        device has read but not answered."""
        now = self.clock.now()
        rows = self.db.scalars(
            select(LoginTransaction)
            .where(
                LoginTransaction.person_id == device.person_id,
                LoginTransaction.status.in_([s.value for s in OPEN_STATUSES]),
                LoginTransaction.expires_at > now,
            )
            .order_by(LoginTransaction.created_at.desc())
        ).all()
        return [tx for tx in rows if self._device_may_answer(tx, device)]

    def for_device(self, device: Device, public_id: str) -> LoginTransaction:
        tx = self.get(public_id)
        if tx is None or not self._device_may_answer(tx, device):
            raise ApprovalNotYours()
        return tx

    def approve(
        self,
        device: Device,
        public_id: str,
        *,
        number: int,
        verify: Callable[[], object],
    ) -> LoginTransaction:
        """The person confirmed with PIN or biometrics and picked a number. ``verify`` is the
        device check (``DeviceService.verify`` for purpose ``approve_login``, context the
        approval id): it raises after writing, so the caller commits on ``DomainError``."""
        tx = self.for_device(device, public_id)
        self._require_open(tx)
        verify()
        if number != tx.number:
            self._end(tx, Status.REJECTED, "number_mismatch")
            self.audit.record(
                AuditAction.STEP_UP_FAILED
                if tx.purpose == LoginPurpose.STEP_UP
                else AuditAction.LOGIN_FAILED,
                actor_person_id=device.person_id,
                subject_person_id=device.person_id,
                method=METHOD,
                reason="number_mismatch",
                approval=tx.public_id,
                device=device.public_id,
            )
            raise NumberMismatch()
        now = self.clock.now()
        moved = self._move(
            tx,
            OPEN_STATUSES,
            Status.APPROVED,
            person_id=device.person_id,
            device_id=device.id,
            approved_at=now,
            expires_at=now + COMPLETION_WINDOW,
        )
        if not moved:
            raise ApprovalUsed()
        self.audit.record(
            AuditAction.LOGIN_APPROVED_IN_APP,
            actor_person_id=device.person_id,
            subject_person_id=device.person_id,
            approval=tx.public_id,
            purpose=tx.purpose,
            device=device.public_id,
            browser=describe_browser(tx.user_agent),
        )
        self.changed.append(tx)
        return tx

    def reject(self, device: Device, public_id: str) -> LoginTransaction:
        """ "This wasn't me": the transaction ends and the browser says the login was refused."""
        tx = self.for_device(device, public_id)
        if tx.status == Status.REJECTED:
            return tx
        self._require_open(tx)
        self._end(tx, Status.REJECTED, "not_me")
        self.audit.record(
            AuditAction.LOGIN_REJECTED_IN_APP,
            actor_person_id=device.person_id,
            subject_person_id=device.person_id,
            approval=tx.public_id,
            purpose=tx.purpose,
            device=device.public_id,
            browser=describe_browser(tx.user_agent),
            ip=tx.ip,
        )
        return tx

    def choices(self, tx: LoginTransaction) -> list[int]:
        return [int(n) for n in tx.number_choices.split(",")]

    # -- after the commit --------------------------------------------------------------------

    def publish_changes(self, bus: EventBus) -> None:
        """Tells the waiting browsers; call after the commit (never before: a browser that
        hears "approved" must find it in the database)."""
        seen: set[str] = set()
        for tx in self.changed:
            if tx.public_id in seen:
                continue
            seen.add(tx.public_id)
            bus.publish_threadsafe(channel_of(tx.public_id), self.browser_state(tx).to_json())
        self.changed.clear()

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _device_may_answer(tx: LoginTransaction, device: Device) -> bool:
        if tx.purpose == LoginPurpose.STEP_UP:
            return tx.person_id == device.person_id and tx.device_id in (None, device.id)
        return tx.device_id == device.id and tx.person_id == device.person_id

    def _require_open(self, tx: LoginTransaction) -> None:
        status = Status(tx.status)
        if status in OPEN_STATUSES and self.clock.now() >= tx.expires_at:
            self._end(tx, Status.EXPIRED, "expired")
            raise LoginExpired()
        if status in {Status.APPROVED, Status.COMPLETED}:
            raise ApprovalUsed()
        if status == Status.EXPIRED:
            raise LoginExpired()
        if status == Status.REJECTED:
            raise LoginEnded()

    def _claim(self, tx: LoginTransaction, device: Device, *, via: str) -> LoginTransaction:
        if tx.status == Status.SCANNED and tx.device_id == device.id:
            if self.clock.now() >= tx.expires_at:
                self._end(tx, Status.EXPIRED, "expired")
                raise LoginExpired()
            return tx  # the app asked again (a retry): the same answer
        if tx.status == Status.SCANNED:
            raise AlreadyScanned()
        self._require_open(tx)
        if tx.purpose == LoginPurpose.STEP_UP and tx.person_id != device.person_id:
            # Someone else's step-up code: not theirs to answer, and no hint whose it is.
            raise ApprovalNotYours()
        now = self.clock.now()
        self._replace_open(device.person_id, now, keep=tx)
        tx.status = Status.SCANNED
        tx.person_id = device.person_id
        tx.device_id = device.id
        tx.scanned_at = now
        self._flush_claim()
        self.audit.record(
            AuditAction.LOGIN_QR_SCANNED,
            actor_person_id=device.person_id,
            subject_person_id=device.person_id,
            approval=tx.public_id,
            purpose=tx.purpose,
            device=device.public_id,
            via=via,
            origin=tx.origin,
        )
        self.changed.append(tx)
        return tx

    def _replace_open(
        self, person_id: int, now: datetime, keep: LoginTransaction | None = None
    ) -> None:
        """A person has one approval waiting at a time: a newer one ends the older."""
        q = select(LoginTransaction).where(
            LoginTransaction.person_id == person_id,
            LoginTransaction.status.in_([s.value for s in OPEN_STATUSES]),
        )
        if keep is not None and keep.id is not None:
            q = q.where(LoginTransaction.id != keep.id)
        for old in self.db.scalars(q):
            if now >= old.expires_at:
                self._end(old, Status.EXPIRED, "expired")
            else:
                self._end(old, Status.REJECTED, "replaced")
        # The old rows must leave the open set before the new one enters it (unique index).
        self.db.flush()

    def _flush_claim(self) -> None:
        try:
            self.db.flush()
        except IntegrityError as exc:
            # Two claims for one person raced (PostgreSQL); the other one won. Nothing of this
            # request is worth keeping.
            self.db.rollback()
            self.changed.clear()
            raise ApprovalPending() from exc

    def _end(self, tx: LoginTransaction, status: Status, reason: str) -> None:
        tx.status = status
        tx.ended_at = self.clock.now()
        tx.end_reason = reason
        self.changed.append(tx)

    def _move(
        self,
        tx: LoginTransaction,
        from_statuses: Sequence[Status],
        to: Status,
        **values: Any,
    ) -> bool:
        """A conditional UPDATE: of two requests racing, exactly one moves the transaction."""
        statement = _move_statement(tuple(s.value for s in from_statuses), tuple(sorted(values)))
        params = {"b_id": tx.id, "v_status": to.value}
        params |= {"v_" + name: value for name, value in values.items()}
        result = cast("CursorResult[Any]", self.db.execute(statement, params))
        if result.rowcount != 1:
            return False
        # What the UPDATE wrote, without reading the row back.
        for key, value in {"status": to.value, **values}.items():
            set_committed_value(tx, key, value)
        return True
