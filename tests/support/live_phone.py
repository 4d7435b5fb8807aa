"""A phone for a demo person on a live server: a device bound the way the server binds one
(straight in its database with ``DeviceBinding.bind``), unlocked through the app API."""

from __future__ import annotations

from dataclasses import replace

import httpx
from sqlalchemy import select

from portti.app import build_runtime
from portti.audit.services import AuditLog
from portti.config import Mode, Settings
from portti.devices.deps import devices_from
from portti.infra.clock import SystemClock
from portti.people.models import Person
from support.device_keys import SimulatedApp
from support.devices import PIN, activation_for, carry_companies, cheap_pin_hasher
from support.qr import Phone


def bind_demo_device(database_url: str, secret_key: str, given: str, family: str) -> SimulatedApp:
    """A device for a demo person, made the way the server makes one: the device service wired
    from a ``Runtime`` for the server's database and secret (PINs hashed cheaply)."""
    settings = Settings(
        mode=Mode.TEST,
        database_url=database_url,
        secret_key=secret_key,
        base_url="http://127.0.0.1",
    )
    rt = replace(build_runtime(settings, SystemClock(), []), pin_hasher=cheap_pin_hasher())
    try:
        with rt.session_factory() as db:
            person = db.scalars(
                select(Person).where(Person.given_name == given, Person.family_name == family)
            ).one()
            service = devices_from(rt, db, AuditLog(db, rt.clock))
            sim = SimulatedApp()
            device, _ = service.binding.bind(
                activation_for(db, person, rt.clock),
                name="Kadri's phone",
                platform="android",
                pin=PIN,
                **sim.bind_kwargs(),  # type: ignore[arg-type]
            )
            carry_companies(db, device, rt.clock)
            db.commit()
            sim.public_id = device.public_id
            return sim
    finally:
        rt.http.close()
        rt.backchannel_http.close()
        rt.engine.dispose()


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
