"""The browser's side of a QR login (WEB-1, ADM-2): starting a transaction for the browser that
holds a binding cookie, showing its frames, and picking up the result once the app approved."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from portti.audit.models import AuditAction
from portti.audit.services import RequestContext
from portti.devices.models import Device
from portti.devices.reach import device_carries, device_companies
from portti.errors import NotFound
from portti.i18n import _l
from portti.infra import metrics
from portti.qrlogin.frames import elapsed_seconds
from portti.qrlogin.machine import LIFETIME, METHOD, STEP_UP_METHOD, LoginMachine
from portti.qrlogin.requester import origin_of
from portti.qrlogin.state import binding_hash, binding_matches
from portti.weblogin.errors import (
    ApprovalNotYours,
    ApprovalUsed,
    BrowserMismatch,
    LoginEnded,
    LoginExpired,
    StepUpDeviceNotForCompany,
    StepUpMismatch,
)
from portti.weblogin.models import (
    LoginPurpose,
    LoginTransaction,
    LoginTransactionStatus,
    WebSession,
)
from portti.weblogin.sessions import SessionService

Status = LoginTransactionStatus

START_LIMIT = "30/minute"


@dataclass(frozen=True)
class Completion:
    transaction: LoginTransaction
    session_token: str  # a new web session: a login, or the rotated one after a step-up


class BrowserLogins(LoginMachine):
    def start(
        self,
        *,
        binding_cookie: str,
        ctx: RequestContext,
        browser_id: str,
        return_to: str = "/",
        step_up_of: WebSession | None = None,
        origin: str | None = None,
    ) -> LoginTransaction:
        """A new transaction for the browser that holds ``binding_cookie``, which is on the
        site ``origin`` (its ``Origin`` header; the app shows it). It has no code to type until
        the browser asks for one (``issue_short_code``). With ``step_up_of`` it is a step-up of
        that session, which only its person's app may approve."""
        if self.limiter is not None:
            self.limiter.hit(START_LIMIT, "login-qr-start", browser_id)
        now = self.clock.now()
        number = 10 + secrets.randbelow(90)
        others = secrets.SystemRandom().sample([n for n in range(10, 100) if n != number], 2)
        choices = sorted([number, *others])
        metrics.QR_LOGINS.labels("started").inc()
        tx = LoginTransaction(
            public_id=secrets.token_urlsafe(16),
            purpose=LoginPurpose.STEP_UP if step_up_of else LoginPurpose.LOGIN,
            status=Status.PENDING,
            browser_binding_hash=binding_hash(binding_cookie),
            number=number,
            number_choices=",".join(str(n) for n in choices),
            web_session_id=step_up_of.id if step_up_of else None,
            return_to=return_to[:300],
            ip=ctx.ip,
            user_agent=(ctx.user_agent or "")[:300] or None,
            origin=origin_of(origin),
            created_at=now,
            expires_at=now + LIFETIME,
        )
        if step_up_of is not None:
            self._replace_open(step_up_of.person_id, now)
            tx.person_id = step_up_of.person_id
        self.db.add(tx)
        self._flush_claim()
        return tx

    @staticmethod
    def binding_matches(tx: LoginTransaction, cookie: str | None) -> bool:
        return binding_matches(tx.browser_binding_hash, cookie)

    def for_browser(self, public_id: str, cookie: str | None) -> LoginTransaction:
        """The transaction, for the browser that showed it only."""
        tx = self.get(public_id)
        if tx is None or not self.binding_matches(tx, cookie):
            raise NotFound(_l("No such login."))
        return tx

    def current_frame(self, tx: LoginTransaction) -> str:
        return self.frames.payload(tx.public_id, elapsed_seconds(tx.created_at, self.clock.now()))

    def complete(
        self,
        public_id: str,
        cookie: str | None,
        *,
        current: WebSession | None,
        sessions: SessionService,
        ctx: RequestContext,
    ) -> Completion:
        """The approved browser picks its result up: a fresh web session (login), or a recorded
        step-up of its session. Single use."""
        tx = self.get(public_id)
        if tx is None:
            raise NotFound(_l("No such login."))
        if not self.binding_matches(tx, cookie):
            self._record_failure(
                tx,
                "browser_mismatch",
                actor_person_id=current.person_id if current else None,
                subject_person_id=tx.person_id,
            )
            raise BrowserMismatch()
        status = self.effective_status(tx)
        if status == Status.COMPLETED:
            raise ApprovalUsed()
        if status == Status.EXPIRED:
            raise LoginExpired()
        if status == Status.REJECTED:
            raise LoginEnded()
        if status != Status.APPROVED or tx.person_id is None:
            raise ApprovalNotYours()
        if tx.purpose == LoginPurpose.STEP_UP and (
            current is None or current.id != tx.web_session_id or current.person_id != tx.person_id
        ):
            self.audit.record(
                AuditAction.STEP_UP_FAILED,
                actor_person_id=current.person_id if current else None,
                subject_person_id=tx.person_id,
                method=STEP_UP_METHOD,
                reason="session_mismatch",
                approval=tx.public_id,
            )
            raise StepUpMismatch()
        device = self.db.get(Device, tx.device_id) if tx.device_id is not None else None
        if device is None:
            raise ApprovalNotYours()
        if (
            tx.purpose == LoginPurpose.STEP_UP
            and current is not None
            and current.company_id is not None
            and not device_carries(self.db, device, current.company_id)
        ):
            # SEC-14: an app activated by another company's invitation proves nothing here.
            self.audit.record(
                AuditAction.STEP_UP_FAILED,
                company_id=current.company_id,
                actor_person_id=current.person_id,
                subject_person_id=tx.person_id,
                method=STEP_UP_METHOD,
                reason="device_not_for_company",
                approval=tx.public_id,
            )
            raise StepUpDeviceNotForCompany()
        now = self.clock.now()
        if not self._move(tx, (Status.APPROVED,), Status.COMPLETED, completed_at=now):
            raise ApprovalUsed()
        if tx.purpose == LoginPurpose.STEP_UP:
            assert current is not None
            token, _ = sessions.record_step_up(current, STEP_UP_METHOD, device_id=tx.device_id)
            action, method = AuditAction.STEP_UP_SUCCEEDED, STEP_UP_METHOD
        else:
            # A login by app approval is not a step-up: ADM-2 stays an explicit act.
            token, new_session = sessions.start(
                tx.person_id,
                method=METHOD,
                strong=False,
                ctx=ctx,
                replaces=current.id if current else None,
                approved_by_device_id=tx.device_id,
                company_scope=_scope_list(device_companies(self.db, device)),
            )
            # Which device made this session: revoking the device ends the logins at business
            # applications made with it (OpenID back-channel logout).
            tx.web_session_id = new_session.id
            action, method = AuditAction.LOGIN_SUCCEEDED, METHOD
        self.audit.record(
            action,
            actor_person_id=tx.person_id,
            subject_person_id=tx.person_id,
            method=method,
            approval=tx.public_id,
        )
        self.changed.append(tx)
        return Completion(transaction=tx, session_token=token)


def _scope_list(companies: frozenset[int] | None) -> list[int] | None:
    return None if companies is None else sorted(companies)
