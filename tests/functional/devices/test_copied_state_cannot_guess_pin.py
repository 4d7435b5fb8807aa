"""A copied phone gives no offline PIN oracle (APP-4, OPS-4).

The attacker has copied everything the app stores — its private key(s) and its device id — and
also a copy of the database. Neither contains anything that checks a PIN offline, so every
guess must be sent to the server's ``verify``, where it is counted: the 9th wrong guess locks the
device, after which even the right PIN is refused.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import select

from portti.devices.errors import DeviceLocked, PinBlocked, PinWrong
from portti.devices.models import Device, DeviceStatus
from portti.devices.pins import PIN_SCHEDULE
from portti.errors import DomainError
from support.device_keys import SimulatedApp
from support.devices import PIN, bind, make_service


def one_guess(app, settings, clone: SimulatedApp, pin: str) -> None:  # type: ignore[no-untyped-def]
    """One request from the clone, handled as a route handles it: its own transaction,
    committed whatever the outcome."""
    with app.state.runtime.session_factory() as db:
        service = make_service(db, app)
        try:
            assert clone.public_id
            ch = service.challenges.challenge(clone.public_id, "unlock")
            service.sessions.unlock(
                clone.public_id,
                nonce=ch.nonce,
                signature=clone.sign("unlock", ch.nonce),
                pin=pin,
            )
        except DomainError:
            db.commit()
            raise
        db.commit()


def failures(app, public_id: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with app.state.runtime.session_factory() as db:
        d = db.scalars(select(Device).where(Device.public_id == public_id)).one()
        return d.pin_failures, d.status


def test_copied_device_state_gives_no_offline_oracle(
    app, db, settings, clock, service, person
):  # APP-4 OPS-4
    device, original, _ = bind(service, db, person, clock, app=SimulatedApp(biometrics=True))

    # What a copy of the phone's storage holds: keys and ids, nothing derived from the PIN.
    stolen = original.stored_state()
    assert set(stolen) == {"public_id", "alg", "private_key", "biometric_private_key"}
    assert all(PIN.encode() not in v for v in stolen.values() if isinstance(v, bytes))
    clone = SimulatedApp.from_stored_state(stolen)
    assert clone.public_key == original.public_key  # a perfect clone of the device key…

    # …and a copy of the database does not check PINs either: the verifier is peppered with a
    # key derived from the server's secret, which is in neither copy.
    plain = PasswordHasher()
    for candidate in (PIN, f"{device.public_id}|{PIN}", PIN.encode()):
        with pytest.raises(VerificationError):
            plain.verify(device.pin_hash, candidate)

    # So every guess goes to the server. The attacker waits out each pause (3 h 3 min in all).
    guesses = [
        "000001",
        "111112",
        "222223",
        "333334",
        "444445",
        "555556",
        "666667",
        "777778",
        "888889",
    ]
    for n, guess in enumerate(guesses, start=1):
        pause = PIN_SCHEDULE.pause_after(n - 1)
        if pause:
            clock.advance(pause + timedelta(seconds=1))
        expected = DeviceLocked if n == PIN_SCHEDULE.lock_at else PinWrong
        with pytest.raises(expected):
            one_guess(app, settings, clone, guess)
        count, status = failures(app, device.public_id)
        if n < PIN_SCHEDULE.lock_at:
            assert (count, status) == (n, DeviceStatus.ACTIVE)  # every guess is counted
    assert failures(app, device.public_id) == (9, DeviceStatus.LOCKED)

    # The right PIN no longer helps anyone: not the clone, not the owner.
    clock.advance(timedelta(days=1))
    for who in (clone, original):
        with pytest.raises(DeviceLocked):
            one_guess(app, settings, who, PIN)


def test_guessing_faster_than_the_schedule_learns_nothing(
    app, db, settings, clock, service, person
):  # APP-4
    """During a pause the server does not look at the PIN at all: the right PIN gets the very
    same answer as a wrong one, and the try is not counted."""
    device, original, _ = bind(service, db, person, clock)
    clone = SimulatedApp.from_stored_state(original.stored_state())
    for guess in ("000001", "111112", "222223"):
        with pytest.raises(PinWrong):
            one_guess(app, settings, clone, guess)
    answers = []
    for guess in ("333334", PIN, "444445"):
        with pytest.raises(PinBlocked) as e:
            one_guess(app, settings, clone, guess)
        answers.append((type(e.value), e.value.code, e.value.tries_left))
    assert len(set(answers)) == 1
    assert failures(app, device.public_id) == (3, DeviceStatus.ACTIVE)


def test_a_pin_without_the_device_key_is_never_checked(
    app, db, settings, clock, service, person
):  # APP-4
    """Someone with the PIN (shoulder-surfed) but not the device key gets nowhere, and their
    tries do not lock the owner out."""
    device, original, _ = bind(service, db, person, clock)
    impostor = SimulatedApp()
    impostor.public_id = original.public_id
    for _ in range(20):
        with pytest.raises(DomainError) as e:
            one_guess(app, settings, impostor, PIN)
        assert e.value.code == "signature_invalid"
    assert failures(app, device.public_id) == (0, DeviceStatus.ACTIVE)


def test_parallel_guesses_are_counted_one_by_one(
    app, db, settings, clock, service, person
):  # APP-4
    """Guesses sent at the same instant do not slip past the count: each is counted by a
    compare-and-set before its PIN is checked, and the third starts the pause, so exactly 3 are
    checked and counted and the rest meet the pause (more in test_parallel_pin_tries.py)."""
    device, original, _ = bind(service, db, person, clock)
    clone = SimulatedApp.from_stored_state(original.stored_state())
    assert clone.public_id
    n = 8
    nonces = [service.challenges.challenge(clone.public_id, "unlock").nonce for _ in range(n)]
    db.commit()
    barrier = threading.Barrier(n)
    outcomes: list[str] = []

    def guess(i: int) -> None:
        with app.state.runtime.session_factory() as s:
            svc = make_service(s, app)
            barrier.wait()
            try:
                svc.sessions.unlock(
                    clone.public_id,
                    nonce=nonces[i],
                    signature=clone.sign("unlock", nonces[i]),
                    pin=f"{i:03d}{i + 1:03d}",
                )
                outcome = "unlocked"
            except DomainError as e:
                outcome = e.code
            s.commit()
            outcomes.append(outcome)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["pin_blocked"] * (n - 3) + ["pin_wrong"] * 3
    assert failures(app, device.public_id) == (3, DeviceStatus.ACTIVE)
