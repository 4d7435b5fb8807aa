"""A phone for a demo person on a live server: a device bound the way the server binds one
(straight in its database with ``DeviceService.bind``), unlocked through the app API."""

from __future__ import annotations

import httpx
from argon2 import PasswordHasher
from sqlalchemy import select

from portti.app import make_templates
from portti.audit.services import AuditLog
from portti.db.session import make_engine, make_session_factory
from portti.devices.services import DeviceService
from portti.infra.clock import SystemClock
from portti.infra.outbox import Outbox, outbox_box
from portti.people.models import Person
from support.device_keys import SimulatedApp
from support.devices import PIN, activation_for
from support.qr import Phone


def bind_demo_device(database_url: str, secret_key: str, given: str, family: str) -> SimulatedApp:
    """A device for a demo person, made the way the server makes one."""
    clock = SystemClock()
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as db:
            person = db.scalars(
                select(Person).where(Person.given_name == given, Person.family_name == family)
            ).one()
            service = DeviceService(
                db,
                clock,
                AuditLog(db, clock),
                Outbox(db, clock, outbox_box(secret_key.encode())),
                secret=secret_key.encode(),
                pin_hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
                jinja=make_templates().env,
                base_url="http://127.0.0.1",
            )
            sim = SimulatedApp()
            device, _ = service.bind(
                activation_for(db, person, clock),
                name="Kadri's phone",
                platform="android",
                pin=PIN,
                **sim.bind_kwargs(),  # type: ignore[arg-type]
            )
            db.commit()
            sim.public_id = device.public_id
            return sim
    finally:
        engine.dispose()


def unlocked_phone(base_url: str, sim: SimulatedApp) -> Phone:
    http = httpx.Client(base_url=base_url, timeout=15)
    ch = http.post(
        f"/app-api/v1/devices/{sim.public_id}/challenges", json={"purpose": "unlock"}
    ).json()
    r = http.post(
        f"/app-api/v1/devices/{sim.public_id}/unlock",
        json={"nonce": ch["nonce"], "signature": sim.sign("unlock", ch["nonce"]), "pin": PIN},
    )
    assert r.status_code == 200, r.text
    return Phone(http=http, sim=sim, token=r.json()["app_session_token"])
