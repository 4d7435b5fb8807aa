"""The invitation lifecycle (INV-1 … INV-6), one state machine:

    sent ──code entered──▶ code_entered ──phone confirmed──▶ phone_confirmed ──▶ activated
      │                        │                                  │
      └──────────── cancelled / superseded / (expired: derived from expires_at) ─┘

Every transition checks the current state and writes an audit event in the same transaction;
every message goes through the outbox in that transaction too (INV-7).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from jinja2 import Environment
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog, MachineActor
from portti.companies.actors import Actor, machine_grant, require_person_rights
from portti.companies.catalogue import SUPPORT
from portti.companies.errors import CompanyClosed, PersonNeedsSupport
from portti.companies.models import Membership
from portti.companies.policy import AdminGrant, AdminPolicy, is_stepped_up, local_today
from portti.devices.activation import ActivationService
from portti.devices.models import Activation
from portti.errors import DomainError, NotFound, RateLimited, StepUpRequired, ValidationFailed
from portti.i18n import LazyText, _l, lazy_ngettext, supported
from portti.infra import metrics
from portti.infra.clock import Clock
from portti.infra.codes import clean_digits, random_digits
from portti.infra.crypto import CodeHasher
from portti.infra.outbox import Outbox
from portti.infra.ratelimit import RateLimiter, client_network
from portti.invitations.errors import (
    ActivationUnknown,
    InvitationExpired,
    InvitationInvalid,
    InviteeNotValid,
    ReinviteNeedsSupport,
    SignupThrottled,
    SmsCodeExpired,
    SmsCodeLocked,
    SmsCodeWrong,
    SmsResendLimit,
    WrongInvitationState,
)
from portti.invitations.models import (
    LIVE_STATUSES,
    CodeSource,
    ConfirmationCode,
    Invitation,
    InvitationStatus,
)
from portti.people.phones import format_phone

log = structlog.get_logger(__name__)

INVITATION_VALIDITY = timedelta(hours=24)
SMS_CODE_VALIDITY = timedelta(minutes=10)
ADMIN_CODE_VALIDITY = timedelta(hours=12)
MAX_SMS_RESENDS = 2
MAX_WRONG_CONFIRMATION_CODES = 5
# Sign-up codes: 10^16 possibilities; these limits make guessing hopeless from any one network.
# There is deliberately no limit over all clients: outsiders could use it up and lock every
# invitee out (SEC-5). A high overall failure rate alerts the operators instead.
ENDED_STATUSES = frozenset(
    {InvitationStatus.CANCELLED, InvitationStatus.SUPERSEDED, InvitationStatus.EXPIRED}
)
SIGNUP_LIMIT_PER_NETWORK = "10/minute;50/hour"
# Per entered code: one code cannot be hammered from many networks at once. Only someone who
# holds the code reaches its key, so outsiders cannot use up an invitee's allowance.
SIGNUP_LIMIT_PER_CODE = "5/minute;20/hour"
SIGNUP_FAILURE_ALERT_RATE = "300/minute"
SIGNUP_ALERT_EVERY = "1/minute"  # at most one alert row a minute while the rate stays high
CONFIRM_LIMIT_PER_CLIENT = "30/minute"


def new_signup_code() -> str:
    return random_digits(16)


def new_confirmation_code() -> str:
    return random_digits(6)


def group_code(code: str) -> str:
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def mask_phone(e164: str) -> str:
    shown = format_phone(e164)
    digits_seen = 0
    out = []
    # Keep the country code and the last two digits: enough to recognise one's own number.
    total_digits = sum(ch.isdigit() for ch in shown)
    for ch in shown:
        if ch.isdigit():
            digits_seen += 1
            keep = digits_seen <= 3 or digits_seen > total_digits - 2
            out.append(ch if keep else "•")
        else:
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class Redeemed:
    invitation: Invitation
    activation_token: str
    phone_hint: str


@dataclass(frozen=True)
class Step:
    name: str
    label: str
    at: datetime | None
    done: bool


def cancel_company_invitations(
    db: Session, audit: AuditLog, now: datetime, company_id: int, machine: MachineActor | None
) -> int:
    """A closed company's live invitations end (PRV-2): their codes stop working."""
    count = 0
    for inv in db.scalars(
        select(Invitation).where(
            Invitation.company_id == company_id,
            Invitation.status.in_([s.value for s in LIVE_STATUSES]),
        )
    ):
        inv.status = InvitationStatus.CANCELLED
        inv.ended_at = now
        inv.code_hash = None
        for c in inv.codes:
            c.revoked_at = c.revoked_at or now
        audit.record(
            AuditAction.INVITATION_CANCELLED,
            company_id=company_id,
            machine=machine,
            subject_person_id=inv.person_id,
            invitation_id=inv.id,
            reason="company_closed",
        )
        count += 1
    return count


