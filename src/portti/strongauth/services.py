"""Strong authentication flows: start an OIDC authorisation bound to this browser, finish it,
and map the verified national identifier to a person (never creating one)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portti.config import OidcProviderSettings
from portti.errors import DomainError, NotFound
from portti.infra.clock import Clock
from portti.people.identity_numbers import IdentifierKind, InvalidIdentifier, normalise_identifier
from portti.people.models import Person, PersonIdentifier
from portti.strongauth.models import OidcFlow
from portti.strongauth.oidc import (
    JwksCache,
    OidcError,
    VerifiedIdentity,
    complete_authorization,
    start_authorization,
)

FLOW_LIFETIME = timedelta(minutes=10)


class LoginFailed(DomainError):
    status = 400
    code = "login_failed"
    title = "Login did not succeed"

    # What the failed flow was for ("login", "step_up", "app_activation"), when known: a failed
    # step-up is audited as one.
    purpose: str | None = None


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class FinishedFlow:
    flow: OidcFlow
    identity: VerifiedIdentity
    person: Person | None


class StrongAuthService:
    def __init__(
        self,
        db: Session,
        clock: Clock,
        providers: dict[str, OidcProviderSettings],
        *,
        http: httpx.Client,
        jwks: JwksCache,
        redirect_uri: str,
    ) -> None:
        self.db = db
        self.clock = clock
        self.providers = providers
        self.http = http
        self.jwks = jwks
        self.redirect_uri = redirect_uri

    def provider(self, key: str) -> OidcProviderSettings:
        p = self.providers.get(key)
        if p is None:
            raise NotFound("No such identification method.")
        return p

    def start(
        self,
        provider_key: str,
        *,
        purpose: str,
        browser_id: str,
        session_id: str | None,
        return_to: str,
    ) -> str:
        provider = self.provider(provider_key)
        req = start_authorization(provider, self.redirect_uri, fresh=purpose == "step_up")
        now = self.clock.now()
        # Old, unfinished flows are swept on the way.
        self.db.execute(delete(OidcFlow).where(OidcFlow.created_at < now - FLOW_LIFETIME))
        self.db.add(
            OidcFlow(
                state_hash=_sha(req.state),
                provider=provider.key,
                purpose=purpose,
                nonce=req.nonce,
                code_verifier=req.code_verifier,
                browser_binding_hash=_sha(browser_id),
                session_id=session_id,
                return_to=return_to,
                created_at=now,
            )
        )
        return req.url

    def finish(
        self, *, state: str, code: str | None, error: str | None, browser_id: str
    ) -> FinishedFlow:
        flow = self.db.get(OidcFlow, _sha(state)) if state else None
        if flow is None or self.clock.now() - flow.created_at > FLOW_LIFETIME:
            raise LoginFailed(
                "The login took too long or was started elsewhere. Start again.",
                code="oidc_state_mismatch",
            )
        # Single use, whatever the outcome.
        self.db.delete(flow)
        self.db.flush()
        # An app activation (APP-9) ends in the app's browser, not the one that started it;
        # the app proves it is the same app at the handoff instead (PKCE-like challenge).
        if flow.purpose != "app_activation" and not hmac.compare_digest(
            flow.browser_binding_hash, _sha(browser_id)
        ):
            raise LoginFailed(
                "The login was started in another browser. Start again.",
                code="oidc_browser_mismatch",
            )
        if error or not code:
            raise self._failed(
                LoginFailed("The identification was cancelled.", code="oidc_cancelled"), flow
            )
        provider = self.provider(flow.provider)
        try:
            identity = complete_authorization(
                provider,
                http=self.http,
                jwks=self.jwks,
                redirect_uri=self.redirect_uri,
                code=code,
                code_verifier=flow.code_verifier,
                expected_nonce=flow.nonce,
                now=self.clock.now(),
                # SEC-6: a step-up must be an authentication made after it started.
                fresh_since=flow.created_at if flow.purpose == "step_up" else None,
            )
        except OidcError as exc:
            raise self._failed(LoginFailed(str(exc), code=exc.code), flow) from exc
        return FinishedFlow(flow, identity, self.person_for(identity))

    @staticmethod
    def _failed(exc: LoginFailed, flow: OidcFlow) -> LoginFailed:
        exc.purpose = flow.purpose
        return exc

    def person_for(self, identity: VerifiedIdentity) -> Person | None:
        kind = (
            IdentifierKind.FI_HETU if identity.country == "FI" else IdentifierKind.PERSONAL_NUMBER
        )
        try:
            country, value = normalise_identifier(kind, identity.national_id, identity.country)
        except InvalidIdentifier:
            return None
        return self.db.scalars(
            select(Person)
            .join(PersonIdentifier)
            .where(
                PersonIdentifier.kind == kind,
                PersonIdentifier.country == country,
                PersonIdentifier.value == value,
            )
        ).one_or_none()
