"""Server-side browser sessions, and the QR login transactions that can start them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portti.db.base import Model, UtcDateTime
from portti.people.models import Person


class WebSession(Model):
    """One logged-in browser. The cookie holds a random token; only its hash is stored."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256(token) hex
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)  # absolute limit
    login_method: Mapped[str] = mapped_column(String(40))
    # What the identity provider said of the login (OIDC-5): its level of assurance (``acr``,
    # e.g. FTN loa3) and methods (``amr``), passed on to business applications.
    login_acr: Mapped[str | None] = mapped_column(String(100))
    login_amr: Mapped[list[str] | None] = mapped_column(JSON)
    strong_auth_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    strong_auth_method: Mapped[str | None] = mapped_column(String(40))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The device whose approval started this session (QR login): "This wasn't me" for that
    # device ends the session too (SEC-4). Step-ups a device approved are found through their
    # login transactions (``web_session_id``, ``device_id``).
    approved_by_device_id: Mapped[int | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), index=True
    )

    # The companies this login may enter (SEC-14): a login approved in the app carries only the
    # companies its device was activated for; None for a bank-ID or ID-card login, which may
    # enter every company the person's rights reach. A step-up keeps it.
    company_scope: Mapped[list[int] | None] = mapped_column(JSON)

    person: Mapped[Person] = relationship(lazy="joined")


class LoginTransactionStatus(StrEnum):
    PENDING = "pending"  # the browser shows the QR code (or, for a step-up, waits for the app)
    SCANNED = "scanned"  # a device has read it; the browser shows the number to pick
    APPROVED = "approved"  # the device approved with PIN or biometrics
    REJECTED = "rejected"  # "This wasn't me", the wrong number, or replaced by a newer one
    EXPIRED = "expired"
    COMPLETED = "completed"  # the browser that showed the code has its session: used up


OPEN_STATUSES = (LoginTransactionStatus.PENDING, LoginTransactionStatus.SCANNED)


class LoginPurpose(StrEnum):
    LOGIN = "login"
    STEP_UP = "step_up"  # ADM-2: a fresh strong authentication of a logged-in person


class LoginTransaction(Model):
    """One "log in with the app" attempt, from the QR code on a browser to a web session.

    The QR code's per-second MAC key is derived from the server secret and the public id, so it
    is never stored; the short code to type (asked for by the browser, 30 seconds) is stored as
    a keyed hash; the browser is bound by the hash of a random cookie that only it holds.
    """

    __tablename__ = "login_transactions"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'scanned', 'approved', 'rejected', 'expired', 'completed')",
            name="status",
        ),
        CheckConstraint("purpose IN ('login', 'step_up')", name="purpose"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    purpose: Mapped[str] = mapped_column(String(10), default=LoginPurpose.LOGIN.value)
    status: Mapped[str] = mapped_column(String(10), default=LoginTransactionStatus.PENDING.value)
    browser_binding_hash: Mapped[str] = mapped_column(String(64))  # sha256(cookie) hex
    # The code to type instead of scanning: none until the browser asks for one, then valid
    # for 30 seconds (SEC-13); a new one replaces it. A keyed hash.
    short_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    short_code_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    number: Mapped[int]  # 10…99, shown by the browser, picked in the app
    number_choices: Mapped[str] = mapped_column(String(20))  # e.g. "17,42,86"
    web_session_id: Mapped[str | None] = mapped_column(
        ForeignKey("web_sessions.id", ondelete="CASCADE")
    )
    # Set when a device scans (login) or from the start (step-up: only this person may approve).
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    return_to: Mapped[str] = mapped_column(String(300), default="/")
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    # The site the browser was on when it asked (its Origin header): the app shows it, and
    # flags one that is not this service's (a phishing site relaying the login).
    origin: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    scanned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(40))


# A person has at most one approval waiting in the app (the database holds to it when two
# requests race); a newer one replaces the older.
Index(
    "uq_login_transactions_open_person",
    LoginTransaction.person_id,
    unique=True,
    sqlite_where=text("status IN ('pending', 'scanned')"),
    postgresql_where=text("status IN ('pending', 'scanned')"),
)
