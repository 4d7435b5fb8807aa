"""Helpers for device tests: the service with cheap argon2id, activations, binding, unlocking."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.accounts.models import Account
from portti.activation.models import Activation
from portti.audit.services import AuditLog
from portti.companies.models import Membership
from portti.devices.deps import devices_from
from portti.devices.models import ActivationKind, AppSession, Device, DeviceCompany
from portti.devices.services import DeviceService
from support.device_keys import SimulatedApp

PIN = "258036"


def cheap_pin_hasher() -> PasswordHasher:
    """argon2id, cheap for tests (production uses the settings' ``pin_argon2_*`` cost)."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def make_service(  # type: ignore[no-untyped-def]
    db: Session, app, *, pin_hasher: PasswordHasher | None = None, **options
) -> DeviceService:
    """The device service as the app wires it from its ``Runtime``, with the PIN hasher swapped
    on a copy of the runtime: cheap argon2id, or ``pin_hasher``. Challenges asked for here are
    not rate-limited (tests unlock many times a minute); the limits are tested over HTTP."""
    rt = replace(app.state.runtime, pin_hasher=pin_hasher or cheap_pin_hasher())
    return devices_from(rt, db, AuditLog(db, rt.clock), **{"limiter": None, **options})


def account_for(db: Session, person, clock) -> Account:  # type: ignore[no-untyped-def]
    acc = Account(
        person_id=person.id, email=f"account.{person.id}@example.org", created_at=clock.now()
    )
    db.add(acc)
    db.flush()
    return acc


def activation_for(
    db: Session,
    person,
    clock,
    kind: ActivationKind = ActivationKind.INVITATION,  # type: ignore[no-untyped-def]
    account: Account | None = None,
) -> Activation:
    now = clock.now()
    act = Activation(
        token_hash=secrets.token_hex(32),
        kind=kind,
        person_id=person.id,
        account_id=account.id if account else None,
        created_at=now,
        expires_at=now + timedelta(hours=24),
    )
    db.add(act)
    db.flush()
    return act


def bind(
    service: DeviceService,
    db: Session,
    person,
    clock,
    *,
    app: SimulatedApp | None = None,  # type: ignore[no-untyped-def]
    pin: str = PIN,
    name: str = "Maija's phone",
    account: Account | None = None,
    kind: ActivationKind = ActivationKind.INVITATION,
    companies: Iterable[int] | None = None,
) -> tuple[Device, SimulatedApp, str]:
    """Binds a device as the end of an activation does. These activations have no invitation
    row, so the device carries ``companies`` — by default every company the person belongs to,
    as though each had invited them (SEC-14); pass ``companies=()`` for a device that carries
    none. The invitation-bound rule itself is tested over HTTP with real invitations."""
    sim = app or SimulatedApp()
    act = activation_for(db, person, clock, kind, account)
    device, not_me = service.binding.bind(
        act,
        name=name,
        platform="android",
        pin=pin,
        **sim.bind_kwargs(),  # type: ignore[arg-type]
    )
    act.completed_at = clock.now()  # what the caller does
    carry_companies(db, device, clock, companies)
    db.commit()
    sim.public_id = device.public_id
    return device, sim, not_me


def carry_companies(  # type: ignore[no-untyped-def]
    db: Session, device: Device, clock, companies: Iterable[int] | None = None
) -> None:
    """What an invitation would have given a device bound without one (SEC-14): ``companies``,
    by default every company the person belongs to."""
    if companies is None:
        companies = db.scalars(
            select(Membership.company_id).where(Membership.person_id == device.person_id)
        ).all()
    for company_id in set(companies) - set(
        db.scalars(select(DeviceCompany.company_id).where(DeviceCompany.device_id == device.id))
    ):
        db.add(DeviceCompany(device_id=device.id, company_id=company_id, added_at=clock.now()))
    db.flush()


def unlock(
    service: DeviceService,
    sim: SimulatedApp,
    *,
    pin: str | None = PIN,
    biometric: bool = False,
) -> tuple[AppSession, str]:
    assert sim.public_id
    ch = service.challenges.challenge(sim.public_id, "unlock")
    return service.sessions.unlock(
        sim.public_id,
        nonce=ch.nonce,
        signature=sim.sign("unlock", ch.nonce),
        pin=None if biometric else pin,
        biometric_signature=sim.sign_biometric("unlock", ch.nonce) if biometric else None,
    )
