"""A member's devices as their administrator sees them (UX-8, SEC-14): which app
installations can approve logins as the person, which company's invitation activated each,
whether any lets the person into the admin's company, and removing one or all of them (a lost
phone).

Seeing the list is for any administrator of the company (it tells a linking admin what their
link does and does not do). Removing is a change to the person, who is shared by every company
their rights reach: the person-wide rule (SEC-1) and a fresh step-up (ADM-2) apply, as for
ending their sessions. The person is told by e-mail, in their own language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.companies.actors import Actor
from portti.companies.models import Membership
from portti.companies.policy import is_stepped_up
from portti.companies.services import MembershipService
from portti.devices.models import ActivationKind, Device, DeviceStatus
from portti.devices.reach import CarriedCompany, carried_companies
from portti.devices.services import DeviceService
from portti.errors import NotFound, StepUpRequired
from portti.i18n import _l, localize
from portti.invitations.models import LIVE_STATUSES, Invitation
from portti.people.models import Person

REMOVED_BY_ADMIN = "removed_by_admin"


@dataclass(frozen=True)
class MemberDevice:
    device: Device
    companies: list[CarriedCompany]  # empty for a bank-ID activation: it carries every company
    carries_company: bool  # lets the person into the admin's company

    @property
    def by_bank_id(self) -> bool:
        return self.device.activated_by == ActivationKind.BANK_ID

    @property
    def active(self) -> bool:
        return self.device.status == DeviceStatus.ACTIVE


@dataclass(frozen=True)
class AppAccess:
    """What the person's app means for one company."""

    company_id: int
    devices: list[MemberDevice]  # active first, newest first
    # When this company's invitation to the app that is still open was sent (UX-11, INV-1).
    invitation_sent_at: datetime | None = None

    @property
    def active(self) -> list[MemberDevice]:
        return [d for d in self.devices if d.active]

    @property
    def reaches_company(self) -> bool:
        return any(d.carries_company for d in self.active)

    @property
    def summary(self) -> str:
        """What this means for the admin, in the reader's language."""
        if self.reaches_company:
            text = _l("Their Portti app gives access to this company.")
        elif self.invitation_sent_at is not None:
            # An invitation is on its way: the page says so, not "send an invitation" (UX-11).
            text = _l(
                "An invitation to the Portti app has been sent and is still valid. Their app "
                "gives access to this company once they have activated it with the invitation."
            )
        elif self.active:
            text = _l(
                "Their existing Portti app does not give access to this company: it was "
                "activated through another company's invitation. Send an invitation from "
                "this company; the app it activates will give access here too."
            )
        else:
            text = _l(
                "They have no Portti app in use. Send an invitation to let them log in with "
                "the app, or they log in with bank ID."
            )
        return str(localize(text))


def app_access(db: Session, m: Membership, now: datetime | None = None) -> AppAccess:
    """The member's devices and what they mean for the membership's company, for a membership
    the caller has already checked; with ``now``, also the company's open invitation."""
    rows = db.scalars(
        select(Device)
        .where(Device.person_id == m.person_id)
        .order_by(Device.created_at.desc(), Device.id.desc())
    ).all()
    carried = carried_companies(db, [d.id for d in rows])
    devices = [
        MemberDevice(
            device=d,
            companies=carried[d.id],
            carries_company=d.activated_by == ActivationKind.BANK_ID
            or any(c.company_id == m.company_id for c in carried[d.id]),
        )
        for d in rows
    ]
    devices.sort(key=lambda d: not d.active)  # stable: newest first within each
    invitation = (
        db.scalars(
            select(Invitation)
            .where(Invitation.person_id == m.person_id, Invitation.company_id == m.company_id)
            .order_by(Invitation.id.desc())
            .limit(1)
        ).first()
        if now is not None
        else None
    )
    live = (
        invitation is not None
        and now is not None
        and (invitation.effective_status(now) in LIVE_STATUSES)
    )
    return AppAccess(
        company_id=m.company_id,
        devices=devices,
        invitation_sent_at=invitation.sent_at if live and invitation else None,
    )


class MemberDevices:
    def __init__(self, members: MembershipService, devices: DeviceService) -> None:
        self.members = members
        self.devices = devices
        self.db = members.db

    def access(self, actor_person_id: int, company_id: int, membership_id: int) -> AppAccess:
        """The member's devices, for any administrator of the company."""
        m = self.members.get_member(actor_person_id, company_id, membership_id)
        return self.access_of(m)

    def access_of(self, m: Membership) -> AppAccess:
        """For a membership the caller has already checked."""
        return app_access(self.db, m, self.members.clock.now())

    def remove(
        self,
        actor: Actor,
        company_id: int,
        membership_id: int,
        device_public_id: str | None = None,
    ) -> list[Device]:
        """Removes one device of the member (``device_public_id``), or every active one. The
        person-wide rule and a fresh step-up apply; refusals are audited (SEC-1, SEC-7)."""
        company, _ = self.members.company_for_admin(actor.acting_person_id, company_id)
        if not is_stepped_up(
            actor.strong_auth_at, self.members.clock.now(), self.members.step_up_window
        ):
            raise StepUpRequired()
        m = self.members.get_member(actor.acting_person_id, company_id, membership_id)
        self.members.require_person_rights(actor, company, m.person_id, "remove_devices")
        query = select(Device).where(Device.person_id == m.person_id).with_for_update()
        if device_public_id is not None:
            query = query.where(Device.public_id == device_public_id)
        else:
            query = query.where(Device.status == DeviceStatus.ACTIVE.value)
        targets: Sequence[Device] = self.db.scalars(query.order_by(Device.id)).all()
        if device_public_id is not None and not targets:
            raise NotFound(_l("No such device."))
        removed = [d for d in targets if d.status == DeviceStatus.ACTIVE]
        for device in targets:
            if device.status != DeviceStatus.REVOKED:
                self.devices.revocation.remove_by_admin(
                    device,
                    actor_person_id=actor.acting_person_id,
                    company_id=company.id,
                    reason=REMOVED_BY_ADMIN,
                )
        if removed:
            person = self.db.get(Person, m.person_id)
            self.devices.notices.devices_removed(removed, person, company)
        return removed
