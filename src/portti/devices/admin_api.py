"""JSON routes of a member's devices for their administrator (UX-8, SEC-14), under /api/v1."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from portti.companies.deps import CurrentActor, Members
from portti.devices.admin import AppAccess, MemberDevices
from portti.devices.deps import Devices
from portti.devices.schemas import (
    AppAccessOut,
    CarriedCompanyOut,
    DevicesRemovedOut,
    MemberDeviceOut,
)
from portti.web.csrf import verify_csrf
from portti.web.deps import Id
from portti.weblogin.session_deps import CurrentSession

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Not an administrator of this company or the person, or step-up needed"},
    404: {"description": "No such member or device"},
}

router = APIRouter(
    prefix="/api/v1/companies/{company_id}/members/{membership_id}/devices",
    dependencies=[Depends(verify_csrf)],
    tags=["users-and-roles"],
    responses=ERRORS,
)

DeviceId = Annotated[str, Path(min_length=1, max_length=40)]


async def get_member_devices(members: Members, devices: Devices) -> MemberDevices:
    return MemberDevices(members, devices)


MemberDevicesDep = Annotated[MemberDevices, Depends(get_member_devices)]


def app_access_out(access: AppAccess) -> AppAccessOut:
    return AppAccessOut(
        reaches_company=access.reaches_company,
        summary=access.summary,
        devices=[
            MemberDeviceOut(
                device_id=d.device.public_id,
                name=d.device.name,
                platform=d.device.platform,
                status=d.device.status,
                created_at=d.device.created_at,
                last_used_at=d.device.last_used_at,
                activated_by=d.device.activated_by,
                companies=[
                    CarriedCompanyOut(
                        company_id=c.company_id,
                        company_name=c.company_name,
                        invited_by=c.inviter_name,
                        added_at=c.added_at,
                    )
                    for c in d.companies
                ],
                carries_company=d.carries_company,
            )
            for d in access.devices
        ],
    )


@router.get("", operation_id="list_member_devices", response_model=AppAccessOut)
def list_member_devices(
    company_id: Id, membership_id: Id, ws: CurrentSession, member_devices: MemberDevicesDep
) -> AppAccessOut:
    """The person's app installations: name, when added and last used, which company's
    invitation activated each, and whether any lets them into this company."""
    return app_access_out(member_devices.access(ws.person_id, company_id, membership_id))


@router.delete("", operation_id="remove_member_devices", response_model=DevicesRemovedOut)
def remove_member_devices(
    company_id: Id, membership_id: Id, actor: CurrentActor, member_devices: MemberDevicesDep
) -> DevicesRemovedOut:
    """Removes every active device of the person (a lost phone): needs a fresh step-up and the
    right to manage the person (SEC-1); the person is told by e-mail."""
    removed = member_devices.remove(actor, company_id, membership_id)
    return DevicesRemovedOut(devices_removed=len(removed))


@router.delete(
    "/{device_id}", operation_id="remove_member_device", response_model=DevicesRemovedOut
)
def remove_member_device(
    company_id: Id,
    membership_id: Id,
    device_id: DeviceId,
    actor: CurrentActor,
    member_devices: MemberDevicesDep,
) -> DevicesRemovedOut:
    """Removes one device of the person; as above."""
    removed = member_devices.remove(actor, company_id, membership_id, device_id)
    return DevicesRemovedOut(devices_removed=len(removed))
