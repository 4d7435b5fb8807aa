"""The device service with a ``webauthn`` biometric key (APP-5): the web app's platform
authenticator as the biometric factor, next to the device key; the key-pair kind is unchanged."""

from __future__ import annotations

import pytest

from portti.devices.errors import InvalidDeviceKey, SignatureInvalid
from portti.devices.keys import signed_message
from portti.devices.webauthn_keys import WEBAUTHN, relying_party
from support.db import audit_events
from support.device_keys import SimulatedApp
from support.devices import PIN, activation_for, unlock
from support.webauthn import UP, SoftAuthenticator


def bind_with_webauthn(service, db, person, clock):  # type: ignore[no-untyped-def]
    sim, auth = SimulatedApp(), SoftAuthenticator()
    device, _ = service.binding.bind(
        activation_for(db, person, clock),
        name="Web app",
        platform="Android (web app)",
        pin=PIN,
        key_alg=sim.alg,
        public_key=sim.public_key,
        biometric_key_alg=WEBAUTHN,
        biometric_public_key=auth.public_key,
    )
    db.commit()
    sim.public_id = device.public_id
    return device, sim, auth


def unlock_with(service, sim, auth, **assertion_options):  # type: ignore[no-untyped-def]
    ch = service.challenges.challenge(sim.public_id, "unlock")
    message = signed_message("unlock", ch.nonce, None)
    return service.sessions.unlock(
        sim.public_id,
        nonce=ch.nonce,
        signature=sim.sign("unlock", ch.nonce),
        biometric_signature=auth.assertion(message, **assertion_options),
    )


def test_unlock_with_a_webauthn_assertion(service, db, person, clock, settings):  # APP-5
    device, sim, auth = bind_with_webauthn(service, db, person, clock)
    assert device.biometric_key_alg == WEBAUTHN
    rp_id, origin = relying_party(settings.base_url)
    _, token = unlock_with(service, sim, auth, origin=origin, rp_id=rp_id)
    db.commit()
    assert service.sessions.app_session(token)
    assert audit_events(db, "app_unlocked")[-1].details["method"] == "biometrics"
    unlock(service, sim, pin=PIN)  # the PIN works as well


@pytest.mark.parametrize(
    "bad",
    [{"origin": "https://phish.example"}, {"flags": UP}, {"rp_id": "phish.example"}],
    ids=["other origin", "no user verification", "other RP ID"],
)
def test_assertions_that_do_not_fit_are_refused(service, db, person, clock, settings, bad):  # type: ignore[no-untyped-def]  # APP-5
    _, sim, auth = bind_with_webauthn(service, db, person, clock)
    rp_id, origin = relying_party(settings.base_url)
    with pytest.raises(SignatureInvalid):
        unlock_with(service, sim, auth, **{"origin": origin, "rp_id": rp_id, **bad})


def test_a_webauthn_key_must_be_p256_or_ed25519(service, db, person, clock):  # APP-5
    sim = SimulatedApp()
    with pytest.raises(InvalidDeviceKey):
        service.binding.bind(
            activation_for(db, person, clock),
            name="Web app",
            platform="Android",
            pin=PIN,
            key_alg=sim.alg,
            public_key=sim.public_key,
            biometric_key_alg=WEBAUTHN,
            biometric_public_key="AAAA",
        )
