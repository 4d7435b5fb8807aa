"""HTML routes for devices: removing one from basic settings (WEB-5, APP-8) and the
"This wasn't me" link of the new-device e-mail.

The not-me page changes nothing on GET (mail scanners open links); only its button does.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from portti.devices.deps import Devices
from portti.devices.services import REVOKED_BY_OWNER
from portti.runtime import runtime
from portti.web.csrf import verify_csrf
from portti.web.deps import CurrentSession, DbSession, OptionalWebSession

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)

# The token is in the address: keep the page out of caches (Referrer-Policy is same-origin).
NO_STORE = {"Cache-Control": "no-store"}


def _render(request: Request, name: str, ctx: dict[str, object]) -> Response:
    response: Response = runtime(request).templates.TemplateResponse(
        request, name, ctx, headers=NO_STORE
    )
    return response


@router.post("/settings/devices/{public_id}/revoke")
def revoke_device(public_id: str, ws: CurrentSession, devices: Devices, db: DbSession) -> Response:
    devices.revoke(ws.person_id, public_id, actor_person_id=ws.person_id, reason=REVOKED_BY_OWNER)
    db.commit()
    return RedirectResponse("/settings", 303)


@router.get("/devices/not-me/{token}", response_class=HTMLResponse)
def not_me_page(request: Request, token: str, devices: Devices, ws: OptionalWebSession) -> Response:
    device = devices.by_not_me_token(token)
    return _render(
        request, "devices/not_me.html", {"device": device, "token": token, "session": ws}
    )


@router.post("/devices/not-me/{token}", response_class=HTMLResponse)
def report_not_me(
    request: Request, token: str, devices: Devices, db: DbSession, ws: OptionalWebSession
) -> Response:
    device = devices.not_me(token)
    db.commit()
    if ws is not None:
        db.refresh(ws)
        if ws.revoked_at is not None:  # this browser was let in by that device: it is out now
            ws = None
    return _render(request, "devices/not_me_done.html", {"device": device, "session": ws})
