"""Wiring the activation services into requests."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from portti.accounts.deps import accounts_from
from portti.activation.accounts import AccountSteps
from portti.activation.services import ActivationService
from portti.activation.steps import ActivationSteps
from portti.audit.services import AuditLog
from portti.devices.deps import devices_from
from portti.infra.outbox import Outbox, outbox_box
from portti.invitations.signup import SignupService
from portti.runtime import Runtime, runtime
from portti.web.deps import Audit, ClockDep, DbSession, SettingsDep


async def get_activations(
    db: DbSession, clock: ClockDep, settings: SettingsDep
) -> ActivationService:
    return ActivationService(db, clock, settings.secret)


def steps_from(rt: Runtime, db: Session, audit: AuditLog) -> ActivationSteps:
    """The activation's steps wired from the runtime (requests and tests alike)."""
    secret = rt.settings.secret
    signup = SignupService(
        db,
        rt.clock,
        audit,
        Outbox(db, rt.clock, outbox_box(secret)),
        secret=secret,
        limiter=rt.limiter,
    )
    return ActivationSteps(db, rt.clock, signup, devices_from(rt, db, audit).binding, secret=secret)


def account_steps_from(rt: Runtime, db: Session, audit: AuditLog) -> AccountSteps:
    """The activation's account steps wired from the runtime (requests and tests alike)."""
    secret = rt.settings.secret
    return AccountSteps(
        db,
        rt.clock,
        audit,
        Outbox(db, rt.clock, outbox_box(secret)),
        accounts_from(rt, db, audit),
        secret=secret,
        limiter=rt.limiter,
        jinja=rt.templates.env,
    )


async def get_account_steps(request: Request, db: DbSession, audit: Audit) -> AccountSteps:
    return account_steps_from(runtime(request), db, audit)


async def get_activation_steps(request: Request, db: DbSession, audit: Audit) -> ActivationSteps:
    return steps_from(runtime(request), db, audit)


Activations = Annotated[ActivationService, Depends(get_activations)]
AccountStepsDep = Annotated[AccountSteps, Depends(get_account_steps)]
Steps = Annotated[ActivationSteps, Depends(get_activation_steps)]
