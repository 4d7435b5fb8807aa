"""The app API of a bound device (APP-4 … APP-8): challenges, unlock, lock, log out, log out
from all devices, and what the app shows of its person. Every error is a problem document with
a stable ``code``; the activation's routes are in ``activation/app_api.py``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from portti.companies.policy import limit_to_login
from portti.companies.services import PersonDirectory
from portti.devices.deps import Challenges, Lifecycle, Revocation, Sessions
from portti.devices.errors import AppLocked
from portti.devices.reach import device_companies
from portti.devices.schemas import (
    AppSessionOut,
    ChallengeIn,
    ChallengeOut,
    DeviceOut,
    LoggedOut,
    MembershipOut,
    MeOut,
    PersonOut,
    UnlockIn,
)
from portti.errors import ValidationFailed
from portti.i18n import _l
from portti.people.models import Person
from portti.web.deps import ClockDep, DbSession, client_ip

PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A problem with a stable `code` and a human `next_step`"},
    401: {"description": "`activation_unknown`, `app_locked`"},
    403: {"description": "`account_not_yours`, `reactivation_needs_invitation`, `pin_locked`"},
    409: {"description": "`wrong_step`"},
    429: {"description": "`rate_limited`, `pin_blocked`, `too_many_challenges`"},
}

router = APIRouter(prefix="/app-api/v1", tags=["app"], responses=PROBLEMS)
app_bearer = HTTPBearer(auto_error=False, description="The app session token from unlock.")


async def app_session_token(
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(app_bearer)],
) -> str:
    if creds is None:
        raise AppLocked()
    return creds.credentials


AppSessionToken = Annotated[str, Depends(app_session_token)]


def person_out(p: Person) -> PersonOut:
    return PersonOut(portti_id=p.portti_id, given_name=p.given_name, family_name=p.family_name)


def _ip(request: Request) -> str:
    return client_ip(request) or "unknown"


# -- the bound device (APP-4 … APP-8) --------------------------------------------------------


@router.post(
    "/devices/{device_id}/challenges",
    operation_id="new_device_challenge",
    response_model=ChallengeOut,
    status_code=status.HTTP_201_CREATED,
)
def new_device_challenge(
    device_id: str, body: ChallengeIn, request: Request, challenges: Challenges
) -> ChallengeOut:
    """A fresh nonce to sign. Single use, valid 2 minutes. Limited per device and per client
    network, and a device holds at most 10 unused, unexpired nonces (`too_many_challenges`)."""
    try:
        ch = challenges.challenge(device_id, body.purpose, body.context, client=_ip(request))
    except ValueError as exc:  # the service's shape checks: a client error, not a crash
        raise ValidationFailed(
            {"purpose": _l("Lower-case letters and underscores, at most 40.")}
        ) from exc
    return ChallengeOut(nonce=ch.nonce, expires_at=ch.expires_at)


@router.post("/devices/{device_id}/unlock", operation_id="unlock_app", response_model=AppSessionOut)
def unlock_app(device_id: str, body: UnlockIn, sessions: Sessions) -> AppSessionOut:
    """PIN or biometrics (APP-5): a signature over the nonce, and the PIN checked here."""
    # Wrong PINs and used nonces are recorded and kept even though this fails.
    session, token = sessions.unlock(
        device_id,
        nonce=body.nonce,
        signature=body.signature,
        pin=body.pin,
        biometric_signature=body.biometric_signature,
    )
    return AppSessionOut(app_session_token=token, expires_at=session.expires_at)


@router.post("/session/lock", operation_id="lock_app", status_code=status.HTTP_204_NO_CONTENT)
def lock_app(token: AppSessionToken, sessions: Sessions) -> Response:
    """Lock (APP-6): ends the app session; unlock again with PIN or biometrics."""
    sessions.lock(token)
    return Response(status_code=204)


@router.post("/session/logout", operation_id="log_out_app", status_code=status.HTTP_204_NO_CONTENT)
def log_out_app(token: AppSessionToken, revocation: Revocation) -> Response:
    """Log out (APP-7): this device's activation ends; activate again with the account."""
    revocation.logout(token)
    return Response(status_code=204)


@router.post(
    "/session/logout-everywhere", operation_id="log_out_everywhere", response_model=LoggedOut
)
def log_out_everywhere(token: AppSessionToken, revocation: Revocation) -> LoggedOut:
    """Log out from all devices (APP-8): every device and web session ends; activating again
    needs a new invitation."""
    count = revocation.logout_everywhere(token)
    return LoggedOut(devices_ended=count)


@router.get("/me", operation_id="get_app_me", response_model=MeOut)
def get_app_me(
    token: AppSessionToken,
    sessions: Sessions,
    lifecycle: Lifecycle,
    db: DbSession,
    clock: ClockDep,
) -> MeOut:
    _, device = sessions.app_session(token)
    person = db.get(Person, device.person_id)
    assert person is not None
    # The app lets its person into the companies it was activated for (SEC-14).
    limit_to_login(db, person.id, device_companies(db, device))
    directory = PersonDirectory(db, clock)
    valid = {m.id for m in directory.valid_memberships(person.id)}
    return MeOut(
        person=person_out(person),
        companies=[
            MembershipOut(company_id=m.company_id, company_name=m.company.name, valid=m.id in valid)
            for m in directory.memberships(person.id)
        ],
        devices=[
            DeviceOut(
                device_id=d.public_id,
                name=d.name,
                platform=d.platform,
                status=d.status,
                created_at=d.created_at,
                last_used_at=d.last_used_at,
                this_device=d.id == device.id,
            )
            for d in lifecycle.devices_for(person.id)
        ],
    )