def cancel_after_contact_change(
    db: Session,
    audit: AuditLog,
    now: datetime,
    person_id: int,
    *,
    actor_person_id: int | None,
    machine: MachineActor | None = None,
) -> list[Invitation]:
    """SEC-3: an invitation belongs to the e-mail address and phone number it was sent to.
    When either changes, every open invitation of the person, in every company, ends: the
    sign-up code, the SMS codes and any admin-issued code stop working, and an activation
    under way stops at its next step."""
    ended = []
    for inv in db.scalars(
        select(Invitation)
        .where(
            Invitation.person_id == person_id,
            Invitation.status.in_([s.value for s in LIVE_STATUSES]),
        )
        .order_by(Invitation.id)
    ):
        if inv.effective_status(now) not in LIVE_STATUSES:
            continue  # expired already: nothing left to end
        inv.status = InvitationStatus.CANCELLED
        inv.ended_at = now
        inv.ended_by_person_id = actor_person_id
        inv.code_hash = None
        for c in inv.codes:
            c.revoked_at = c.revoked_at or now
        audit.record(
            AuditAction.INVITATION_CANCELLED,
            company_id=inv.company_id,
            actor_person_id=actor_person_id,
            machine=machine,
            subject_person_id=person_id,
            invitation_id=inv.id,
            reason="contact_changed",
        )
        ended.append(inv)
    return ended


