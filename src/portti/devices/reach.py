"""Which companies a device lets its person into (SEC-14).

A device activated by an invitation carries the company that sent it (and what the same
account's earlier devices carried); a company that links the person later is not carried until
its own invitation activates a device. A device activated by bank ID carries every company the
person's rights reach: the person proved who they are. A login approved in the app, and a
step-up approved in it, reach no further than the device.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.companies.models import Company
from portti.devices.models import ActivationKind, Device, DeviceCompany
from portti.invitations.models import Invitation


def device_companies(db: Session, device: Device) -> frozenset[int] | None:
    """The companies ``device`` lets its person into; None: every company their rights reach."""
    if device.activated_by == ActivationKind.BANK_ID:
        return None
    return frozenset(
        db.scalars(select(DeviceCompany.company_id).where(DeviceCompany.device_id == device.id))
    )


def device_carries(db: Session, device: Device, company_id: int) -> bool:
    companies = device_companies(db, device)
    return companies is None or company_id in companies


@dataclass(frozen=True)
class CarriedCompany:
    """A company a device carries, and who invited the person to it."""

    company_id: int
    company_name: str
    inviter_name: str | None  # None: no invitation on record (nor on the earlier device)
    added_at: datetime


def carried_companies(db: Session, device_ids: Sequence[int]) -> dict[int, list[CarriedCompany]]:
    """For each device, the companies it carries with their inviters, by company name."""
    found: dict[int, list[CarriedCompany]] = {i: [] for i in device_ids}
    if not device_ids:
        return found
    rows = db.execute(
        select(DeviceCompany, Company.name, Invitation)
        .join(Company, Company.id == DeviceCompany.company_id)
        .outerjoin(Invitation, Invitation.id == DeviceCompany.invitation_id)
        .where(DeviceCompany.device_id.in_(device_ids))
        .order_by(Company.name)
    ).all()
    for dc, name, invitation in rows:
        found[dc.device_id].append(
            CarriedCompany(
                dc.company_id,
                name,
                invitation.inviter_name if invitation is not None else None,
                dc.added_at,
            )
        )
    return found
