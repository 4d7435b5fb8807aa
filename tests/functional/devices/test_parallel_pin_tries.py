"""PIN tries are counted before they are checked, and checked outside any lock (APP-4, OPS-4).

``DeviceApprovals.verify`` reserves a PIN try with a compare-and-set on the device's counter and
commits it, checks the PIN with no transaction open, then resets or keeps the count. These tests
send wrong PINs from real threads, each with its own session, against the real database (SQLite
file or PostgreSQL, whichever ``PORTTI_TEST_DATABASE`` names). The hasher is a real argon2id
``PasswordHasher`` that, as each check starts, reads the device's *committed* count over a
connection of its own: every check must find its own try already counted.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select, text, update

from portti.db.session import make_engine
from portti.devices.errors import DeviceLocked
from portti.devices.models import Device, DeviceStatus
from portti.devices.pins import PIN_SCHEDULE, make_pin_hasher
from portti.errors import DomainError
from support import factories as f
from support.db import audit_actions, fresh
from support.device_keys import SimulatedApp
from support.devices import bind, make_service, unlock

WRONG = [f"{i:03d}{i + 1:03d}" for i in range(1, 200)]  # 001002, 002003, …: none is the PIN


class WatchingHasher(PasswordHasher):
    """argon2id (cheap), and a witness: as each check starts it reads the count the database
    has committed, and notes how many checks run at once. ``hold`` keeps each check busy."""

    def __init__(self, engine: Engine, device_id: int, hold: float = 0.0) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.engine, self.device_id, self.hold = engine, device_id, hold
        self.lock = threading.Lock()
        self.started = 0
        self.running = 0
        self.most_at_once = 0
        self.seen: list[tuple[int, int]] = []  # (checks started so far, committed count)

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self.lock:
            self.started += 1
            ordinal = self.started
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        with self.engine.connect() as conn:
            committed = conn.execute(
                text("SELECT pin_failures FROM devices WHERE id = :id"), {"id": self.device_id}
            ).scalar_one()
        with self.lock:
            self.seen.append((ordinal, committed))
        try:
            if self.hold:
                time.sleep(self.hold)
            return super().verify(hash, password)
        finally:
            with self.lock:
                self.running -= 1


def burst(app, settings, sim: SimulatedApp, hasher: PasswordHasher, pins: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    """``len(pins)`` unlock requests released at the same instant, each handled as a route
    handles it (its own session, committed whatever the outcome). Returns their answers."""
    assert sim.public_id
    with app.state.runtime.session_factory() as s:
        svc = make_service(s, app)
        nonces = [svc.challenges.challenge(sim.public_id, "unlock").nonce for _ in pins]
        s.commit()
    barrier = threading.Barrier(len(pins))
    answers: list[str] = []

    def one(nonce: str, pin: str) -> None:
        with app.state.runtime.session_factory() as s:
            svc = make_service(s, app, pin_hasher=hasher)
            barrier.wait()
            try:
                svc.sessions.unlock(
                    sim.public_id,  # type: ignore[arg-type]
                    nonce=nonce,
                    signature=sim.sign("unlock", nonce),
                    pin=pin,
                )
                answer = "unlocked"
            except DomainError as e:
                answer = e.code
            s.commit()
            answers.append(answer)

    threads = [threading.Thread(target=one, args=(n, p)) for n, p in zip(nonces, pins, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(answers) == len(pins)
    return sorted(answers)


def state(app, device_id: int) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with app.state.runtime.session_factory() as s:
        d = s.get(Device, device_id)
        assert d is not None
        return d.pin_failures, d.status


@pytest.fixture
def witness_engine(settings):  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("n", [2, 3, 8])
def test_parallel_wrong_pins_are_each_counted_before_they_are_checked(  # APP-4 OPS-4
    app, db, settings, clock, service, person, witness_engine, n
):
    device, sim, _ = bind(service, db, person, clock)
    hasher = WatchingHasher(witness_engine, device.id, hold=0.05)
    answers = burst(app, settings, sim, hasher, WRONG[:n])
    checked = min(n, 3)  # the third counted try starts the 1-minute pause
    assert answers == ["pin_blocked"] * (n - checked) + ["pin_wrong"] * checked
    assert state(app, device.id) == (checked, DeviceStatus.ACTIVE)
    # No free guess: as many checks as counted tries, and each check found its try (and every
    # earlier one) already committed to the count.
    assert hasher.started == checked
    assert all(committed >= ordinal for ordinal, committed in hasher.seen), hasher.seen
    assert audit_actions(fresh(db), subject_person_id=person.id).count("pin_failed") == checked


def test_parallel_bursts_through_the_whole_schedule_give_nine_checks(  # APP-4 OPS-4
    app, db, settings, clock, service, person, witness_engine
):
    """An attacker holding a copied phone sends 8 guesses at once, again after every pause:
    exactly one guess per pause is checked after the third, and the ninth locks the device."""
    device, original, _ = bind(service, db, person, clock)
    clone = SimulatedApp.from_stored_state(original.stored_state())
    hasher = WatchingHasher(witness_engine, device.id)
    guesses = iter(WRONG)
    answers = burst(app, settings, clone, hasher, [next(guesses) for _ in range(8)])
    assert answers.count("pin_wrong") == 3
    for n in range(4, PIN_SCHEDULE.lock_at + 1):
        pause = PIN_SCHEDULE.pause_after(n - 1)
        assert pause is not None
        clock.advance(pause + timedelta(seconds=1))
        answers = burst(app, settings, clone, hasher, [next(guesses) for _ in range(8)])
        assert hasher.started == n  # one check per burst
        if n < PIN_SCHEDULE.lock_at:
            assert answers == ["pin_blocked"] * 7 + ["pin_wrong"], (n, answers)
        else:  # the checked one locks; the others met the pause, or the lock once it was set
            assert set(answers) <= {"pin_blocked", "pin_locked"} and "pin_locked" in answers
        assert state(app, device.id)[0] == n
    assert state(app, device.id) == (9, DeviceStatus.LOCKED)
    assert hasher.started == PIN_SCHEDULE.lock_at
    assert all(committed >= ordinal for ordinal, committed in hasher.seen), hasher.seen
    clock.advance(timedelta(days=1))
    with pytest.raises(DeviceLocked):
        unlock(make_service(fresh(db), app), original)
    assert hasher.started == PIN_SCHEDULE.lock_at


def test_no_write_waits_for_a_pin_check(  # APP-4 OPS-4
    app, db, settings, clock, service, person, session_factory
):
    """While a PIN is being checked, another request writes to the database — the same device
    row even — and commits at once: the check holds no lock (SQLite's write lock was held for
    the whole argon2id check before)."""
    device, sim, _ = bind(service, db, person, clock)
    checking, other_done = threading.Event(), threading.Event()
    waited: list[float] = []

    class SlowHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            checking.set()
            other_done.wait(10)  # the check "takes" until the other write is in, 10 s at most
            return super().verify(hash, password)

    hasher = SlowHasher(time_cost=1, memory_cost=1024, parallelism=1)
    result: list[str] = []

    def approve() -> None:
        with session_factory() as s:
            svc = make_service(s, app, pin_hasher=hasher)
            unlock(svc, sim)
            s.commit()
            result.append("unlocked")

    t = threading.Thread(target=approve)
    t.start()
    assert checking.wait(10)
    started = time.perf_counter()
    with session_factory() as other:
        f.person(other, "Other", "Writer")
        other.execute(update(Device).where(Device.id == device.id).values(name="Renamed"))
        other.commit()
    waited.append(time.perf_counter() - started)
    other_done.set()
    t.join(30)
    assert result == ["unlocked"]
    assert waited[0] < 2.0, f"the other write waited {waited[0]:.1f} s for the PIN check"
    fresh(db)
    d = db.get(Device, device.id)
    assert d is not None and d.name == "Renamed" and d.pin_failures == 0 and d.last_used_at


def test_a_check_that_never_finishes_leaves_its_try_counted(  # APP-4 OPS-4
    app, db, settings, clock, service, person
):
    """The process ends mid-check (here: the hasher raises something no route catches): the
    try stays counted as a wrong one, so crashing the server is no way to a free guess."""
    device, sim, _ = bind(service, db, person, clock)

    class DyingHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            raise SystemExit("the process ends")

    with session_factory_of(app)() as s:
        svc = make_service(s, app, pin_hasher=DyingHasher())
        with pytest.raises(SystemExit):
            unlock(svc, sim, pin="123987")
        s.rollback()
    assert state(app, device.id) == (1, DeviceStatus.ACTIVE)


def test_a_ninth_try_that_never_finished_locks_the_device_at_the_next_try(  # APP-4 OPS-4
    app, db, settings, clock, service, person
):
    device, sim, _ = bind(service, db, person, clock)
    db.execute(update(Device).where(Device.id == device.id).values(pin_failures=9))
    db.commit()
    with pytest.raises(DeviceLocked):
        unlock(make_service(db, app), sim)
    db.commit()
    assert state(app, device.id) == (9, DeviceStatus.LOCKED)


def session_factory_of(app):  # type: ignore[no-untyped-def]
    return app.state.runtime.session_factory


def test_existing_verifiers_keep_working_and_are_rehashed(  # APP-4 OPS-4
    app, db, settings, clock, person
):
    """A verifier made at the old production cost (t=3, 64 MiB, p=4; here a cheaper stand-in
    with other parameters) still verifies; the right PIN re-hashes it at the current cost, and a
    wrong one leaves it as it is."""
    old = make_service(
        db, app, pin_hasher=PasswordHasher(time_cost=2, memory_cost=2048, parallelism=2)
    )
    device, sim, _ = bind(old, db, person, clock)
    before = device.pin_hash
    assert before.startswith("$argon2id$v=19$m=2048,t=2,p=2$")
    current = make_pin_hasher(settings)
    service = make_service(db, app, pin_hasher=current)
    with pytest.raises(DomainError):
        unlock(service, sim, pin="123987")
    db.commit()
    fresh(db)
    assert db.get(Device, device.id).pin_hash == before  # type: ignore[union-attr]
    unlock(service, sim)
    db.commit()
    fresh(db)
    after = db.scalars(select(Device.pin_hash).where(Device.id == device.id)).one()
    assert after != before and not current.check_needs_rehash(after)
    assert after.startswith("$argon2id$v=19$m=4096,t=1,p=1$")
    unlock(service, sim)  # the new verifier checks the same PIN
    db.commit()
    with pytest.raises(DomainError) as e:
        unlock(service, sim, pin="123987")
    assert e.value.code == "pin_wrong"