class InvitationService:
    def __init__(
        self,
        db: Session,
        clock: Clock,
        audit: AuditLog,
        outbox: Outbox,
        *,
        secret: bytes,
        limiter: RateLimiter,
        jinja: Environment,
        step_up_window: timedelta = timedelta(minutes=15),
    ) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit
        self.outbox = outbox
        self.limiter = limiter
        self.jinja = jinja
        self.step_up_window = step_up_window
        self.policy = AdminPolicy(db, clock)
        self.signup_hasher = CodeHasher(secret, "signup-code")
        self.token_hasher = CodeHasher(secret, "activation-token")
        self.activations = ActivationService(db, clock, secret)
        self.confirm_hasher = CodeHasher(secret, "confirmation-code")
        # A purpose of its own: the limiter's keys never equal a stored code hash.
        self.limit_hasher = CodeHasher(secret, "signup-code-limit")

    # -- admin side ---------------------------------------------------------------------

    def _membership(
        self, actor: Actor, company_id: int, membership_id: int, *, change: bool = True
    ) -> tuple[Membership, AdminGrant]:
        if actor.machine is not None:
            # Business software naming a company's first user administrator (PRV-2): its
            # registration decides, and step-up is a person's.
            company, grant = machine_grant(self.db, actor.machine, company_id, self.audit)
            change = False
        else:
            company, grant = self.policy.require_admin(actor.acting_person_id, company_id)
        if change and company.closed_at is not None:
            raise CompanyClosed()
        if change:
            now = self.clock.now()
            if not is_stepped_up(actor.strong_auth_at, now, self.step_up_window):
                raise StepUpRequired()
        m = self.db.scalars(
            select(Membership).where(
                Membership.id == membership_id, Membership.company_id == company.id
            )
        ).one_or_none()
        if m is None:
            raise NotFound(_l("No such user in this company."))
        return m, grant

    def latest(self, company_id: int, person_id: int) -> Invitation | None:
        return self.db.scalars(
            select(Invitation)
            .where(Invitation.company_id == company_id, Invitation.person_id == person_id)
            .order_by(Invitation.id.desc())
            .limit(1)
        ).one_or_none()

    def latest_anywhere(self, person_id: int) -> Invitation | None:
        """The person's latest invitation in any company: invitations are the person's."""
        return self.db.scalars(
            select(Invitation)
            .where(Invitation.person_id == person_id)
            .order_by(Invitation.id.desc())
            .limit(1)
        ).one_or_none()

    def for_admin(
        self, actor: Actor, company_id: int, membership_id: int
    ) -> tuple[Membership, Invitation | None]:
        m, _ = self._membership(actor, company_id, membership_id, change=False)
        return m, self.latest(company_id, m.person_id)

    def reinvite_blocked(self, m: Membership, via: str) -> bool:
        """INV-4: after the contact details changed, only Support may invite again. The last
        invitation in any company counts: another company's KH must not get round the rule."""
        previous = self.latest_anywhere(m.person_id)
        return (
            previous is not None
            and previous.contact_version != m.person.contact_version
            and via != SUPPORT
        )

    def invite_blocker(self, actor: Actor, m: Membership, grant: AdminGrant) -> DomainError | None:
        """Why this admin may not invite this member now, if they may not (for the page)."""
        if not self.policy.may_manage_person(actor.acting_person_id, m.person_id):
            return PersonNeedsSupport()
        if not m.is_valid_on(local_today(m.company, self.clock.now())):
            return InviteeNotValid()
        if self.reinvite_blocked(m, grant.via):
            return ReinviteNeedsSupport()
        return None

    def invite(
        self,
        actor: Actor,
        company_id: int,
        membership_id: int,
        *,
        identity_verified: bool,
        language: str | None = None,
    ) -> Invitation:
        """``language``: of the e-mail and SMS to the invitee (fi, sv, en); English if None."""
        m, grant = self._membership(actor, company_id, membership_id)
        via = grant.via
        person = m.person
        # SEC-1: an invitation gives the app login of the person, in every company their rights
        # reach: only an admin of all of those (or Support) may send one ...
        require_person_rights(self.policy, self.audit, actor, m.company, person.id, "invite")
        # ... and only while the rights it is for are valid (not ended, not starting later).
        if not m.is_valid_on(local_today(m.company, self.clock.now())):
            raise InviteeNotValid()
        errors: dict[str, str] = {}
        if not identity_verified:
            errors["identity_verified"] = _l(
                "Tick the box to confirm that you have verified the person's identity."
            )
        if not person.email:
            errors["email"] = _l("The person has no e-mail address: add it to their details first.")
        if not person.phone:
            errors["phone"] = _l(
                "The person has no mobile phone number: add it to their details first."
            )
        if errors:
            raise ValidationFailed(errors)
        if self.reinvite_blocked(m, via):
            raise ReinviteNeedsSupport()
        assert person.email and person.phone
        now = self.clock.now()
        self._end_live_invitations(m, actor, now)
        code = new_signup_code()
        inv = Invitation(
            company_id=m.company_id,
            person_id=person.id,
            inviter_person_id=actor.person_id,
            inviter_client_id=actor.machine.client_id if actor.machine else None,
            inviter_client_name=actor.machine.name if actor.machine else None,
            status=InvitationStatus.SENT,
            code_hash=self.signup_hasher.hash(code),
            email=person.email,
            phone=person.phone,
            contact_version=person.contact_version,
            identity_verified_at=now,
            sent_at=now,
            expires_at=now + INVITATION_VALIDITY,
            language=supported(language) or "en",
        )
        self.db.add(inv)
        self.db.flush()
        self.audit.record(
            AuditAction.INVITEE_IDENTITY_VERIFIED,
            company_id=m.company_id,
            **actor.audit_actor,
            subject_person_id=person.id,
            invitation_id=inv.id,
        )
        self.audit.record(
            AuditAction.INVITATION_SENT,
            company_id=m.company_id,
            **actor.audit_actor,
            subject_person_id=person.id,
            invitation_id=inv.id,
            expires_at=inv.expires_at.isoformat(),
            via=via,
        )
        self._send_invitation_email(inv, code)
        metrics.INVITATIONS_SENT.inc()
        return inv

    def _end_live_invitations(self, m: Membership, actor: Actor, now: datetime) -> None:
        for old in self.db.scalars(
            select(Invitation).where(
                Invitation.company_id == m.company_id,
                Invitation.person_id == m.person_id,
                Invitation.status.in_([s.value for s in LIVE_STATUSES]),
            )
        ):
            old.status = InvitationStatus.SUPERSEDED
            old.ended_at = now
            old.ended_by_person_id = actor.person_id
            old.code_hash = None
            for c in old.codes:
                c.revoked_at = c.revoked_at or now
            self.audit.record(
                AuditAction.INVITATION_SUPERSEDED,
                company_id=m.company_id,
                **actor.audit_actor,
                subject_person_id=m.person_id,
                invitation_id=old.id,
            )

    def _send_invitation_email(self, inv: Invitation, code: str) -> None:
        from portti.invitations.messages import invitation_email

        mail = invitation_email(self.jinja, inv, group_code(code))
        self.outbox.email(
            to=inv.email,
            subject=mail.subject,
            text=mail.text,
            html=mail.html,
            kind="invitation",
            company_id=inv.company_id,
            person_id=inv.person_id,
        )

    def cancel(self, actor: Actor, company_id: int, membership_id: int) -> Invitation:
        m, _ = self._membership(actor, company_id, membership_id)
        inv = self.latest(company_id, m.person_id)
        now = self.clock.now()
        if inv is None or inv.effective_status(now) not in LIVE_STATUSES:
            raise WrongInvitationState(_l("There is no open invitation to cancel."))
        inv.status = InvitationStatus.CANCELLED
        inv.ended_at = now
        inv.ended_by_person_id = actor.acting_person_id
        inv.code_hash = None
        for c in inv.codes:
            c.revoked_at = c.revoked_at or now
        self.audit.record(
            AuditAction.INVITATION_CANCELLED,
            company_id=company_id,
            actor_person_id=actor.acting_person_id,
            subject_person_id=m.person_id,
            invitation_id=inv.id,
        )
        return inv

    def issue_admin_code(
        self, actor: Actor, company_id: int, membership_id: int
    ) -> tuple[Invitation, str, ConfirmationCode]:
        """INV-6: offered only after the sign-up code was entered; shown to the admin once.
        The code binds a phone to the person: the person-wide rule applies (SEC-1)."""
        m, _ = self._membership(actor, company_id, membership_id)
        require_person_rights(
            self.policy, self.audit, actor, m.company, m.person_id, "issue_admin_code"
        )
        inv = self.latest(company_id, m.person_id)
        now = self.clock.now()
        if inv is None or inv.effective_status(now) is not InvitationStatus.CODE_ENTERED:
            raise WrongInvitationState(
                _l(
                    "A confirmation code can be generated only after the invitee has entered the "
                    "sign-up code in the app, and before the phone is confirmed."
                )
            )
        code = new_confirmation_code()
        cc = ConfirmationCode(
            invitation=inv,
            source=CodeSource.ADMIN,
            code_hash=self.confirm_hasher.hash(code),
            created_at=now,
            expires_at=now + ADMIN_CODE_VALIDITY,
            issued_by_person_id=actor.acting_person_id,
        )
        self.db.add(cc)
        # The code extends the invitation so that it stays usable for the code's whole life.
        inv.expires_at = max(inv.expires_at, cc.expires_at)
        self.db.flush()
        self.audit.record(
            AuditAction.ADMIN_CODE_ISSUED,
            company_id=company_id,
            actor_person_id=actor.acting_person_id,
            subject_person_id=m.person_id,
            invitation_id=inv.id,
            code_expires_at=cc.expires_at.isoformat(),
            invitation_expires_at=inv.expires_at.isoformat(),
        )
        return inv, code, cc

    def confirm_admin_code_saved(self, actor: Actor, company_id: int, membership_id: int) -> None:
        m, _ = self._membership(actor, company_id, membership_id, change=False)
        self.audit.record(
            AuditAction.ADMIN_CODE_SAVED,
            company_id=company_id,
            actor_person_id=actor.acting_person_id,
            subject_person_id=m.person_id,
        )

    def progress(self, inv: Invitation) -> list[Step]:
        now = self.clock.now()
        status = inv.effective_status(now)
        steps = [
            Step("sent", _l("Invitation sent"), inv.sent_at, True),
            Step(
                "code_entered",
                _l("Sign-up code entered in the app"),
                inv.code_entered_at,
                inv.code_entered_at is not None,
            ),
            Step(
                "phone_confirmed",
                _l("Phone confirmed"),
                inv.phone_confirmed_at,
                inv.phone_confirmed_at is not None,
            ),
            Step("activated", _l("App activated"), inv.activated_at, inv.activated_at is not None),
        ]
        if status is InvitationStatus.CANCELLED:
            steps.append(Step("cancelled", _l("Cancelled"), inv.ended_at, True))
        elif status is InvitationStatus.SUPERSEDED:
            steps.append(
                Step("superseded", _l("Replaced by a newer invitation"), inv.ended_at, True)
            )
        elif status is InvitationStatus.EXPIRED:
            steps.append(Step("expired", _l("Expired"), inv.expires_at, True))
        return steps

    # -- invitee side (the app) -----------------------------------------------------------

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

    def redeem_signup_code(self, code: str, *, client: str) -> Redeemed:
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
        token = self.activations.start_for_invitation(inv).token
        self.audit.record(
            AuditAction.SIGNUP_CODE_ENTERED,
            company_id=inv.company_id,
            subject_person_id=inv.person_id,
            invitation_id=inv.id,
        )
        self._send_sms_code(inv, now)
        return Redeemed(inv, token, mask_phone(inv.phone))

    def activation(self, token: str) -> Activation:
        """The app's activation in progress, by its bearer token."""
        if not token or len(token) > 100:
            raise ActivationUnknown()
        act = self.db.scalars(
            select(Activation)
            .where(Activation.token_hash.in_(self.token_hasher.hashes(token)))
            .with_for_update()
        ).one_or_none()
        if act is None or act.ended_at is not None or act.completed_at is not None:
            raise ActivationUnknown()
        if act.invitation_id is None:
            if self.clock.now() >= act.expires_at:
                raise InvitationExpired()
        else:
            # SEC-2: an invitation's activation lives exactly as long as its invitation (an
            # admin code extends both): cancelled, superseded or expired, every later step —
            # account, terms, PIN, binding — is refused here, the one place they all pass.
            self._live_invitation(act)
        return act

    def _live_invitation(self, act: Activation) -> Invitation:
        # Locked (PostgreSQL): a cancel racing this step waits for it, or this step sees it.
        inv = self.db.scalars(
            select(Invitation)
            .where(Invitation.id == act.invitation_id)
            .with_for_update(of=Invitation)  # the inviter and company are joined eagerly
        ).one_or_none()
        if inv is None:
            raise ActivationUnknown()
        # The admin's code may have extended the invitation; the activation follows it.
        if act.expires_at != inv.expires_at:
            act.expires_at = inv.expires_at
        status = inv.effective_status(self.clock.now())
        if status in ENDED_STATUSES:
            raise InvitationExpired(status.value)
        return inv

    def by_activation_token(
        self, token: str, *, statuses: frozenset[InvitationStatus]
    ) -> Invitation:
        act = self.activation(token)
        if act.invitation_id is None:
            raise WrongInvitationState(_l("This activation did not start from an invitation."))
        inv = self._live_invitation(act)
        status = inv.effective_status(self.clock.now())
        if status not in statuses:
            raise WrongInvitationState(
                _l("The activation is at another step (%(step)s).", step=status.value)
            )
        return inv

    def _send_sms_code(self, inv: Invitation, now: datetime) -> None:
        from portti.invitations.messages import confirmation_code_sms

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

    def resend_sms_code(self, token: str) -> int:
        inv = self.by_activation_token(token, statuses=frozenset({InvitationStatus.CODE_ENTERED}))
        if inv.sms_resends >= MAX_SMS_RESENDS:
            raise SmsResendLimit()
        inv.sms_resends += 1
        self._send_sms_code(inv, self.clock.now())
        return MAX_SMS_RESENDS - inv.sms_resends

    def confirm_phone(self, token: str, code: str, *, client: str) -> Invitation:
        self.limiter.hit(CONFIRM_LIMIT_PER_CLIENT, "confirm", client)
        inv = self.by_activation_token(token, statuses=frozenset({InvitationStatus.CODE_ENTERED}))
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
