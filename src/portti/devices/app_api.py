"""The app API after the confirmation code (APP-1 … APP-9): account, TOTP, terms, device
binding; unlock, lock, log out, log out from all devices; re-activation with the account or
with Finnish bank ID. Every error is a problem document with a stable ``code``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from portti.accounts.services import AccountService
from portti.companies.policy import limit_to_login
from portti.companies.services import PersonDirectory
from portti.devices.activation import (
    WEB_APP_HANDOFF,
    ActivationService,
    StartedActivation,
    next_step,
    require_step,
)
from portti.devices.deps import Accounts, Devices
from portti.devices.errors import AppLocked
from portti.devices.models import Activation, ActivationKind
from portti.devices.reach import device_companies
from portti.devices.schemas import (
    AccountLoginIn,
    ActivationOut,
    AppSessionOut,
    BankIdHandoffIn,
    BankIdStartIn,
    BankIdStartOut,
    ChallengeIn,
    ChallengeOut,
    CodeIn,
    DeviceBound,
    DeviceIn,
    DeviceOut,
    EmailIn,
    LoggedOut,
    MembershipOut,
    MeOut,
    NextStep,
    PasswordIn,
    PersonOut,
    TermsIn,
    TermsOut,
    TotpEnrolmentOut,
    UnlockIn,
)
from portti.errors import Forbidden, ValidationFailed
from portti.i18n import _l, current_language
from portti.invitations.app_api import ActivationToken
from portti.invitations.deps import Invitations
from portti.invitations.models import InvitationStatus
from portti.invitations.services import InvitationService
from portti.people.models import Person
from portti.web.deps import Audit, ClockDep, DbSession, SettingsDep, Uow, client_ip

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


async def get_activations(
    db: DbSession, clock: ClockDep, settings: SettingsDep
) -> ActivationService:
    return ActivationService(db, clock, settings.secret)


Activations = Annotated[ActivationService, Depends(get_activations)]


def person_out(p: Person) -> PersonOut:
    return PersonOut(portti_id=p.portti_id, given_name=p.given_name, family_name=p.family_name)


def _ip(request: Request) -> str:
    return client_ip(request) or "unknown"


def _step(db: DbSession, act: Activation, accounts: Accounts) -> NextStep:
    return NextStep(step=next_step(db, act, accounts.current_terms()[0]))


def _activation_out(db: DbSession, started: StartedActivation, accounts: Accounts) -> ActivationOut:
    act = started.activation
    person = db.get(Person, act.person_id)
    assert person is not None
    step = next_step(db, act, accounts.current_terms()[0])
    return ActivationOut(activation_token=started.token, step=step, person=person_out(person))


@dataclass(frozen=True)
class ActivationSteps:
    """The app's current activation (its bearer token) and the step it is at."""

    token: str
    invitations: InvitationService
    accounts: AccountService
    db: Session

    def at(self, *steps: str) -> Activation:
        """The activation, refused unless it is at one of ``steps``."""
        act = self.invitations.activation(self.token)
        require_step(self.db, act, self.accounts.current_terms()[0], *steps)
        return act

    def next(self, act: Activation) -> NextStep:
        return _step(self.db, act, self.accounts)


async def get_activation_steps(
    token: ActivationToken, invitations: Invitations, accounts: Accounts, db: DbSession
) -> ActivationSteps:
    return ActivationSteps(token, invitations, accounts, db)


CurrentActivation = Annotated[ActivationSteps, Depends(get_activation_steps)]


# -- account (APP-2) -----------------------------------------------------------------------


@router.post(
    "/activations/current/account", operation_id="start_new_account", response_model=NextStep
)
def start_new_account(
    body: EmailIn,
    request: Request,
    activation: CurrentActivation,
    accounts: Accounts,
    uow: Uow,
) -> NextStep:
    """“Create an account”: sends a 6-digit code to the e-mail address to confirm it."""
    act = activation.at("account", "verify_email")
    accounts.start_new_account(act, body.email)
    return activation.next(act)


@router.post(
    "/activations/current/account/email-code",
    operation_id="verify_account_email",
    response_model=NextStep,
)
def verify_account_email(
    body: CodeIn,
    activation: CurrentActivation,
    accounts: Accounts,
) -> NextStep:
    act = activation.at("verify_email")
    # A wrong code is counted and kept (EmailCodeWrong.keeps_writes).
    accounts.verify_email(act, body.code)
    return activation.next(act)


