"""The device service: binding, the approval check, the PIN schedule, biometrics, lock,
log out and log out from all devices (APP-4 … APP-8, WEB-5, OPS-4)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import select, text, update

from portti.audit.services import RequestContext
from portti.devices.errors import (
    AppLocked,
    BiometricsNotEnrolled,
    DeviceLocked,
    DeviceUnknown,
    InvalidDeviceKey,
    InvitationRequired,
    NonceInvalid,
    PinBlocked,
    PinInvalid,
    PinRequired,
    PinTooSimple,
    PinWrong,
    SignatureInvalid,
)
from portti.devices.models import ActivationKind, AppSession, Device, DeviceChallenge, DeviceStatus
from portti.devices.pins import PIN_SCHEDULE, is_pin_too_simple
from portti.errors import DomainError, NotFound, ValidationFailed
from portti.infra.crypto import CodeHasher
from portti.invitations.errors import ActivationUnknown
from portti.schema import Model
from portti.weblogin.models import WebSession
from portti.weblogin.sessions import SessionService
from support import factories as f
from support.db import audit_actions, audit_events, fresh
from support.device_keys import SimulatedApp
from support.devices import PIN, account_for, activation_for, bind, make_service, unlock
from support.messages import queued


def try_pin(service, db, sim, pin, purpose="unlock"):  # type: ignore[no-untyped-def]
    """One approval as a route does it: a new challenge, then verify; commit on any outcome."""
    ch = service.challenges.challenge(sim.public_id, purpose)
    db.commit()
    try:
        device = service.approvals.verify(
            sim.public_id,
            purpose=purpose,
            nonce=ch.nonce,
            signature=sim.sign(purpose, ch.nonce),
            pin=pin,
        )
    except DomainError:
        db.commit()
        raise
    db.commit()
    return device


# -- binding ---------------------------------------------------------------------------------


def test_bind_keeps_public_keys_and_a_peppered_argon2id_pin_hash(
    service, db, person, clock, settings
):  # APP-4 OPS-4
    device, sim, not_me = bind(service, db, person, clock)
    assert device.public_id.startswith("dev_") and len(device.public_id) >= 24
    assert device.status == DeviceStatus.ACTIVE
    assert device.public_key == sim.public_key and device.key_alg == "Ed25519"
    assert device.pin_hash.startswith("$argon2id$")
    assert device.pin_failures == 0 and device.pin_blocked_until is None
    # the not-me token is kept only as a keyed hash
    assert device.not_me_token_hash == CodeHasher(settings.secret, "not-me").hash(not_me)
    assert not_me not in device.not_me_token_hash
    # the hash cannot be checked without the server's pepper: no offline guessing from the DB
    plain = PasswordHasher()
    for candidate in (PIN, f"{device.public_id}|{PIN}"):
        with pytest.raises(VerificationError):
            plain.verify(device.pin_hash, candidate)
    assert audit_actions(db, subject_person_id=person.id) == ["device_bound"]


def test_the_pin_is_in_no_column_of_any_table(service, db, person, clock):  # APP-4 OPS-4
    pin = "583920"
    bind(service, db, person, clock, pin=pin)
    fresh(db)
    blob = []
    for table in Model.metadata.sorted_tables:
        for row in db.execute(text(f'SELECT * FROM "{table.name}"')):
            blob.append(" ".join(str(v) for v in row))
    dump = "\n".join(blob)
    assert pin not in dump


def test_bind_queues_a_new_device_email_with_a_not_me_link(
    service, db, person, clock, settings
):  # APP-4
    _, _, not_me = bind(service, db, person, clock, name="Pixel 8")
    mails = queued(db, settings.secret, channel="email", to=person.email)
    assert len(mails) == 1
    mail = mails[0]
    assert mail["kind"] == "new_device"
    assert "Pixel 8" in mail["text"] and "android" in mail["text"]
    link = f"http://testserver/devices/not-me/{not_me}"
    assert link in mail["text"] and link in mail["html"]
    assert "This wasn't me" in mail["html"]


def test_bind_also_tells_the_account_address_when_it_differs(
    service, db, person, clock, settings
):  # APP-4 APP-7
    acc = account_for(db, person, clock)
    bind(service, db, person, clock, account=acc, kind=ActivationKind.ACCOUNT)
    assert len(queued(db, settings.secret, channel="email", to=person.email)) == 1
    assert len(queued(db, settings.secret, channel="email", to=acc.email)) == 1


@pytest.mark.parametrize(
    "pin",
    ["000000", "999999", "123456", "654321", "234567", "890123", "121212", "123123", "987654"],
)
def test_too_simple_pins_are_refused(service, db, person, clock, pin):  # APP-4 OPS-4
    act = activation_for(db, person, clock)
    with pytest.raises(PinTooSimple) as e:
        service.binding.bind(act, name="p", platform="ios", pin=pin, **SimulatedApp().bind_kwargs())
    assert e.value.code == "pin_too_simple"
    assert db.scalar(select(Device.id)) is None


@pytest.mark.parametrize(
    "pin", ["", "12345", "2580361", "25803a", "２５８０３６", " 258036", "25 036"]
)
def test_pins_of_the_wrong_shape_are_refused(service, db, person, clock, pin):  # APP-4 OPS-4
    act = activation_for(db, person, clock)
    with pytest.raises(PinInvalid) as e:
        service.binding.bind(act, name="p", platform="ios", pin=pin, **SimulatedApp().bind_kwargs())
    assert e.value.code == "pin_invalid" and "pin" in e.value.errors


def test_longer_pins_when_the_deployment_allows_them(db, app, settings, person, clock):  # APP-4
    service = make_service(db, app, pin_lengths=(6, 12))
    bind(service, db, person, clock, pin="25803617")
    assert is_pin_too_simple("123456789012") and is_pin_too_simple("1111111")
    with pytest.raises(ValueError):
        make_service(db, app, pin_lengths=(4, 6))


def test_bind_refuses_bad_keys_and_names(service, db, person, clock):  # APP-4 OPS-4
    act = activation_for(db, person, clock)
    sim = SimulatedApp()
    with pytest.raises(InvalidDeviceKey):
        service.binding.bind(
            act, name="p", platform="ios", pin=PIN, key_alg="ES256", public_key=sim.public_key
        )
    with pytest.raises(ValidationFailed) as e:
        service.binding.bind(
            act, name="\u202e\n", platform="<script>", pin=PIN, **sim.bind_kwargs()
        )
    assert set(e.value.errors) == {"name", "platform"}
    with pytest.raises(ValidationFailed):  # the biometric key must differ from the device key
        service.binding.bind(
            act,
            name="p",
            platform="ios",
            pin=PIN,
            key_alg="Ed25519",
            public_key=sim.public_key,
            biometric_key_alg="Ed25519",
            biometric_public_key=sim.public_key,
        )
    assert db.scalar(select(Device.id)) is None


def test_a_finished_activation_binds_no_second_device(service, db, person, clock):  # APP-4
    act = activation_for(db, person, clock)
    service.binding.bind(act, name="one", platform="ios", pin=PIN, **SimulatedApp().bind_kwargs())
    with pytest.raises(ActivationUnknown):  # the caller has not yet set completed_at
        service.binding.bind(
            act, name="two", platform="ios", pin=PIN, **SimulatedApp().bind_kwargs()
        )
    act.completed_at = clock.now()
    with pytest.raises(ActivationUnknown):
        service.binding.bind(
            act, name="two", platform="ios", pin=PIN, **SimulatedApp().bind_kwargs()
        )


# -- challenges and the approval check -------------------------------------------------------


def test_unlock_with_pin_gives_an_app_session(service, db, person, clock, settings):  # APP-4 APP-5
    device, sim, _ = bind(service, db, person, clock)
    session, token = unlock(service, sim)
    db.commit()
    assert session.token_hash == CodeHasher(settings.secret, "app-session").hash(token)
    assert session.expires_at - session.created_at == timedelta(minutes=15)
    _, d = service.sessions.app_session(token)
    assert d.id == device.id and d.last_used_at is not None
    assert audit_actions(db, subject_person_id=person.id)[-1] == "app_unlocked"


def test_challenge_is_single_use_and_a_replayed_request_is_refused(
    service, db, person, clock
):  # APP-4
    _, sim, _ = bind(service, db, person, clock)
    ch = service.challenges.challenge(sim.public_id, "unlock")
    request = {"nonce": ch.nonce, "signature": sim.sign("unlock", ch.nonce), "pin": PIN}
    service.sessions.unlock(sim.public_id, **request)
    db.commit()
    with pytest.raises(NonceInvalid) as e:
        service.sessions.unlock(sim.public_id, **request)
    assert e.value.code == "nonce_invalid"
    db.commit()
    # the replay got nowhere near the PIN
    assert db.get(Device, sim_id(db, sim)).pin_failures == 0


def sim_id(db, sim) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(Device.id).where(Device.public_id == sim.public_id))


def test_a_nonce_is_burnt_by_a_failed_try_too(service, db, person, clock):  # APP-4
    _, sim, _ = bind(service, db, person, clock)
    ch = service.challenges.challenge(sim.public_id, "unlock")
    with pytest.raises(SignatureInvalid):
        service.sessions.unlock(
            sim.public_id, nonce=ch.nonce, signature=sim.sign("unlock", "other"), pin=PIN
        )
    db.commit()
    with pytest.raises(NonceInvalid):
        service.sessions.unlock(
            sim.public_id, nonce=ch.nonce, signature=sim.sign("unlock", ch.nonce), pin=PIN
        )
    reasons = [e.details["reason"] for e in audit_events(db, "device_approval_failed")]
    assert reasons == ["signature_invalid", "nonce_invalid"]


def test_challenge_expires_after_two_minutes(service, db, person, clock):  # APP-4
    _, sim, _ = bind(service, db, person, clock)
    ch = service.challenges.challenge(sim.public_id, "unlock")
    assert ch.expires_at - ch.created_at == timedelta(minutes=2)
    clock.advance(timedelta(minutes=2, seconds=1))
    with pytest.raises(NonceInvalid):
        service.sessions.unlock(
            sim.public_id, nonce=ch.nonce, signature=sim.sign("unlock", ch.nonce), pin=PIN
        )


def test_challenge_is_bound_to_its_device_purpose_and_context(service, db, person, clock):  # APP-4
    _, sim, _ = bind(service, db, person, clock)
    _, other, _ = bind(service, db, person, clock, name="tablet")
    cases = [
        (other.public_id, "approve_login", "tx1", sim),  # another device's id
        (sim.public_id, "unlock", "tx1", sim),  # another purpose
        (sim.public_id, "approve_login", "tx2", sim),  # another transaction
        (sim.public_id, "approve_login", None, sim),
    ]
    for device_id, purpose, context, signer in cases:
        ch = service.challenges.challenge(sim.public_id, "approve_login", "tx1")
        with pytest.raises(NonceInvalid):
            service.approvals.verify(
                device_id,
                purpose=purpose,
                context=context,
                nonce=ch.nonce,
                signature=signer.sign(purpose, ch.nonce, context),
                pin=PIN,
            )
    ch = service.challenges.challenge(sim.public_id, "approve_login", "tx1")
    device = service.approvals.verify(
        sim.public_id,
        purpose="approve_login",
        context="tx1",
        nonce=ch.nonce,
        signature=sim.sign("approve_login", ch.nonce, "tx1"),
        pin=PIN,
    )
    assert device.public_id == sim.public_id


def test_signature_by_a_key_other_than_the_devices_is_refused(service, db, person, clock):  # APP-4
    _, sim, _ = bind(service, db, person, clock)
    impostor = SimulatedApp()
    ch = service.challenges.challenge(sim.public_id, "unlock")
    with pytest.raises(SignatureInvalid):
        service.sessions.unlock(
            sim.public_id, nonce=ch.nonce, signature=impostor.sign("unlock", ch.nonce), pin=PIN
        )


def test_unknown_device_and_bad_purpose(service, db, person, clock):  # APP-4 OPS-4
    _, sim, _ = bind(service, db, person, clock)
    with pytest.raises(DeviceUnknown) as e:
        service.challenges.challenge("dev_nope", "unlock")
    assert e.value.code == "device_unknown" and e.value.next_step
    with pytest.raises(DeviceUnknown):
        service.approvals.verify("x" * 500, purpose="unlock", nonce="n", signature="s", pin=PIN)
    with pytest.raises(ValidationFailed):
        service.challenges.challenge(sim.public_id, "Unlock|evil")


def test_neither_pin_nor_biometrics_is_refused(service, db, person, clock):  # APP-4 APP-5
    _, sim, _ = bind(service, db, person, clock)
    ch = service.challenges.challenge(sim.public_id, "unlock")
    with pytest.raises(PinRequired) as e:
        service.sessions.unlock(
            sim.public_id, nonce=ch.nonce, signature=sim.sign("unlock", ch.nonce)
        )
    assert e.value.code == "pin_required"


def test_es256_device_key_works_too(service, db, person, clock):  # APP-4
    _, sim, _ = bind(service, db, person, clock, app=SimulatedApp(alg="ES256"))
    _, token = unlock(service, sim)
    assert service.sessions.app_session(token)


# -- the PIN schedule ------------------------------------------------------------------------


def test_the_full_pin_schedule(service, db, person, clock):  # APP-4 APP-5
    device, sim, _ = bind(service, db, person, clock)
    wrong = iter(
        ["111222", "333444", "555666", "777888", "999000", "135790", "246801", "369258", "147036"]
    )

    def wrong_pin():  # type: ignore[no-untyped-def]
        return try_pin(service, db, sim, next(wrong))

    # 1st and 2nd: no pause
    for tries_left in (8, 7):
        with pytest.raises(PinWrong) as e:
            wrong_pin()
        assert e.value.code == "pin_wrong" and e.value.tries_left == tries_left
        assert e.value.extra == {"tries_left": tries_left, "retry_after": None}
    # 3rd: a pause of a minute before each further try
    with pytest.raises(PinWrong) as e:
        wrong_pin()
    assert e.value.tries_left == 6 and e.value.retry_after == 60
    # while paused: refused without looking at the PIN, not even the right one, and not counted
    with pytest.raises(PinBlocked) as blocked:
        try_pin(service, db, sim, PIN)
    assert blocked.value.code == "pin_blocked" and 0 < blocked.value.retry_after <= 60
    assert blocked.value.tries_left == 6
    fresh(db)
    assert db.get(Device, device.id).pin_failures == 3
    # after the pause, wrong again: 4th and 5th pause a minute each
    for tries_left in (5, 4):
        clock.advance(timedelta(seconds=61))
        with pytest.raises(PinWrong) as e:
            wrong_pin()
        assert e.value.tries_left == tries_left and e.value.retry_after == 60
    # 6th: an hour
    clock.advance(timedelta(seconds=61))
    with pytest.raises(PinWrong) as e:
        wrong_pin()
    assert e.value.tries_left == 3 and e.value.retry_after == 3600
    clock.advance(timedelta(minutes=59))
    with pytest.raises(PinBlocked) as blocked:
        try_pin(service, db, sim, PIN)
    assert 0 < blocked.value.retry_after <= 60
    # 7th, 8th: an hour each
    for tries_left in (2, 1):
        clock.advance(timedelta(hours=1, seconds=1))
        with pytest.raises(PinWrong) as e:
            wrong_pin()
        assert e.value.tries_left == tries_left and e.value.retry_after == 3600
    # 9th: locked for good
    clock.advance(timedelta(hours=1, seconds=1))
    with pytest.raises(DeviceLocked) as locked:
        wrong_pin()
    assert locked.value.code == "pin_locked"
    assert "new invitation" in (locked.value.next_step or "")
    fresh(db)
    d = db.get(Device, device.id)
    assert d.status == DeviceStatus.LOCKED and d.end_reason == "pin_locked" and d.ended_at
    # further unlocks are refused with pin_locked, the right PIN too, whatever the wait
    clock.advance(timedelta(days=30))
    with pytest.raises(DeviceLocked):
        service.challenges.challenge(sim.public_id, "unlock")
    with pytest.raises(DeviceLocked):
        service.sessions.unlock(sim.public_id, nonce="whatever", signature="x", pin=PIN)
    db.commit()
    actions = audit_actions(db, subject_person_id=person.id)
    assert actions.count("pin_failed") == 9 and actions.count("device_locked") == 1
    assert PIN_SCHEDULE.lock_at == 9


def test_the_right_pin_resets_the_count(service, db, person, clock):  # APP-4
    device, sim, _ = bind(service, db, person, clock)
    for _ in range(3):
        with pytest.raises(PinWrong):
            try_pin(service, db, sim, "111222")
    clock.advance(timedelta(seconds=61))
    try_pin(service, db, sim, PIN)
    fresh(db)
    d = db.get(Device, device.id)
    assert d.pin_failures == 0 and d.pin_blocked_until is None
    # counting starts again from zero: two more wrong PINs bring no pause
    for left in (8, 7):
        with pytest.raises(PinWrong) as e:
            try_pin(service, db, sim, "111222")
        assert e.value.tries_left == left and e.value.retry_after is None


def test_a_malformed_pin_is_refused_without_counting(service, db, person, clock):  # APP-4 OPS-4
    device, sim, _ = bind(service, db, person, clock)
    with pytest.raises(PinInvalid):
        try_pin(service, db, sim, "12ab")
    fresh(db)
    assert db.get(Device, device.id).pin_failures == 0


# -- biometrics ------------------------------------------------------------------------------


def test_biometrics_unlock_with_the_second_key(service, db, person, clock):  # APP-5
    device, sim, _ = bind(service, db, person, clock, app=SimulatedApp(biometrics=True))
    assert device.biometric_public_key == sim.biometric_public_key
    _, token = unlock(service, sim, biometric=True)
    db.commit()
    assert service.sessions.app_session(token)
    assert audit_events(db, "app_unlocked")[-1].details["method"] == "biometrics"


def test_biometric_signature_by_the_device_key_is_not_enough(service, db, person, clock):  # APP-5
    _, sim, _ = bind(service, db, person, clock, app=SimulatedApp(biometrics=True))
    ch = service.challenges.challenge(sim.public_id, "unlock")
    with pytest.raises(SignatureInvalid):
        service.sessions.unlock(
            sim.public_id,
            nonce=ch.nonce,
            signature=sim.sign("unlock", ch.nonce),
            biometric_signature=sim.sign("unlock", ch.nonce),
        )


def test_biometrics_not_enrolled(service, db, person, clock):  # APP-5
    _, sim, _ = bind(service, db, person, clock)
    sim.biometric_key = SimulatedApp(biometrics=True).biometric_key  # a key the server never saw
    ch = service.challenges.challenge(sim.public_id, "unlock")
    with pytest.raises(BiometricsNotEnrolled) as e:
        service.sessions.unlock(
            sim.public_id,
            nonce=ch.nonce,
            signature=sim.sign("unlock", ch.nonce),
            biometric_signature=sim.sign_biometric("unlock", ch.nonce),
        )
    assert e.value.code == "biometrics_not_enrolled"


# -- the app session: lock (APP-6) -----------------------------------------------------------


def test_lock_ends_only_the_session(service, db, person, clock):  # APP-6
    device, sim, _ = bind(service, db, person, clock)
    _, token = unlock(service, sim)
    db.commit()
    service.sessions.lock(token)
    db.commit()
    with pytest.raises(AppLocked) as e:
        service.sessions.app_session(token)
    assert e.value.code == "app_locked"
    fresh(db)
    assert db.get(Device, device.id).status == DeviceStatus.ACTIVE
    service.sessions.lock(token)  # twice is fine
    _, again = unlock(service, sim)  # unlock again with the PIN
    assert service.sessions.app_session(again)


def test_app_session_idles_out_after_15_minutes_and_ends_at_12_hours(
    service, db, person, clock
):  # APP-6
    _, sim, _ = bind(service, db, person, clock)
    _, token = unlock(service, sim)
    clock.advance(timedelta(minutes=15, seconds=1))
    with pytest.raises(AppLocked):
        service.sessions.app_session(token)
    _, token = unlock(service, sim)
    for _ in range(12 * 6 - 1):  # used every 10 minutes for almost 12 hours
        clock.advance(timedelta(minutes=10))
        service.sessions.app_session(token)
    clock.advance(timedelta(minutes=10))
    with pytest.raises(AppLocked):
        service.sessions.app_session(token)


def test_a_new_unlock_ends_the_devices_older_session(service, db, person, clock):  # APP-6
    _, sim, _ = bind(service, db, person, clock)
    _, first = unlock(service, sim)
    _, second = unlock(service, sim)
    with pytest.raises(AppLocked):
        service.sessions.app_session(first)
    assert service.sessions.app_session(second)


# -- log out (APP-7) and log out from all devices (APP-8) --------------------------------------


def test_logout_ends_only_this_device(service, db, person, clock):  # APP-7
    acc = account_for(db, person, clock)
    phone, phone_app, _ = bind(service, db, person, clock, account=acc)
    tablet, tablet_app, _ = bind(service, db, person, clock, name="tablet", account=acc)
    _, phone_token = unlock(service, phone_app)
    _, tablet_token = unlock(service, tablet_app)
    db.commit()
    service.revocation.logout(phone_token)
    db.commit()
    fresh(db)
    assert db.get(Device, phone.id).status == DeviceStatus.LOGGED_OUT
    assert db.get(Device, phone.id).end_reason == "logout"
    with pytest.raises(AppLocked):
        service.sessions.app_session(phone_token)
    with pytest.raises(DeviceUnknown) as e:
        service.challenges.challenge(phone_app.public_id, "unlock")
    assert "account" in (e.value.next_step or "")
    # the other device and the account are untouched: the account may activate the app again
    assert service.sessions.app_session(tablet_token)[1].id == tablet.id
    assert db.get(type(acc), acc.id).requires_invitation is False
    bind(service, db, person, clock, account=acc, kind=ActivationKind.ACCOUNT)
    assert "device_logged_out" in audit_actions(db, subject_person_id=person.id)


def test_logout_everywhere_revokes_all_devices_and_web_sessions(
    service, db, person, clock, app
):  # APP-8 WEB-5
    acc = account_for(db, person, clock)
    phone, phone_app, _ = bind(service, db, person, clock, account=acc)
    tablet, tablet_app, _ = bind(service, db, person, clock, name="tablet", account=acc)
    _, tablet_token = unlock(service, tablet_app)
    other_person = f.person(db, "Other")  # another person's device and session stay
    other, _, _ = bind(service, db, other_person, clock)
    sessions = SessionService(db, clock, idle=timedelta(minutes=30), absolute=timedelta(hours=12))
    _, web = sessions.start(person.id, method="fi_bank", strong=True, ctx=RequestContext())
    _, other_web = sessions.start(
        other_person.id, method="fi_bank", strong=True, ctx=RequestContext()
    )
    _, phone_token = unlock(service, phone_app)
    db.commit()

    assert service.revocation.logout_everywhere(phone_token) == 2
    db.commit()
    fresh(db)
    for d in (phone, tablet):
        row = db.get(Device, d.id)
        assert row.status == DeviceStatus.REVOKED and row.end_reason == "logout_everywhere"
    for token in (phone_token, tablet_token):
        with pytest.raises(AppLocked):
            service.sessions.app_session(token)
    assert (
        db.scalar(
            select(AppSession.id).where(
                AppSession.ended_at.is_(None), AppSession.device_id.in_([phone.id, tablet.id])
            )
        )
        is None
    )
    assert db.get(WebSession, web.id).revoked_at is not None
    assert db.get(WebSession, other_web.id).revoked_at is None
    assert db.get(Device, other.id).status == DeviceStatus.ACTIVE
    assert db.get(type(acc), acc.id).requires_invitation is True
    assert "logout_everywhere" in audit_actions(db, subject_person_id=person.id)
    # activating again: not with the account alone, but with a new invitation
    with pytest.raises(InvitationRequired) as e:
        bind(service, db, person, clock, account=acc, kind=ActivationKind.ACCOUNT)
    assert e.value.code == "invitation_required"
    db.rollback()
    bind(service, db, person, clock, account=acc, kind=ActivationKind.INVITATION)
    fresh(db)
    assert db.get(type(acc), acc.id).requires_invitation is False


def test_logout_needs_an_unlocked_app(service, db, person, clock):  # APP-7 APP-8
    bind(service, db, person, clock)
    with pytest.raises(AppLocked):
        service.revocation.logout("not-a-token")
    with pytest.raises(AppLocked):
        service.revocation.logout_everywhere("not-a-token")


# -- revoke (WEB-5) and "this wasn't me" ------------------------------------------------------


def test_revoke_own_device_but_not_another_persons(service, db, person, clock):  # WEB-5 APP-8
    mine, mine_app, _ = bind(service, db, person, clock)
    stranger = f.person(db, "Stranger")
    theirs, _, _ = bind(service, db, stranger, clock)
    with pytest.raises(NotFound):
        service.revocation.revoke(
            person.id, theirs.public_id, actor_person_id=person.id, reason="revoked_by_owner"
        )
    with pytest.raises(NotFound):
        service.revocation.revoke(
            person.id, "dev_unknown", actor_person_id=person.id, reason="revoked_by_owner"
        )
    _, token = unlock(service, mine_app)
    d = service.revocation.revoke(
        person.id, mine.public_id, actor_person_id=person.id, reason="revoked_by_owner"
    )
    db.commit()
    assert d.status == DeviceStatus.REVOKED and d.end_reason == "revoked_by_owner"
    with pytest.raises(AppLocked):
        service.sessions.app_session(token)
    with pytest.raises(DeviceUnknown):
        service.challenges.challenge(mine_app.public_id, "unlock")
    fresh(db)
    assert db.get(Device, theirs.id).status == DeviceStatus.ACTIVE
    event = audit_events(db, "device_revoked")[0]
    assert event.actor_person_id == person.id and event.subject_person_id == person.id


def test_not_me_revokes_the_device_once(service, db, person, clock):  # APP-8 WEB-5
    acc = account_for(db, person, clock)
    device, sim, not_me = bind(service, db, person, clock, account=acc)
    assert service.revocation.by_not_me_token(not_me).id == device.id
    d = service.revocation.not_me(not_me)
    db.commit()
    assert d.status == DeviceStatus.REVOKED and d.end_reason == "not_me"
    assert d.not_me_token_hash is None
    with pytest.raises(NotFound):
        service.revocation.not_me(not_me)
    with pytest.raises(NotFound):
        service.revocation.not_me("made-up")
    with pytest.raises(DeviceUnknown):
        service.challenges.challenge(sim.public_id, "unlock")
    # someone had what it takes to activate as this person: the account alone no longer does
    fresh(db)
    assert db.get(type(acc), acc.id).requires_invitation is True
    assert audit_actions(db, subject_person_id=person.id)[-1] == "device_reported_not_me"


def test_devices_for_lists_the_persons_devices_newest_first(service, db, person, clock):  # WEB-5
    first, _, _ = bind(service, db, person, clock, name="first")
    clock.advance(timedelta(seconds=1))
    second, _, _ = bind(service, db, person, clock, name="second")
    assert [d.id for d in service.lifecycle.devices_for(person.id)] == [second.id, first.id]
    assert service.lifecycle.devices_for(person.id + 1000) == []


def test_stale_challenges_are_cleared(service, db, person, clock):  # APP-4
    device, sim, _ = bind(service, db, person, clock)
    for _ in range(5):
        service.challenges.challenge(sim.public_id, "unlock")
    clock.advance(timedelta(minutes=3))
    service.challenges.challenge(sim.public_id, "unlock")
    db.commit()
    count = db.scalars(select(DeviceChallenge).where(DeviceChallenge.device_id == device.id)).all()
    assert len(count) == 1


def test_a_device_locked_after_it_was_read_is_not_used_by_biometrics(  # APP-5 APP-8
    service, db, person, clock, session_factory
):
    """An approval by biometrics uses the device as the app session read it (no second read):
    its last write lands only while the device is still active."""
    device, sim, _ = bind(service, db, person, clock, app=SimulatedApp(biometrics=True))
    _, token = unlock(service, sim, biometric=True)
    ch = service.challenges.challenge(sim.public_id, "approve_login", "tx-1")
    db.commit()
    _, known = service.sessions.app_session(token)
    with session_factory() as other:  # meanwhile, another request locks the device
        other.execute(update(Device).where(Device.id == device.id).values(status="locked"))
        other.commit()
    with pytest.raises(DeviceLocked):  # as a fresh read of the device answers
        service.approvals.verify(
            sim.public_id,
            purpose="approve_login",
            nonce=ch.nonce,
            signature=sim.sign("approve_login", ch.nonce, "tx-1"),
            context="tx-1",
            biometric_signature=sim.sign_biometric("approve_login", ch.nonce, "tx-1"),
            known=known,
        )
    db.commit()  # what the handler does with a refusal: the audit row stays
    assert audit_events(db, "device_approval_failed")[-1].details["reason"] == "device_locked"
    fresh(db)
    assert db.get(Device, device.id).status == DeviceStatus.LOCKED
