"""Which step an app activation is at, and its completion. One place decides, so the app and the
server agree::

    invitation: confirm_phone → account (new: verify_email → password → totp | existing) → terms → device
    account:    terms → device        (the account's password and TOTP were checked to start it)
    bank_id:    terms → device        (Finnish bank ID instead of an invitation, APP-9)

The last step binds the device; the activation is then complete, and an invitation's is
activated with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.accounts.models import Account, TermsAcceptance
from portti.accounts.terms_text import current_terms_text
from portti.activation.models import Activation
from portti.activation.services import ActivationService
from portti.devices.binding import DeviceBinding
from portti.devices.models import ActivationKind, Device
from portti.errors import WrongStep
from portti.i18n import _l
from portti.infra.clock import Clock
from portti.invitations.errors import InvitationExpired, WrongInvitationState
from portti.invitations.models import Invitation, InvitationStatus
from portti.invitations.services import mask_phone
from portti.invitations.signup import SignupService


def next_step(db: Session, act: Activation, current_terms: str) -> str:
    if act.completed_at is not None:
        return "done"
    if act.kind == ActivationKind.INVITATION:
        inv = db.get(Invitation, act.invitation_id)
        if inv is None or inv.status == InvitationStatus.CODE_ENTERED:
            return "confirm_phone"
        account = db.get(Account, act.account_id) if act.account_id else None
        if account is None:
            if act.email_to_verify and act.email_verified_at is None:
                return "verify_email"
            if act.email_verified_at is not None:
                return "password"
            return "account"
        if act.totp_confirmed_at is None:
            return "totp"
    if act.terms_version != current_terms and not _accepted(db, act.person_id, current_terms):
        return "terms"
    return "device"


def _accepted(db: Session, person_id: int, version: str) -> bool:
    """Someone who accepted the current terms before (e.g. re-activating) is not asked again."""
    return (
        db.scalar(
            select(TermsAcceptance.id)
            .where(TermsAcceptance.person_id == person_id, TermsAcceptance.version == version)
            .limit(1)
        )
        is not None
    )


def current_step(db: Session, act: Activation) -> str:
    """The step ``act`` is at, against the current terms."""
    return next_step(db, act, current_terms_text()[0])


def require_step(db: Session, act: Activation, current_terms: str, *allowed: str) -> str:
    step = next_step(db, act, current_terms)
    if step not in allowed:
        raise WrongStep(
            _l("The activation is at the step “%(step)s”.", step=step),
            next_step=_l("Continue with %(step)s.", step=step),
        )
    return step


@dataclass(frozen=True)
class Redeemed:
    invitation: Invitation
    activation_token: str
    phone_hint: str


class ActivationSteps:
    """The app's activation in progress, found by its bearer token: its invitation's first steps
    (sign-up code, confirmation code), the step it is at, and its last step, binding the device,
    which completes it."""

    def __init__(
        self,
        db: Session,
        clock: Clock,
        signup: SignupService,
        devices: DeviceBinding,
        *,
        secret: bytes,
    ) -> None:
        self.db = db
        self.clock = clock
        self.signup = signup
        self.devices = devices
        self.activations = ActivationService(db, clock, secret)

    # -- the invitation's first steps (APP-1) --------------------------------------------------

    def redeem_signup_code(self, code: str, *, client: str) -> Redeemed:
        """The sign-up code from the e-mail: the invitation's activation starts, and the phone
        gets its confirmation code."""
        inv = self.signup.claim_signup_code(code, client=client)
        started = self.activations.start_for_invitation(inv)
        return Redeemed(inv, started.token, mask_phone(inv.phone))

    def invitation(self, token: str, *, statuses: frozenset[InvitationStatus]) -> Invitation:
        """The invitation the app's activation started from, refused unless in ``statuses``."""
        act = self.current(token)
        if act.invitation_id is None:
            raise WrongInvitationState(_l("This activation did not start from an invitation."))
        inv = self._live_invitation(act)
        self.signup.require_status(inv, statuses)
        return inv

    def resend_sms_code(self, token: str) -> int:
        inv = self.invitation(token, statuses=frozenset({InvitationStatus.CODE_ENTERED}))
        return self.signup.resend_sms_code(inv)

    def confirm_phone(self, token: str, code: str, *, client: str) -> Invitation:
        self.signup.limit_confirmations(client)
        inv = self.invitation(token, statuses=frozenset({InvitationStatus.CODE_ENTERED}))
        return self.signup.confirm_phone(inv, code)

    # -- the activation in progress ------------------------------------------------------------

    def current(self, token: str) -> Activation:
        """The app's activation in progress, by its bearer token."""
        act = self.activations.by_token(token)
        if act.invitation_id is None:
            if self.clock.now() >= act.expires_at:
                raise InvitationExpired()
        else:
            # SEC-2: an invitation's activation lives exactly as long as its invitation (an
            # admin code extends both): cancelled, superseded or expired, every later step —
            # account, terms, PIN, binding — is refused here, the one place they all pass.
            self._live_invitation(act)
        return act

    def _live_invitation(self, act: Activation) -> Invitation:
        assert act.invitation_id is not None
        inv = self.signup.live(act.invitation_id)
        # The admin's code may have extended the invitation; the activation follows it.
        if act.expires_at != inv.expires_at:
            act.expires_at = inv.expires_at
        return inv

    def at(self, token: str, *steps: str) -> Activation:
        """The activation, refused unless it is at one of ``steps``."""
        act = self.current(token)
        require_step(self.db, act, current_terms_text()[0], *steps)
        return act

    def next(self, act: Activation) -> str:
        return current_step(self.db, act)

    # -- the last step: the device (APP-4) -----------------------------------------------------

    def bind_device(
        self,
        token: str,
        *,
        name: str,
        platform: str,
        key_alg: str,
        public_key: str,
        pin: str,
        biometric_key_alg: str | None = None,
        biometric_public_key: str | None = None,
        replaces_device: str | None = None,
    ) -> tuple[Activation, Device]:
        """The last step: the device's public key(s) and the PIN. The activation is complete,
        and an invitation's activation marks its invitation activated."""
        act = self.at(token, "device")
        device, _ = self.devices.bind(
            act,
            name=name,
            platform=platform,
            key_alg=key_alg,
            public_key=public_key,
            pin=pin,
            biometric_key_alg=biometric_key_alg,
            biometric_public_key=biometric_public_key,
            replaces_device=replaces_device,
        )
        if act.kind == ActivationKind.INVITATION:
            inv = self.invitation(token, statuses=frozenset({InvitationStatus.PHONE_CONFIRMED}))
            self.signup.mark_activated(inv)
        act.completed_at = self.clock.now()
        return act, device
