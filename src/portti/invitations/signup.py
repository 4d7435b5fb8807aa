"""The invitee's side of an invitation (INV-2, INV-5, APP-1, SEC-5): the sign-up code entered
in the app, the confirmation code that proves the phone (by SMS, or one an admin made), and the
invitation activated when the app is. The activation those steps belong to is
``portti.activation``'s; the invitation's states are in ``invitations/services.py``."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.errors import RateLimited
from portti.i18n import LazyText, _l, lazy_ngettext
from portti.infra.clock import Clock
from portti.infra.codes import clean_digits
from portti.infra.crypto import CodeHasher
from portti.infra.outbox import Outbox
from portti.infra.ratelimit import RateLimiter, client_network
from portti.invitations.errors import (
    ActivationUnknown,
    InvitationExpired,
    InvitationInvalid,
    SignupThrottled,
    SmsCodeExpired,
    SmsCodeLocked,
    SmsCodeWrong,
    SmsResendLimit,
    WrongInvitationState,
)
from portti.invitations.messages import confirmation_code_sms
from portti.invitations.models import CodeSource, ConfirmationCode, Invitation, InvitationStatus
from portti.invitations.services import ENDED_STATUSES, new_confirmation_code

log = structlog.get_logger(__name__)

SMS_CODE_VALIDITY = timedelta(minutes=10)
MAX_SMS_RESENDS = 2
MAX_WRONG_CONFIRMATION_CODES = 5
# Sign-up codes: 10^16 possibilities; these limits make guessing hopeless from any one network.
# There is deliberately no limit over all clients: outsiders could use it up and lock every
# invitee out (SEC-5). A high overall failure rate alerts the operators instead.
SIGNUP_LIMIT_PER_NETWORK = "10/minute;50/hour"
# Per entered code: one code cannot be hammered from many networks at once. Only someone who
# holds the code reaches its key, so outsiders cannot use up an invitee's allowance.
SIGNUP_LIMIT_PER_CODE = "5/minute;20/hour"
SIGNUP_FAILURE_ALERT_RATE = "300/minute"
SIGNUP_ALERT_EVERY = "1/minute"  # at most one alert row a minute while the rate stays high
CONFIRM_LIMIT_PER_CLIENT = "30/minute"


class SignupService:
    def __init__(
        self,
        db: Session,
        clock: Clock,
        audit: AuditLog,
        outbox: Outbox,
        *,
        secret: bytes,
        limiter: RateLimiter,
    ) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit
        self.outbox = outbox
        self.limiter = limiter
        self.signup_hasher = CodeHasher(secret, "signup-code")
        self.confirm_hasher = CodeHasher(secret, "confirmation-code")
        # A purpose of its own: the limiter's keys never equal a stored code hash.
        self.limit_hasher = CodeHasher(secret, "signup-code-limit")

    def _limit_signup(self, digits: str | None, client: str) -> None:
        """SEC-5: limits per client network and per entered code, none over all clients. The
        refusal tells the invitee what is happening and when to try again."""
        try:
            self.limiter.hit(SIGNUP_LIMIT_PER_NETWORK, "signup-network", client_network(client))
        except RateLimited as exc:
            raise SignupThrottled(retry_after=exc.retry_after, per="network") from exc
        if digits is not None:
            try:
                self.limiter.hit(
                    SIGNUP_LIMIT_PER_CODE, "signup-code", self.limit_hasher.hash(digits)
                )
            except RateLimited as exc:
                raise SignupThrottled(retry_after=exc.retry_after, per="code") from exc

    def _count_signup_failure(self) -> None:
        """The operators' alarm: every refused code counts over all clients; past
        ``SIGNUP_FAILURE_ALERT_RATE`` a warning is logged and an audit row written (at most one
        a minute). Nobody is refused because of it."""
        try:
            self.limiter.hit(SIGNUP_FAILURE_ALERT_RATE, "signup-failures-all")
        except RateLimited:
            log.warning("signup_code_failure_rate_high", threshold=SIGNUP_FAILURE_ALERT_RATE)
            try:
                self.limiter.hit(SIGNUP_ALERT_EVERY, "signup-failures-alert")
            except RateLimited:
                return
            self.audit.record(
                AuditAction.SIGNUP_FAILURE_RATE_HIGH, threshold=SIGNUP_FAILURE_ALERT_RATE
            )

    def claim_signup_code(self, code: str, *, client: str) -> Invitation:
        """The sign-up code entered in the app: the invitation is claimed (once: of two phones
        racing with one code, one wins), and the phone gets its confirmation code by SMS. One
        answer for every refusal: ``InvitationInvalid``."""
        digits = clean_digits(code, 16)
        self._limit_signup(digits, client)
        now = self.clock.now()
        inv = None
        code_hashes = self.signup_hasher.hashes(digits) if digits is not None else None
        if code_hashes is not None:
            inv = self.db.scalars(
                select(Invitation).where(Invitation.code_hash.in_(code_hashes))
            ).one_or_none()
        claimed = False
        if inv is not None and inv.effective_status(now) is InvitationStatus.SENT:
            # Compare and set: of two phones racing with one code, exactly one wins, on every
            # backend (SQLite has no row locks to lean on).
            result = self.db.execute(
                update(Invitation)
                .where(
                    Invitation.id == inv.id,
                    Invitation.status == InvitationStatus.SENT.value,
                    Invitation.code_hash == inv.code_hash,
                )
                .values(
                    status=InvitationStatus.CODE_ENTERED.value, code_entered_at=now, code_hash=None
                )
                .execution_options(synchronize_session=False)
            )
            claimed = result.rowcount == 1  # type: ignore[attr-defined]
        if inv is None or not claimed:
            self.audit.record(
                AuditAction.SIGNUP_CODE_REJECTED,
                company_id=inv.company_id if inv else None,
                subject_person_id=inv.person_id if inv else None,
            )
            self._count_signup_failure()
            raise InvitationInvalid()
        self.db.refresh(inv)
        self.audit.record(
            AuditAction.SIGNUP_CODE_ENTERED,
            company_id=inv.company_id,
            subject_person_id=inv.person_id,
            invitation_id=inv.id,
        )
        self._send_sms_code(inv, now)
        return inv

    def live(self, invitation_id: int) -> Invitation:
        """The invitation an activation goes on with, refused once it ended (SEC-2). Locked
        (PostgreSQL): a cancel racing this step waits for it, or this step sees it."""
        inv = self.db.scalars(
            select(Invitation)
            .where(Invitation.id == invitation_id)
            .with_for_update(of=Invitation)  # the inviter and company are joined eagerly
        ).one_or_none()
        if inv is None:
            raise ActivationUnknown()
        status = inv.effective_status(self.clock.now())
        if status in ENDED_STATUSES:
            raise InvitationExpired(status.value)
        return inv

    def require_status(self, inv: Invitation, statuses: frozenset[InvitationStatus]) -> None:
        status = inv.effective_status(self.clock.now())
        if status not in statuses:
            raise WrongInvitationState(
                _l("The activation is at another step (%(step)s).", step=status.value)
            )

    def _send_sms_code(self, inv: Invitation, now: datetime) -> None:

        for c in inv.codes:
            if c.source == CodeSource.SMS and c.revoked_at is None:
                c.revoked_at = now
        code = new_confirmation_code()
        self.db.add(
            ConfirmationCode(
                invitation=inv,
                source=CodeSource.SMS,
                code_hash=self.confirm_hasher.hash(code),
                created_at=now,
                expires_at=now + SMS_CODE_VALIDITY,
            )
        )
        self.outbox.sms(
            to=inv.phone,
            text=confirmation_code_sms(inv, code),
            kind="confirmation_code",
            company_id=inv.company_id,
            person_id=inv.person_id,
        )
        self.audit.record(
            AuditAction.CONFIRMATION_CODE_SENT,
            company_id=inv.company_id,
            subject_person_id=inv.person_id,
            invitation_id=inv.id,
        )

    def resend_sms_code(self, inv: Invitation) -> int:
        """“Resend code?”: at most ``MAX_SMS_RESENDS`` new codes; each replaces the last.
        Returns how many are left."""
        self.require_status(inv, frozenset({InvitationStatus.CODE_ENTERED}))
        if inv.sms_resends >= MAX_SMS_RESENDS:
            raise SmsResendLimit()
        inv.sms_resends += 1
        self._send_sms_code(inv, self.clock.now())
        return MAX_SMS_RESENDS - inv.sms_resends

    def limit_confirmations(self, client: str) -> None:
        """Confirmation codes tried from one client: limited before anything is looked up."""
        self.limiter.hit(CONFIRM_LIMIT_PER_CLIENT, "confirm", client)

    def confirm_phone(self, inv: Invitation, code: str) -> Invitation:
        """The 6-digit code from the SMS, or one the user administrator made (INV-6). Wrong
        codes are counted; the fifth wrong one revokes a code."""
        self.require_status(inv, frozenset({InvitationStatus.CODE_ENTERED}))
        now = self.clock.now()
        digits = clean_digits(code, 6)
        live = [c for c in inv.codes if c.used_at is None and c.revoked_at is None]
        match = None
        if digits is not None:
            match = next(
                (c for c in live if self.confirm_hasher.matches(digits, c.code_hash)), None
            )
        if match is not None and match.usable(now):
            match.used_at = now
            inv.status = InvitationStatus.PHONE_CONFIRMED
            inv.phone_confirmed_at = now
            for c in live:
                if c is not match:
                    c.revoked_at = now
            self.audit.record(
                AuditAction.PHONE_CONFIRMED,
                company_id=inv.company_id,
                subject_person_id=inv.person_id,
                invitation_id=inv.id,
                source=match.source,
            )
            return inv
        if match is not None:
            raise SmsCodeExpired()
        usable = [c for c in live if c.usable(now)]
        if not usable:
            raise SmsCodeExpired()
        locked = False
        for c in usable:
            c.failed_attempts += 1
            if c.failed_attempts >= MAX_WRONG_CONFIRMATION_CODES:
                c.revoked_at = now
                locked = True
        self.audit.record(
            AuditAction.CONFIRMATION_CODE_FAILED,
            company_id=inv.company_id,
            subject_person_id=inv.person_id,
            invitation_id=inv.id,
        )
        if locked and not any(c.usable(now) for c in usable):
            raise SmsCodeLocked()
        left = min(
            MAX_WRONG_CONFIRMATION_CODES - c.failed_attempts for c in usable if c.usable(now)
        )
        raise SmsCodeWrong(
            lazy_ngettext(
                "The confirmation code is wrong. %(num)d try left.",
                "The confirmation code is wrong. %(num)d tries left.",
                left,
            ),
            next_step=self._wrong_code_next_step(inv),
        )

    @staticmethod
    def _wrong_code_next_step(inv: Invitation) -> LazyText:
        """What the person can do after a wrong code: ask for a new one while they still may,
        then ask the one who invited them (who can make a confirmation code, UX-4)."""
        if inv.sms_resends < MAX_SMS_RESENDS:
            return _l("Check the 6 digits in the text message, or ask for a new code.")
        if inv.inviter_name:
            return _l(
                "Check the 6 digits in the text message. No more new codes can be sent: ask "
                "%(inviter)s, who invited you, for a confirmation code.",
                inviter=inv.inviter_name,
            )
        return _l(
            "Check the 6 digits in the text message. No more new codes can be sent: ask your "
            "company's user administrator for a confirmation code."
        )

    def mark_activated(self, inv: Invitation) -> None:
        now = self.clock.now()
        status = inv.effective_status(now)
        if status in ENDED_STATUSES:
            raise InvitationExpired(status.value)
        if status is not InvitationStatus.PHONE_CONFIRMED:
            raise WrongInvitationState(_l("The phone must be confirmed first."))
        # Compare and set: an invitation cancelled or replaced since it was read (SQLite has no
        # row locks) is not activated, and the device bound with it goes with the rollback.
        result = self.db.execute(
            update(Invitation)
            .where(
                Invitation.id == inv.id,
                Invitation.status == InvitationStatus.PHONE_CONFIRMED.value,
                Invitation.expires_at > now,
            )
            .values(status=InvitationStatus.ACTIVATED.value, activated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            self.db.refresh(inv)
            raise InvitationExpired(inv.effective_status(now).value)
        set_committed_value(inv, "status", InvitationStatus.ACTIVATED.value)
        set_committed_value(inv, "activated_at", now)
        self.audit.record(
            AuditAction.INVITATION_ACTIVATED,
            company_id=inv.company_id,
            subject_person_id=inv.person_id,
            invitation_id=inv.id,
        )
