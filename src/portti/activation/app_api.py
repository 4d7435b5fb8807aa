"""The app's activation API after the confirmation code (APP-1 … APP-9): account, TOTP, terms,
device binding; re-activation with the account or with Finnish bank ID. Every error is a problem
document with a stable ``code``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.orm import Session

from portti.accounts.deps import Accounts
from portti.activation.deps import AccountStepsDep, Activations, Steps
from portti.activation.models import Activation
from portti.activation.services import (
    WEB_APP_HANDOFF,
    StartedActivation,
    require_finnish_bank_id,
)
from portti.activation.steps import current_step
from portti.devices.app_api import PROBLEMS, person_out
from portti.devices.schemas import (
    AccountLoginIn,
    ActivationOut,
    BankIdHandoffIn,
    BankIdStartIn,
    BankIdStartOut,
    CodeIn,
    DeviceBound,
    DeviceIn,
    EmailIn,
    NextStep,
    PasswordIn,
    TermsIn,
    TermsOut,
    TotpEnrolmentOut,
)
from portti.i18n import current_language
from portti.invitations.app_api import ActivationToken
from portti.people.models import Person
from portti.strongauth.views import get_strong_auth
from portti.web.deps import Audit, ClockDep, DbSession, Uow, client_ip

router = APIRouter(prefix="/app-api/v1", tags=["app"], responses=PROBLEMS)


def _ip(request: Request) -> str:
    return client_ip(request) or "unknown"


def _activation_out(db: Session, started: StartedActivation) -> ActivationOut:
    act = started.activation
    person = db.get(Person, act.person_id)
    assert person is not None
    step = current_step(db, act)
    return ActivationOut(activation_token=started.token, step=step, person=person_out(person))


def _next(steps: Steps, act: Activation) -> NextStep:
    return NextStep(step=steps.next(act))


# -- account (APP-2) -----------------------------------------------------------------------


@router.post(
    "/activations/current/account", operation_id="start_new_account", response_model=NextStep
)
def start_new_account(
    body: EmailIn,
    request: Request,
    token: ActivationToken,
    steps: Steps,
    account_steps: AccountStepsDep,
    uow: Uow,
) -> NextStep:
    """“Create an account”: sends a 6-digit code to the e-mail address to confirm it."""
    act = steps.at(token, "account", "verify_email")
    account_steps.start_new_account(act, body.email)
    return _next(steps, act)


@router.post(
    "/activations/current/account/email-code",
    operation_id="verify_account_email",
    response_model=NextStep,
)
def verify_account_email(
    body: CodeIn,
    token: ActivationToken,
    steps: Steps,
    account_steps: AccountStepsDep,
) -> NextStep:
    act = steps.at(token, "verify_email")
    # A wrong code is counted and kept (EmailCodeWrong.keeps_writes).
    account_steps.verify_email(act, body.code)
    return _next(steps, act)


@router.post(
    "/activations/current/account/password",
    operation_id="set_account_password",
    response_model=NextStep,
)
def set_account_password(
    body: PasswordIn,
    token: ActivationToken,
    steps: Steps,
    account_steps: AccountStepsDep,
) -> NextStep:
    act = steps.at(token, "password")
    account_steps.set_password(act, body.password)
    return _next(steps, act)


@router.post(
    "/activations/current/account/totp",
    operation_id="start_totp_enrolment",
    response_model=TotpEnrolmentOut,
)
def start_totp_enrolment(
    token: ActivationToken,
    steps: Steps,
    account_steps: AccountStepsDep,
    response: Response,
) -> TotpEnrolmentOut:
    """The authenticator app's seed: shown once, as a QR code and as text."""
    act = steps.at(token, "totp")
    enrolment = account_steps.start_totp(act)
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
    token: ActivationToken,
    steps: Steps,
    account_steps: AccountStepsDep,
) -> NextStep:
    act = steps.at(token, "totp")
    account_steps.confirm_totp(act, body.code)
    return _next(steps, act)


@router.post(
    "/activations/current/existing-account",
    operation_id="log_in_to_existing_account",
    response_model=NextStep,
)
def log_in_to_existing_account(
    body: AccountLoginIn,
    request: Request,
    token: ActivationToken,
    steps: Steps,
    account_steps: AccountStepsDep,
) -> NextStep:
    """“Log in with your account”: e-mail, password and a code from the authenticator app."""
    act = steps.at(token, "account")
    # Failures count towards the lockout, and are kept when the login is refused.
    account = account_steps.accounts.login(
        body.email, body.password, body.totp_code, client=_ip(request), person_id=act.person_id
    )
    account_steps.link_existing_account(act, account)
    return _next(steps, act)


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
    token: ActivationToken,
    steps: Steps,
    account_steps: AccountStepsDep,
) -> NextStep:
    act = steps.at(token, "terms")
    account_steps.accept_terms(act, body.version, ip=client_ip(request))
    return _next(steps, act)


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
    token: ActivationToken,
    steps: Steps,
    db: DbSession,
    uow: Uow,
) -> DeviceBound:
    """The last step: the device's public key(s) and the PIN. The private key never leaves."""
    act, device = steps.bind_device(
        token,
        name=body.name,
        platform=body.platform,
        key_alg=body.key_alg,
        public_key=body.public_key,
        pin=body.pin,
        biometric_key_alg=body.biometric_key_alg,
        biometric_public_key=body.biometric_public_key,
        replaces_device=body.replaces_device,
    )
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
    return _activation_out(db, activations.start_with_account(account))


# -- Finnish users: bank ID instead of an invitation (APP-9) --------------------------------


@router.post(
    "/activations/bank-id", operation_id="start_bank_id_activation", response_model=BankIdStartOut
)
def start_bank_id_activation(
    body: BankIdStartIn, request: Request, db: DbSession, clock: ClockDep, audit: Audit
) -> BankIdStartOut:
    """Opens bank ID in a browser. The result comes back to the app as a one-time handoff code
    (``portti-app://activation?handoff=…``), picked up with the verifier of ``code_challenge``."""
    strong = get_strong_auth(request, db, clock)
    provider = strong.provider(body.provider)
    require_finnish_bank_id(provider)
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
    body: BankIdHandoffIn, db: DbSession, activations: Activations
) -> ActivationOut:
    started = activations.finish_bank_id_handoff(body.handoff, body.code_verifier)
    return _activation_out(db, started)
