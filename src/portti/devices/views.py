"""HTML routes for devices: removing one from basic settings (WEB-5, APP-8) and the
"This wasn't me" link of the new-device e-mail.

The not-me page changes nothing on GET (mail scanners open links); only its button does.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from portti.companies.deps import CurrentActor, Members
from portti.devices.admin import MemberDevices
from portti.devices.deps import Devices, Revocation
from portti.devices.lifecycle import REVOKED_BY_OWNER
from portti.web.csrf import verify_csrf
from portti.web.deps import DbSession, Id
from portti.web.render import NO_STORE, render
from portti.weblogin.session_deps import CurrentSession, OptionalWebSession

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)


@router.post("/settings/devices/{public_id}/revoke")
def revoke_device(public_id: str, ws: CurrentSession, revocation: Revocation) -> Response:
    revocation.revoke(
        ws.person_id, public_id, actor_person_id=ws.person_id, reason=REVOKED_BY_OWNER
    )
    return RedirectResponse("/settings", 303)


@router.post("/c/{company_id}/users/{membership_id}/devices/{public_id}/remove")
def remove_member_device(
    company_id: Id,
    membership_id: Id,
    public_id: str,
    actor: CurrentActor,
    members: Members,
    devices: Devices,
) -> Response:
    """UX-8: the administrator removes one of the member's devices (a lost phone)."""
    # A refusal of the hierarchy is audited, and kept.
    removed = MemberDevices(members, devices).remove(actor, company_id, membership_id, public_id)
    return RedirectResponse(
        f"/c/{company_id}/users/{membership_id}?devices_removed={len(removed)}#devices-heading",
        303,
    )


@router.post("/c/{company_id}/users/{membership_id}/devices/remove-all")
def remove_member_devices(
    company_id: Id,
    membership_id: Id,
    actor: CurrentActor,
    members: Members,
    devices: Devices,
) -> Response:
    """UX-8: every active device of the member at once."""
    removed = MemberDevices(members, devices).remove(actor, company_id, membership_id)
    return RedirectResponse(
        f"/c/{company_id}/users/{membership_id}?devices_removed={len(removed)}#devices-heading",
        303,
    )


@router.get("/devices/not-me/{token}", response_class=HTMLResponse)
def not_me_page(
    request: Request, token: str, revocation: Revocation, ws: OptionalWebSession
) -> Response:
    device = revocation.by_not_me_token(token)
    # The token is in the address: keep the page out of caches (Referrer-Policy is same-origin).
    return render(
        request,
        "devices/not_me.html",
        {"device": device, "token": token, "session": ws},
        headers=NO_STORE,
    )


@router.post("/devices/not-me/{token}", response_class=HTMLResponse)
def report_not_me(
    request: Request, token: str, revocation: Revocation, db: DbSession, ws: OptionalWebSession
) -> Response:
    device = revocation.not_me(token)
    if ws is not None:
        db.refresh(ws)
        if ws.revoked_at is not None:  # this browser was let in by that device: it is out now
            ws = None
    return render(
        request, "devices/not_me_done.html", {"device": device, "session": ws}, headers=NO_STORE
    )
