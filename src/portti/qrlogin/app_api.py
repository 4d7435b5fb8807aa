"""The app's side of QR login (WEB-2) and of step-up by the app (ADM-2).

"Read QR code for web login": the app sends what it read (``/scan``) or the code typed instead
(``/code``) and shows the answer: which service, browser and country are asking, from which site
(flagged when it is not this service's address: a relayed login, SEC-13), when, and three
numbers. The person picks the number the browser shows and confirms with PIN or biometrics
(``/approve``: a signature over an ``approve_login`` challenge whose context is the approval
id), or says "This wasn't me" (``/reject``). Step-ups wait in ``/pending`` for the person's app.

Every answer reaches the waiting browser at once through the event bus, after the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, status
from sqlalchemy.orm import Session

from portti.config import Settings
from portti.devices.models import Device, DeviceChallenge
from portti.devices.schemas import ChallengeOut
from portti.i18n import _l
from portti.infra import metrics
from portti.oidc_provider.parked import client_name_for_return_to
from portti.qrlogin import (
    APPROVE_PURPOSE,
    LoginTransactionService,
    browser_and_system,
    origin_of,
)
from portti.qrlogin.deps import AppSide, AppSideDep
from portti.qrlogin.schemas import (
    ApprovalResult,
    ApproveIn,
    CodeIn,
    LoginApprovalOut,
    PendingApprovalsOut,
    ScanIn,
)
from portti.web.filters import country_name
from portti.weblogin.geo import THIS_NETWORK, GeoLookup, Place
from portti.weblogin.models import LoginTransaction

PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"description": "`qr_invalid`, `qr_stale`, `login_code_unknown`, `pin_wrong`, …"},
    401: {"description": "`app_locked`"},
    403: {"description": "`number_mismatch`, `origin_mismatch`, `pin_locked`"},
    404: {"description": "`approval_unknown`"},
    409: {"description": "`approval_used`, `login_already_scanned`, `approval_pending`"},
    410: {"description": "`login_expired`, `login_ended`, `login_code_expired`"},
    429: {"description": "`rate_limited`, `pin_blocked`"},
}

router = APIRouter(prefix="/app-api/v1/login-approvals", tags=["web-login"], responses=PROBLEMS)


def browser_for_reader(user_agent: str | None) -> str:
    """E.g. "Chrome on Linux" in the reader's language (UX-17); the audit log keeps the English
    of ``describe_browser``. Browser and system names are proper names."""
    browser, system = browser_and_system(user_agent)
    if browser and system:
        return _l("%(browser)s on %(system)s", browser=browser, system=system).translated()
    if browser:
        return browser
    if system:
        return _l("A browser on %(system)s", system=system).translated()
    return _l("Unknown browser").translated()


def place_for_reader(place: Place) -> str:
    """The country's name in the reader's language, "This network", or "Unknown"."""
    if place.country_code:
        return country_name(place.country_code)
    if place.label == THIS_NETWORK:
        return _l("This network").translated()
    return _l("Unknown").translated()


def approval_out(
    tx: LoginTransaction,
    qr: LoginTransactionService,
    settings: Settings,
    geo: GeoLookup,
    challenge: DeviceChallenge | None = None,
    *,
    db: Session | None = None,
) -> LoginApprovalOut:
    place = geo.locate(tx.ip)
    service_origin = origin_of(settings.base_url)
    return LoginApprovalOut(
        approval_id=tx.public_id,
        purpose="step_up" if tx.purpose == "step_up" else "login",
        status=qr.effective_status(tx).value,
        service=settings.service_name,
        client_name=client_name_for_return_to(db, tx.return_to) if db is not None else None,
        browser=browser_for_reader(tx.user_agent),
        place=place_for_reader(place),
        country=place.country_code,
        origin=tx.origin,
        service_origin=service_origin,
        origin_matches=tx.origin is not None and tx.origin == service_origin,
        requested_at=tx.created_at,
        expires_at=tx.expires_at,
        numbers=qr.choices(tx),
        challenge=ChallengeOut(nonce=challenge.nonce, expires_at=challenge.expires_at)
        if challenge
        else None,
    )


def _device(side: AppSide) -> Device:
    """The unlocked app's device. Its session's idle time may slide (committed with the
    route's work)."""
    _, device = side.devices.sessions.app_session(side.token)
    return device


def _answer_scan(
    side: AppSide, device: Device, scan: Callable[[], LoginTransaction]
) -> LoginApprovalOut:
    """A scanned QR code or a typed code: the request, with a fresh challenge to approve it."""
    tx = scan()  # a refused scan is audited (a relayed code looks like one)
    challenge = side.devices.challenges.challenge(device.public_id, APPROVE_PURPOSE, tx.public_id)
    return approval_out(tx, side.qr, side.settings, side.geo, challenge, db=side.db)


@router.post("/scan", operation_id="scan_login_qr", response_model=LoginApprovalOut)
def scan_login_qr(body: ScanIn, side: AppSideDep) -> LoginApprovalOut:
    """“Read QR code for web login”: the browser then shows the number to pick. The answer
    carries a fresh `approve_login` challenge: approving is then one request."""
    device = _device(side)
    return _answer_scan(side, device, lambda: side.qr.scan(device, body.qr))


@router.post("/code", operation_id="enter_login_code", response_model=LoginApprovalOut)
def enter_login_code(body: CodeIn, side: AppSideDep) -> LoginApprovalOut:
    """The code the login page shows after “Type a code instead”, when the camera cannot be
    used. Valid for 30 seconds (`login_code_expired` after); 10 tries a minute."""
    device = _device(side)
    return _answer_scan(side, device, lambda: side.qr.scan_code(device, body.code))


@router.get("/pending", operation_id="list_pending_approvals", response_model=PendingApprovalsOut)
def list_pending_approvals(side: AppSideDep) -> PendingApprovalsOut:
    """Requests waiting for this person's app: step-ups (“Authenticate to add users” in a
    browser where they are logged in), and logins this app has read but not answered."""
    device = _device(side)
    approvals = [
        approval_out(tx, side.qr, side.settings, side.geo, db=side.db)
        for tx in side.qr.pending_for(device)
    ]
    return PendingApprovalsOut(approvals=approvals)


@router.get("/{approval_id}", operation_id="get_login_approval", response_model=LoginApprovalOut)
def get_login_approval(approval_id: str, side: AppSideDep) -> LoginApprovalOut:
    device = _device(side)
    tx = side.qr.for_device(device, approval_id)
    return approval_out(tx, side.qr, side.settings, side.geo, db=side.db)


@router.post(
    "/{approval_id}/approve",
    operation_id="approve_login",
    response_model=ApprovalResult,
    status_code=status.HTTP_200_OK,
)
def approve_login(approval_id: str, body: ApproveIn, side: AppSideDep) -> ApprovalResult:
    """Confirm with PIN or biometrics and the number picked. The nonce comes from
    ``POST /devices/{device}/challenges`` with purpose ``approve_login`` and the approval id as
    ``context``. A wrong number refuses the login (``number_mismatch``); a second approval gets
    ``approval_used``."""
    device = _device(side)

    def verify() -> object:
        return side.devices.approvals.verify(
            device.public_id,
            purpose=APPROVE_PURPOSE,
            nonce=body.nonce,
            signature=body.signature,
            context=approval_id,
            pin=body.pin,
            biometric_signature=body.biometric_signature,
            known=device,
        )

    # Refused, wrong PINs stay counted, nonces used, and a wrong number ends the login.
    tx = side.qr.approve(
        device,
        approval_id,
        number=body.number,
        verify=verify,
        service_origin=origin_of(side.settings.base_url),
    )
    metrics.APP_APPROVALS.labels("biometric" if body.biometric_signature else "pin").inc()
    return ApprovalResult(approval_id=tx.public_id, status=tx.status)


@router.post("/{approval_id}/reject", operation_id="reject_login", response_model=ApprovalResult)
def reject_login(approval_id: str, side: AppSideDep) -> ApprovalResult:
    """“This wasn't me”: the login ends, the browser says it was refused, and it is audited."""
    device = _device(side)
    tx = side.qr.reject(device, approval_id)
    return ApprovalResult(approval_id=tx.public_id, status=tx.status)
