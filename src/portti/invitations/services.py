"""The invitation lifecycle (INV-1 … INV-6), one state machine; the admin's side is here, the
invitee's (sign-up code, confirmation code, activated) in ``invitations/signup.py``:

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
from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.companies.actors import Actor, machine_grant, require_person_rights
from portti.companies.catalogue import SUPPORT
from portti.companies.errors import CompanyClosed, PersonNeedsSupport
from portti.companies.models import Membership
from portti.companies.policy import AdminGrant, AdminPolicy, is_stepped_up, local_today
from portti.errors import DomainError, NotFound, StepUpRequired, ValidationFailed
from portti.i18n import _l, supported
from portti.infra import metrics
from portti.infra.clock import Clock
from portti.infra.codes import random_digits
from portti.infra.crypto import CodeHasher
from portti.infra.outbox import Outbox
from portti.infra.ratelimit import RateLimiter
from portti.invitations.errors import (
    InviteeNotValid,
    ReinviteNeedsSupport,
    WrongInvitationState,
)
from portti.invitations.messages import invitation_email
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
ADMIN_CODE_VALIDITY = timedelta(hours=12)
ENDED_STATUSES = frozenset(
    {InvitationStatus.CANCELLED, InvitationStatus.SUPERSEDED, InvitationStatus.EXPIRED}
)


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
class Step:
    name: str
    label: str
    at: datetime | None
    done: bool


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
        self.confirm_hasher = CodeHasher(secret, "confirmation-code")

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