@router.post(
    "/activations/current/account/password",
    operation_id="set_account_password",
    response_model=NextStep,
)
def set_account_password(
    body: PasswordIn,
    activation: CurrentActivation,
    accounts: Accounts,
) -> NextStep:
    act = activation.at("password")
    accounts.set_password(act, body.password)
    return activation.next(act)


@router.post(
    "/activations/current/account/totp",
    operation_id="start_totp_enrolment",
    response_model=TotpEnrolmentOut,
)
def start_totp_enrolment(
    activation: CurrentActivation,
    accounts: Accounts,
    response: Response,
) -> TotpEnrolmentOut:
    """The authenticator app's seed: shown once, as a QR code and as text."""
    act = activation.at("totp")
    enrolment = accounts.start_totp(act)
    response.headers["Cache-Control"] = "no-store"
    return TotpEnrolmentOut(
        secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri, qr_svg=enrolment.qr_svg
    )


@router.post(
    "/activations/current/account/totp/confirm",
    operation_id="confirm_totp",
    response_model=NextStep,
)
def confirm_totp(
    body: CodeIn,
    activation: CurrentActivation,
    accounts: Accounts,
) -> NextStep:
    act = activation.at("totp")
    accounts.confirm_totp(act, body.code)
    return activation.next(act)


@router.post(
    "/activations/current/existing-account",
    operation_id="log_in_to_existing_account",
    response_model=NextStep,
)
def log_in_to_existing_account(
    body: AccountLoginIn,
    request: Request,
    activation: CurrentActivation,
    accounts: Accounts,
) -> NextStep:
    """“Log in with your account”: e-mail, password and a code from the authenticator app."""
    act = activation.at("account")
    # Failures count towards the lockout, and are kept when the login is refused.
    account = accounts.login(
        body.email, body.password, body.totp_code, client=_ip(request), person_id=act.person_id
    )
    accounts.link_existing_account(act, account)
    return activation.next(act)


# -- terms (APP-3) -------------------------------------------------------------------------


@router.get("/terms", operation_id="get_terms", response_model=TermsOut)
def get_terms(accounts: Accounts) -> TermsOut:
    """The current terms, in the reader's language (Finnish, Swedish or English)."""
    language = current_language()
    version, text = accounts.current_terms(language)
    return TermsOut(version=version, text=text, language=language)


@router.post("/activations/current/terms", operation_id="accept_terms", response_model=NextStep)
def accept_terms(
    body: TermsIn,
    request: Request,
    activation: CurrentActivation,
    accounts: Accounts,
) -> NextStep:
    act = activation.at("terms")
    accounts.accept_terms(act, body.version, ip=client_ip(request))
    return activation.next(act)


# -- device binding (APP-4) ----------------------------------------------------------------


@router.post(
    "/activations/current/device",
    operation_id="bind_device",
    response_model=DeviceBound,
    status_code=status.HTTP_201_CREATED,
)
def bind_device(
    body: DeviceIn,
    request: Request,
    activation: CurrentActivation,
    invitations: Invitations,
    devices: Devices,
    db: DbSession,
    clock: ClockDep,
    uow: Uow,
) -> DeviceBound:
    """The last step: the device's public key(s) and the PIN. The private key never leaves."""
    act = activation.at("device")
    device, _ = devices.bind(
        act,
        name=body.name,
        platform=body.platform,
        key_alg=body.key_alg,
        public_key=body.public_key,
        pin=body.pin,
        biometric_key_alg=body.biometric_key_alg,
        biometric_public_key=body.biometric_public_key,
        replaces_device=body.replaces_device,
    )
    if act.kind == ActivationKind.INVITATION:
        inv = invitations.by_activation_token(
            activation.token, statuses=frozenset({InvitationStatus.PHONE_CONFIRMED})
        )
        invitations.mark_activated(inv)
    act.completed_at = clock.now()
    person = db.get(Person, act.person_id)
    assert person is not None
    return DeviceBound(device_id=device.public_id, person=person_out(person))


# -- re-activation with the account ("two-factor already done", APP-7) ----------------------


@router.post(
    "/activations/account",
    operation_id="start_account_activation",
    response_model=ActivationOut,
    status_code=status.HTTP_201_CREATED,
)
def start_account_activation(
    body: AccountLoginIn,
    request: Request,
    accounts: Accounts,
    activations: Activations,
    db: DbSession,
) -> ActivationOut:
    """“Two-factor authentication already done”: e-mail, password, TOTP; then terms and PIN."""
    # Failures count towards the lockout, and are kept when the login is refused.
    account = accounts.login(body.email, body.password, body.totp_code, client=_ip(request))
    return _activation_out(db, activations.start_with_account(account), accounts)


