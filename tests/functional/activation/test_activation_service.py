"""``ActivationService``: the bank-ID hand-off from the browser to the app (APP-9) is picked up
once, only with the verifier of the challenge the app started with, and only in time."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta

import pytest

from portti.activation.services import (
    ACCOUNT_ACTIVATION_LIFETIME,
    BANK_ID_HANDOFF_LIFETIME,
    WEB_APP_HANDOFF,
    ActivationService,
    s256,
)
from portti.devices.models import ActivationKind
from portti.invitations.errors import ActivationUnknown
from support import factories as f


def challenge_of(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


@pytest.fixture
def service(db, clock, settings) -> ActivationService:  # type: ignore[no-untyped-def]
    return ActivationService(db, clock, settings.secret)


@pytest.fixture
def person_id(db) -> int:  # type: ignore[no-untyped-def]
    p = f.person(db, "Pekka", "Pankki")
    db.commit()
    return int(p.id)


def test_s256_is_rfc_7636s_example() -> None:
    # RFC 7636, appendix B.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_the_app_with_the_verifier_gets_its_activation_once(
    service, db, clock, person_id
) -> None:  # APP-9
    verifier = secrets.token_urlsafe(32)
    handoff = service.start_bank_id_handoff(person_id, challenge_of(verifier))
    assert handoff.url == f"portti-app://activation?handoff={handoff.code}"
    db.commit()
    started = service.finish_bank_id_handoff(handoff.code, verifier)
    act = started.activation
    assert act.kind == ActivationKind.BANK_ID and act.person_id == person_id
    assert act.token_hash == service.token_hasher.hash(started.token)
    # The clock runs: the hand-off gave terms and PIN the account activation's time from then.
    left = act.expires_at - clock.now()
    assert ACCOUNT_ACTIVATION_LIFETIME - timedelta(seconds=5) < left <= ACCOUNT_ACTIVATION_LIFETIME
    db.commit()
    with pytest.raises(ActivationUnknown):
        service.finish_bank_id_handoff(handoff.code, verifier)


def test_another_verifier_is_refused_and_the_right_one_still_works(
    service, db, person_id
) -> None:  # APP-9
    verifier = secrets.token_urlsafe(32)
    handoff = service.start_bank_id_handoff(person_id, challenge_of(verifier))
    db.commit()
    with pytest.raises(ActivationUnknown):
        service.finish_bank_id_handoff(handoff.code, secrets.token_urlsafe(32))
    assert service.finish_bank_id_handoff(handoff.code, verifier).token


def test_a_late_handoff_is_refused(service, db, clock, person_id) -> None:  # APP-9
    verifier = secrets.token_urlsafe(32)
    handoff = service.start_bank_id_handoff(person_id, challenge_of(verifier))
    db.commit()
    clock.advance(BANK_ID_HANDOFF_LIFETIME + timedelta(seconds=1))
    with pytest.raises(ActivationUnknown):
        service.finish_bank_id_handoff(handoff.code, verifier)


def test_the_web_app_is_sent_back_to_its_page(service, db, person_id) -> None:  # APP-9
    verifier = secrets.token_urlsafe(32)
    handoff = service.start_bank_id_handoff(person_id, WEB_APP_HANDOFF + challenge_of(verifier))
    assert handoff.web_app and handoff.url == f"/app/#handoff={handoff.code}"
    db.commit()
    assert service.finish_bank_id_handoff(handoff.code, verifier).token
