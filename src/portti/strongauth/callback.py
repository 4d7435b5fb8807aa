"""The identity provider's callback, for each purpose of a flow: a login (a new web session), a
step-up (the session rotated with its strong authentication) or an app activation (the browser
hands off to the app). Every outcome is audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portti.activation.services import ActivationService
from portti.audit.models import AuditAction
from portti.audit.services import AuditLog, RequestContext
from portti.i18n import _l
from portti.strongauth.services import LoginFailed, StrongAuthService, record_failure
from portti.weblogin.models import WebSession
from portti.weblogin.sessions import SessionService

__all__ = ["NOT_A_USER", "LoginCallback", "LoginOutcome"]

NOT_A_USER = _l(
    "You are not a user of any company in Portti. Ask your company's user administrator to add "
    "you as a user."
)


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


class LoginCallback:
    """Answers the provider's callback: finishes the flow, then acts on its purpose."""

    def __init__(
        self,
        strong: StrongAuthService,
        *,
        sessions: SessionService,
        audit: AuditLog,
        activations: ActivationService,
    ) -> None:
        self.strong = strong
        self.sessions = sessions
        self.audit = audit
        self.activations = activations

    def handle(
        self,
        *,
        state: str,
        code: str | None,
        error: str | None,
        error_description: str | None,
        iss: str | None,
        browser_id: str,
        current: WebSession | None,
        ctx: RequestContext,
    ) -> LoginOutcome:
        """A login (a new web session), a step-up (the session rotated with its strong
        authentication, SEC-11) or an app activation (APP-9: the browser hands off to the app).
        A failure is an answer, not an error, so its audit row is committed with the request."""
        audit = self.audit
        try:
            finished = self.strong.finish(
                state=state,
                code=code,
                error=error,
                error_description=error_description,
                iss=iss,
                browser_id=browser_id,
            )
        except LoginFailed as exc:
            record_failure(audit, exc, actor_person_id=current.person_id if current else None)
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
            handoff = self.activations.start_bank_id_handoff(person.id, flow.return_to)
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
            token, _ = self.sessions.record_step_up(current, method)
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
        token, _ = self.sessions.start(
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