# -- Finnish users: bank ID instead of an invitation (APP-9) --------------------------------


@router.post(
    "/activations/bank-id", operation_id="start_bank_id_activation", response_model=BankIdStartOut
)
def start_bank_id_activation(
    body: BankIdStartIn, request: Request, db: DbSession, clock: ClockDep, audit: Audit
) -> BankIdStartOut:
    """Opens bank ID in a browser. The result comes back to the app as a one-time handoff code
    (``portti-app://activation?handoff=…``), picked up with the verifier of ``code_challenge``."""
    from portti.strongauth.views import get_strong_auth

    strong = get_strong_auth(request, db, clock)
    provider = strong.provider(body.provider)
    if provider.identifier_country != "FI" and not provider.key.startswith("fi"):
        # A refusal, not a malformed request (SEC-20): the provider exists, it is not bank ID.
        raise Forbidden(
            _l("Only Finnish bank ID activates the app without an invitation."),
            code="bank_id_not_finnish",
        )
    url = strong.start(
        provider.key,
        purpose="app_activation",
        browser_id="app",
        session_id=None,
        return_to=(WEB_APP_HANDOFF if body.return_to == "web_app" else "") + body.code_challenge,
        audit=audit,
    )
    return BankIdStartOut(authorization_url=url)


@router.post(
    "/activations/bank-id/handoff",
    operation_id="finish_bank_id_activation",
    response_model=ActivationOut,
)
def finish_bank_id_activation(
    body: BankIdHandoffIn, db: DbSession, accounts: Accounts, activations: Activations
) -> ActivationOut:
    started = activations.finish_bank_id_handoff(body.handoff, body.code_verifier)
    return _activation_out(db, started, accounts)


# -- the bound device (APP-4 … APP-8) --------------------------------------------------------


@router.post(
    "/devices/{device_id}/challenges",
    operation_id="new_device_challenge",
    response_model=ChallengeOut,
    status_code=status.HTTP_201_CREATED,
)
def new_device_challenge(
    device_id: str, body: ChallengeIn, request: Request, devices: Devices
) -> ChallengeOut:
    """A fresh nonce to sign. Single use, valid 2 minutes. Limited per device and per client
    network, and a device holds at most 10 unused, unexpired nonces (`too_many_challenges`)."""
    try:
        ch = devices.challenge(device_id, body.purpose, body.context, client=_ip(request))
    except ValueError as exc:  # the service's shape checks: a client error, not a crash
        raise ValidationFailed(
            {"purpose": _l("Lower-case letters and underscores, at most 40.")}
        ) from exc
    return ChallengeOut(nonce=ch.nonce, expires_at=ch.expires_at)


@router.post("/devices/{device_id}/unlock", operation_id="unlock_app", response_model=AppSessionOut)
def unlock_app(device_id: str, body: UnlockIn, devices: Devices) -> AppSessionOut:
    """PIN or biometrics (APP-5): a signature over the nonce, and the PIN checked here."""
    # Wrong PINs and used nonces are recorded and kept even though this fails.
    session, token = devices.unlock(
        device_id,
        nonce=body.nonce,
        signature=body.signature,
        pin=body.pin,
        biometric_signature=body.biometric_signature,
    )
    return AppSessionOut(app_session_token=token, expires_at=session.expires_at)


@router.post("/session/lock", operation_id="lock_app", status_code=status.HTTP_204_NO_CONTENT)
def lock_app(token: AppSessionToken, devices: Devices) -> Response:
    """Lock (APP-6): ends the app session; unlock again with PIN or biometrics."""
    devices.lock(token)
    return Response(status_code=204)


@router.post("/session/logout", operation_id="log_out_app", status_code=status.HTTP_204_NO_CONTENT)
def log_out_app(token: AppSessionToken, devices: Devices) -> Response:
    """Log out (APP-7): this device's activation ends; activate again with the account."""
    devices.logout(token)
    return Response(status_code=204)


@router.post(
    "/session/logout-everywhere", operation_id="log_out_everywhere", response_model=LoggedOut
)
def log_out_everywhere(token: AppSessionToken, devices: Devices) -> LoggedOut:
    """Log out from all devices (APP-8): every device and web session ends; activating again
    needs a new invitation."""
    count = devices.logout_everywhere(token)
    return LoggedOut(devices_ended=count)


@router.get("/me", operation_id="get_app_me", response_model=MeOut)
def get_app_me(token: AppSessionToken, devices: Devices, db: DbSession, clock: ClockDep) -> MeOut:
    _, device = devices.app_session(token)
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
            for d in devices.devices_for(person.id)
        ],
    )
