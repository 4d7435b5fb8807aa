"""Where app activations start: from a redeemed invitation, from the account's login ("two-factor
already done", APP-7), and from Finnish bank ID (APP-9), handed from the browser to the app."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.accounts.models import Account
from portti.activation.errors import BankIdNotFinnish
from portti.activation.models import Activation
from portti.config import OidcProviderSettings
from portti.devices.models import ActivationKind
from portti.infra.clock import Clock
from portti.infra.crypto import CodeHasher
from portti.invitations.errors import ActivationUnknown
from portti.invitations.models import Invitation

# Terms and PIN after the account's login or the bank-ID hand-off.
ACCOUNT_ACTIVATION_LIFETIME = timedelta(minutes=30)
# The browser part of a bank-ID activation: from the callback to the app's hand-off.
BANK_ID_HANDOFF_LIFETIME = timedelta(minutes=10)
# Marks a bank-ID activation started by the web app: the browser goes back to /app/, not to
# the portti-app:// scheme.
WEB_APP_HANDOFF = "web_app:"


@dataclass(frozen=True)
class StartedActivation:
    activation: Activation
    token: str  # the app's bearer token for the next steps; only its hash is stored


@dataclass(frozen=True)
class BankIdHandoff:
    code: str  # one-time, exchanged by the app with the verifier of its challenge
    web_app: bool  # started by the web app: the browser goes back to /app/

    @property
    def url(self) -> str:
        if self.web_app:
            return f"/app/#handoff={self.code}"
        return f"portti-app://activation?handoff={self.code}"


def require_finnish_bank_id(provider: OidcProviderSettings) -> None:
    """APP-9: only Finnish bank ID activates the app without an invitation."""
    if provider.identifier_country != "FI" and not provider.key.startswith("fi"):
        raise BankIdNotFinnish()


class ActivationService:
    """Where app activations are made: from a redeemed invitation (the invitation service asks),
    from the account's login ("two-factor already done", APP-7), and from Finnish bank ID
    (APP-9), handed from the browser to the app with a PKCE-like challenge."""

    def __init__(self, db: Session, clock: Clock, secret: bytes) -> None:
        self.db = db
        self.clock = clock
        self.token_hasher = CodeHasher(secret, "activation-token")
        self.handoff_hasher = CodeHasher(secret, "bank-id-handoff")
        self._unused = CodeHasher(secret, "unused-activation")

    def by_token(self, token: str) -> Activation:
        """The activation the app's bearer token is for, while neither ended nor complete
        (locked: its steps run one at a time). Whether it is still live is the steps' to say."""
        if not token or len(token) > 100:
            raise ActivationUnknown()
        act = self.db.scalars(
            select(Activation)
            .where(Activation.token_hash.in_(self.token_hasher.hashes(token)))
            .with_for_update()
        ).one_or_none()
        if act is None or act.ended_at is not None or act.completed_at is not None:
            raise ActivationUnknown()
        return act

    def start_for_invitation(self, invitation: Invitation) -> StartedActivation:
        """A redeemed sign-up code: the phone is confirmed next; it lasts as the invitation."""
        token = secrets.token_urlsafe(32)
        act = Activation(
            token_hash=self.token_hasher.hash(token),
            kind=ActivationKind.INVITATION,
            person_id=invitation.person_id,
            invitation_id=invitation.id,
            created_at=self.clock.now(),
            expires_at=invitation.expires_at,
        )
        self.db.add(act)
        return StartedActivation(act, token)

    def start_with_account(self, account: Account) -> StartedActivation:
        """The account's password and TOTP were just checked: terms and PIN are left."""
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        act = Activation(
            token_hash=self.token_hasher.hash(token),
            kind=ActivationKind.ACCOUNT,
            person_id=account.person_id,
            account_id=account.id,
            email_verified_at=now,
            totp_confirmed_at=now,
            created_at=now,
            expires_at=now + ACCOUNT_ACTIVATION_LIFETIME,
        )
        self.db.add(act)
        self.db.flush()
        return StartedActivation(act, token)

    def start_bank_id_handoff(self, person_id: int, return_to: str) -> BankIdHandoff:
        """Bank ID identified the person in a browser: an activation the app picks up with the
        verifier of the challenge it started with (``return_to`` of the flow carries it)."""
        web_app = return_to.startswith(WEB_APP_HANDOFF)
        handoff = secrets.token_urlsafe(32)
        now = self.clock.now()
        self.db.add(
            Activation(
                # Not usable until the hand-off gives it a token of its own.
                token_hash=self._unused.hash(secrets.token_hex(16)),
                kind=ActivationKind.BANK_ID,
                person_id=person_id,
                handoff_hash=self.handoff_hasher.hash(handoff),
                handoff_challenge=return_to.removeprefix(WEB_APP_HANDOFF),
                created_at=now,
                expires_at=now + BANK_ID_HANDOFF_LIFETIME,
            )
        )
        return BankIdHandoff(handoff, web_app)

    def finish_bank_id_handoff(self, handoff: str, code_verifier: str) -> StartedActivation:
        """The app proves it is the one that started (S256 of its verifier is the challenge)
        and gets the activation's token. One answer for every refusal: ``ActivationUnknown``."""
        act = self.db.scalars(
            select(Activation).where(
                Activation.handoff_hash.in_(self.handoff_hasher.hashes(handoff))
            )
        ).one_or_none()
        now = self.clock.now()
        if act is None or act.handoff_challenge is None or now >= act.expires_at:
            raise ActivationUnknown()
        if not hmac.compare_digest(s256(code_verifier), act.handoff_challenge):
            raise ActivationUnknown()
        token = secrets.token_urlsafe(32)
        act.token_hash = self.token_hasher.hash(token)
        act.handoff_hash = None
        act.handoff_challenge = None
        # The browser part had 10 minutes; terms and PIN get as long as an account activation.
        act.expires_at = now + ACCOUNT_ACTIVATION_LIFETIME
        return StartedActivation(act, token)


def s256(code_verifier: str) -> str:
    """RFC 7636's S256: the challenge a verifier answers."""
    digest = hashlib.sha256(code_verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
