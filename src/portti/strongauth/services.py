"""Strong authentication flows: start an OIDC authorisation bound to this browser, finish it,
and map the verified national identifier to a person (never creating one)."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import structlog
from cryptography.exceptions import InvalidTag
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portti.config import OidcProviderSettings
from portti.errors import DomainError, NotFound
from portti.i18n import _l
from portti.infra.clock import Clock
from portti.infra.crypto import SecretBox, bound_to
from portti.keys.services import KeyStore
from portti.people.identity_numbers import IdentifierKind, InvalidIdentifier, normalise_identifier
from portti.people.models import Person, PersonIdentifier
from portti.strongauth.discovery import DiscoveryCache, DiscoveryError, Endpoints
from portti.strongauth.models import OidcFlow
from portti.strongauth.oidc import (
    JwksCache,
    OidcError,
    VerifiedIdentity,
    callback_error,
    complete_authorization,
    safe_provider_text,
    start_authorization,
)

if TYPE_CHECKING:
    from portti.activation.services import ActivationService
    from portti.audit.services import AuditLog, RequestContext
    from portti.weblogin.models import WebSession
    from portti.weblogin.sessions import SessionService

log = structlog.get_logger(__name__)

FLOW_LIFETIME = timedelta(minutes=10)

NOT_A_USER = _l(
    "You are not a user of any company in Portti. Ask your company's user administrator to add "
    "you as a user."
)


class LoginFailed(DomainError):
    status = 400
    code = "login_failed"
    title = _l("Login did not succeed")

    # What the failed flow was for ("login", "step_up", "app_activation"), when known: a failed
    # step-up is audited as one.
    purpose: str | None = None
    provider: str | None = None
    # For the audit row: the provider's own error and description, never shown as such.
    details: dict[str, str] | None = None


class LoginStartFailed(LoginFailed):
    """A login that could not be started; its ``login_failed`` row is committed (OIDC-8)."""

    keeps_writes = True


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class FinishedFlow:
    flow: OidcFlow
    identity: VerifiedIdentity
    person: Person | None


@dataclass(frozen=True)
class LoginOutcome:
    """Where the identity provider's callback sends the browser: to ``redirect_to`` (with a new
    session cookie when ``session_token`` is set), or to the "login failed" page."""

    redirect_to: str | None = None
    session_token: str | None = None
    failure: str | None = None
    status: int = 303

    @classmethod
    def failed(cls, message: str, status: int) -> LoginOutcome:
        return cls(failure=message, status=status)


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
        keys: KeyStore | None = None,
        discovery: DiscoveryCache | None = None,
        secret: bytes,
    ) -> None:
        self.secret = secret
        self.db = db
        self.clock = clock
        self.providers = providers
        self.http = http
        self.jwks = jwks
        self.redirect_uri = redirect_uri
        self.keys = keys
        self.discovery = discovery or DiscoveryCache(http)

    def endpoints(self, provider: OidcProviderSettings) -> Endpoints:
        try:
            return self.discovery.endpoints(provider)
        except DiscoveryError as exc:
            failed = LoginFailed(
                _l("The identity provider cannot be reached right now. Try again in a moment."),
                code="oidc_discovery_failed",
            )
            failed.details = {"cause": exc.reason}
            raise failed from exc

    def provider(self, key: str) -> OidcProviderSettings:
        p = self.providers.get(key)
        if p is None:
            raise NotFound(_l("No such identification method."))
        return p

    def start(
        self,
        provider_key: str,
        *,
        purpose: str,
        browser_id: str,
        session_id: str | None,
        return_to: str,
        audit: AuditLog | None = None,
        actor_person_id: int | None = None,
    ) -> str:
        provider = self.provider(provider_key)
        try:
            endpoints = self.endpoints(provider)
            try:
                req = start_authorization(
                    provider,
                    self.redirect_uri,
                    fresh=purpose == "step_up",
                    endpoints=endpoints,
                    keys=self.keys,
                    http=self.http,
                )
            except OidcError as exc:
                # A pushed request that failed may mean the metadata moved: read it again
                # next time.
                self.discovery.invalidate(provider.issuer)
                failed = LoginFailed(exc.message, code=exc.code)
                failed.details = {"cause": exc.reason or "provider_error"}
                if exc.provider_error:
                    failed.details["error"] = exc.provider_error
                raise failed from exc
        except LoginFailed as failed:
            failed.purpose, failed.provider = purpose, provider.key
            raise self._start_failed(failed, audit, actor_person_id) from failed
        # (The request above may sign with, and so first create, Portti's keys, and push to the
        # provider: both before this transaction writes, so no database lock is held meanwhile.)
        now = self.clock.now()
        # Old, unfinished flows are swept on the way.
        self.db.execute(delete(OidcFlow).where(OidcFlow.created_at < now - FLOW_LIFETIME))
        self.db.add(
            OidcFlow(
                state_hash=_sha(req.state),
                provider=provider.key,
                purpose=purpose,
                sealed=self._flow_box(req.state).seal(
                    json.dumps({"nonce": req.nonce, "code_verifier": req.code_verifier}),
                    context=_sha(req.state),
                ),
                browser_binding_hash=_sha(browser_id),
                session_id=session_id,
                return_to=return_to,
                created_at=now,
            )
        )
        return req.url

    def finish(
        self,
        *,
        state: str,
        code: str | None,
        error: str | None,
        browser_id: str,
        error_description: str | None = None,
        iss: str | None = None,
    ) -> FinishedFlow:
        flow = self.db.get(OidcFlow, _sha(state)) if state else None
        if flow is None or self.clock.now() - flow.created_at > FLOW_LIFETIME:
            raise LoginFailed(
                _l("The login took too long or was started elsewhere. Start again."),
                code="oidc_state_mismatch",
            )
        # An app activation (APP-9) ends in the app's browser, not the one that started it;
        # the app proves it is the same app at the handoff instead (PKCE-like challenge).
        # A callback in another browser is refused without touching the flow: whoever got hold
        # of the URL must not be able to spend the genuine login.
        if flow.purpose != "app_activation" and not hmac.compare_digest(
            flow.browser_binding_hash, _sha(browser_id)
        ):
            raise LoginFailed(
                _l("The login was started in another browser. Start again."),
                code="oidc_browser_mismatch",
            )
        # Single use, whatever the outcome, from here on. Committed before the provider is
        # called: the use is then final, and no database lock is held during the round trip
        # (the provider may call back, e.g. for Portti's key set).
        self.db.delete(flow)
        self.db.commit()
        provider = self.provider(flow.provider)
        endpoints = self.endpoints(provider)
        # RFC 9207: the response names the provider that sent it (mix-up defence).
        if (iss is not None and iss != provider.issuer) or (
            iss is None and endpoints.iss_parameter_supported
        ):
            raise self._failed(
                LoginFailed(
                    _l(
                        "The answer did not come from the identity provider the login was started "
                        "with. Start again."
                    ),
                    code="oidc_issuer_mismatch",
                ),
                flow,
            )
        if error or not code:
            oidc = callback_error(error or "access_denied")
            cancelled = error in (None, "", "access_denied")
            failed = LoginFailed(oidc.message, code="oidc_cancelled" if cancelled else oidc.code)
            failed.details = {"error": error if error and len(error) <= 64 else "invalid"}
            description = safe_provider_text(error_description)
            if description:
                failed.details["error_description"] = description
            raise self._failed(failed, flow)
        secrets_of_flow = self._open_flow(flow, state)
        try:
            identity = complete_authorization(
                provider,
                http=self.http,
                jwks=self.jwks,
                redirect_uri=self.redirect_uri,
                code=code,
                code_verifier=secrets_of_flow["code_verifier"],
                expected_nonce=secrets_of_flow["nonce"],
                now=self.clock.now(),
                # SEC-6: a step-up must be an authentication made after it started.
                fresh_since=flow.created_at if flow.purpose == "step_up" else None,
                endpoints=endpoints,
                keys=self.keys,
            )
        except OidcError as exc:
            if exc.code == OidcError.TOKEN_EXCHANGE_FAILED:
                self.discovery.invalidate(provider.issuer)
            raise self._failed(LoginFailed(exc.message, code=exc.code), flow) from exc
        return FinishedFlow(flow, identity, self.person_for(identity))

    def _flow_box(self, state: str) -> SecretBox:
        """SEC-28: the flow's nonce and PKCE verifier are sealed under a key derived from the
        root secret and the state, which only the browser holds; the row keeps its hash."""
        return SecretBox(bound_to(self.secret, b"|" + state.encode()), "oidc-flow")

    def _open_flow(self, flow: OidcFlow, state: str) -> dict[str, str]:
        try:
            data = json.loads(self._flow_box(state).open(flow.sealed, context=flow.state_hash))
        except (ValueError, InvalidTag) as exc:
            raise self._failed(
                LoginFailed(
                    _l("The login took too long or was started elsewhere. Start again."),
                    code="oidc_state_mismatch",
                ),
                flow,
            ) from exc
        return {"nonce": str(data["nonce"]), "code_verifier": str(data["code_verifier"])}

    @staticmethod
    def _start_failed(
        failed: LoginFailed, audit: AuditLog | None, actor_person_id: int | None
    ) -> LoginFailed:
        """OIDC-8: a login that could not even be started (the broker unreachable, its TLS
        certificate not trusted, the pushed request refused) is audited and logged with the
        reason, like one that failed at the callback. The person sees the readable page."""
        from portti.audit.models import AuditAction

        cause = (failed.details or {}).get("cause", "provider_error")
        log.warning(
            "login_start_failed",
            provider=failed.provider,
            purpose=failed.purpose,
            reason=failed.code,
            cause=cause,
        )
        if audit is None:
            return failed
        extra: dict[str, Any] = {**(failed.details or {}), "method": f"oidc:{failed.provider}"}
        extra["stage"] = "start"
        if failed.purpose == "step_up":
            audit.record(
                AuditAction.STEP_UP_FAILED,
                actor_person_id=actor_person_id,
                reason=failed.code,
                **extra,
            )
        else:
            if failed.purpose == "app_activation":
                extra["purpose"] = "app_activation"
            audit.record(AuditAction.LOGIN_FAILED, reason=failed.code, **extra)
        started = LoginStartFailed(failed.message, code=failed.code)
        started.purpose, started.provider, started.details = (
            failed.purpose,
            failed.provider,
            failed.details,
        )
        return started

    @staticmethod
    def _failed(exc: LoginFailed, flow: OidcFlow) -> LoginFailed:
        exc.purpose = flow.purpose
        exc.provider = flow.provider
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

    def finish_login(
        self,
        *,
        state: str,
        code: str | None,
        error: str | None,
        error_description: str | None,
        iss: str | None,
        browser_id: str,
        current: WebSession | None,
        sessions: SessionService,
        audit: AuditLog,
        ctx: RequestContext,
        activations: ActivationService,
    ) -> LoginOutcome:
        """The provider's callback, for each purpose: a login (a new web session), a step-up (the
        session rotated with its strong authentication, SEC-11) or an app activation (APP-9: the
        browser hands off to the app). Every outcome is audited; a failure is an answer, not an
        error, so its audit row is committed with the request."""
        from portti.audit.models import AuditAction

        try:
            finished = self.finish(
                state=state,
                code=code,
                error=error,
                error_description=error_description,
                iss=iss,
                browser_id=browser_id,
            )
        except LoginFailed as exc:
            extra: dict[str, Any] = dict(exc.details or {})
            if exc.provider:
                extra["method"] = f"oidc:{exc.provider}"
            if exc.purpose == "step_up":
                audit.record(
                    AuditAction.STEP_UP_FAILED,
                    actor_person_id=current.person_id if current else None,
                    reason=exc.code,
                    **extra,
                )
            else:
                if exc.purpose == "app_activation":
                    extra["purpose"] = "app_activation"
                audit.record(AuditAction.LOGIN_FAILED, reason=exc.code, **extra)
            return LoginOutcome.failed(exc.message, 400)
        flow, person = finished.flow, finished.person
        method = f"oidc:{flow.provider}"
        assurance: dict[str, Any] = {"acr": finished.identity.acr}
        if finished.identity.amr:
            assurance["amr"] = list(finished.identity.amr)

        if flow.purpose == "app_activation":
            if person is None:
                audit.record(
                    AuditAction.LOGIN_FAILED,
                    method=method,
                    reason="unknown_person",
                    purpose="app_activation",
                )
                return LoginOutcome.failed(NOT_A_USER, 403)
            handoff = activations.start_bank_id_handoff(person.id, flow.return_to)
            audit.record(
                AuditAction.LOGIN_SUCCEEDED,
                actor_person_id=person.id,
                subject_person_id=person.id,
                method=method,
                purpose="app_activation",
                **assurance,
            )
            return LoginOutcome(redirect_to=handoff.url)

        if flow.purpose == "step_up":
            if (
                current is None
                or current.id != flow.session_id
                or person is None
                or person.id != current.person_id
            ):
                audit.record(
                    AuditAction.STEP_UP_FAILED,
                    actor_person_id=current.person_id if current else None,
                    method=method,
                    reason="identity_mismatch",
                )
                return LoginOutcome.failed(
                    "The identity you authenticated with is not the one logged in here. "
                    "Authenticate as yourself.",
                    403,
                )
            token, _ = sessions.record_step_up(current, method)
            audit.record(
                AuditAction.STEP_UP_SUCCEEDED,
                actor_person_id=person.id,
                subject_person_id=person.id,
                method=method,
                **assurance,
            )
            return LoginOutcome(redirect_to=flow.return_to or "/", session_token=token)

        if person is None:
            audit.record(
                AuditAction.LOGIN_FAILED,
                method=method,
                reason="unknown_person",
                country=finished.identity.country,
            )
            return LoginOutcome.failed(NOT_A_USER, 403)
        token, _ = sessions.start(
            person.id,
            method=method,
            strong=False,
            ctx=ctx,
            replaces=current.id if current else None,
            acr=finished.identity.acr,
            amr=list(finished.identity.amr[:10]),
        )
        audit.record(
            AuditAction.LOGIN_SUCCEEDED,
            actor_person_id=person.id,
            subject_person_id=person.id,
            method=method,
            **assurance,
        )
        target = flow.return_to if flow.return_to not in ("", "/") else "/companies"
        return LoginOutcome(redirect_to=target, session_token=token)
