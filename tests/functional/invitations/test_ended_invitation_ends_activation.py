"""SEC-2: a cancelled, superseded or expired invitation ends its activation at every later step,
the "two-factor already done" path included. The attacker here holds an activation (the
sign-up code and the SMS code reached them); the admin ends the invitation; every step the
activation could still take is tried over HTTP and refused with a problem document, and no
device is bound."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portti.activation.models import Activation
from portti.devices.models import ActivationKind, Device
from portti.infra.clock import OffsetClock
from portti.invitations.models import Invitation
from portti.invitations.services import INVITATION_VALIDITY
from portti.people.models import Person
from support import factories as f
from support.activation import (
    AppActivation,
    Credentials,
    account_in_db,
    cancel_invitation,
    invite,
    latest_email_code,
    latest_signup_code,
    latest_sms_code,
    new_account_over_http,
)
from support.db import fresh
from support.web import another_browser, force_login

ENDINGS = ("cancelled", "superseded", "expired")


@dataclass
class Scene:
    app: object
    admin: TestClient
    db: Session
    secret: bytes
    clock: OffsetClock
    world: f.World

    @property
    def invitee(self) -> Person:
        return self.world.employee_a

    def invite(self) -> None:
        force_login(self.admin, self.world.kh_a, stepped_up=True)  # fresh, whatever time it is
        invite(self.admin, self.world.client_a.id, self.world.employee_a_membership.id)

    def new_app(self) -> AppActivation:
        return AppActivation(another_browser(self.app))

    def start(self) -> AppActivation:
        """Invited; the sign-up code entered in a new app."""
        self.invite()
        act = self.new_app()
        r = act.redeem(latest_signup_code(self.db, self.secret, self.invitee))
        assert r.status_code == 201, r.text
        return act

    def confirm_phone(self, act: AppActivation) -> None:
        r = act.confirm_phone(latest_sms_code(self.db, self.secret, self.invitee))
        assert r.status_code == 200, r.text

    def end(self, how: str) -> None:
        if how == "cancelled":
            cancel_invitation(
                self.admin, self.world.client_a.id, self.world.employee_a_membership.id
            )
        elif how == "superseded":
            self.invite()
        else:
            self.clock.advance(INVITATION_VALIDITY + timedelta(seconds=1))


@pytest.fixture
def scene(app, kh, db, settings, clock, world) -> Scene:  # type: ignore[no-untyped-def]
    return Scene(app, kh, db, settings.secret, clock, world)


def assert_refused(r: httpx.Response, how: str) -> None:
    assert r.status_code == 410, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "invitation_expired"
    assert problem["reason"] == how
    assert problem["next_step"] and problem["detail"]


def devices_of(db: Session, person: Person) -> int:
    fresh(db)
    return int(
        db.scalar(select(func.count()).select_from(Device).where(Device.person_id == person.id))
        or 0
    )


def assert_nothing_bound(scene: Scene) -> None:
    assert devices_of(scene.db, scene.invitee) == 0
    assert "activated" not in {i.status for i in scene.db.scalars(select(Invitation))}


# Each later step: bring the activation to it, then (after the invitation ended) take it.
Attempt = Callable[[], httpx.Response]


def _sms_confirm(s: Scene, act: AppActivation) -> Attempt:
    code = latest_sms_code(s.db, s.secret, s.invitee)
    return lambda: act.confirm_phone(code)


def _sms_resend(s: Scene, act: AppActivation) -> Attempt:
    return act.resend


def _status(s: Scene, act: AppActivation) -> Attempt:
    s.confirm_phone(act)
    return lambda: act.http.get("/app-api/v1/activations/current", headers=act.auth)


def _account_create(s: Scene, act: AppActivation) -> Attempt:
    s.confirm_phone(act)
    return lambda: act.new_account("attacker@example.net")


def _email_code(s: Scene, act: AppActivation) -> Attempt:
    s.confirm_phone(act)
    assert act.new_account("attacker@example.net").status_code == 200
    code = latest_email_code(s.db, s.secret, "attacker@example.net")
    return lambda: act.verify_email(code)


def _password(s: Scene, act: AppActivation) -> Attempt:
    _email_code(s, act)()
    return act.password


def _totp(s: Scene, act: AppActivation) -> Attempt:
    _password(s, act)()
    return act.start_totp


def _account_login(s: Scene, act: AppActivation) -> Attempt:
    creds = account_in_db(s.db, s.app, s.invitee)
    s.confirm_phone(act)
    return lambda: act.existing_account(creds.login_body(s.clock))


def _terms(s: Scene, act: AppActivation) -> Attempt:
    creds = account_in_db(s.db, s.app, s.invitee)
    s.confirm_phone(act)
    assert act.existing_account(creds.login_body(s.clock)).json()["step"] == "terms"
    return act.accept_terms


def _pin(s: Scene, act: AppActivation) -> Attempt:
    """A PIN the policy refuses: the ended invitation is what answers, before the PIN."""
    _terms(s, act)()
    return lambda: act.bind(pin="123456")


def _bind(s: Scene, act: AppActivation) -> Attempt:
    _terms(s, act)()
    return act.bind


STEPS: dict[str, Callable[[Scene, AppActivation], Attempt]] = {
    "sms_confirm": _sms_confirm,
    "sms_resend": _sms_resend,
    "activation_status": _status,
    "account_create": _account_create,
    "account_email_code": _email_code,
    "account_password": _password,
    "account_totp": _totp,
    "account_login": _account_login,
    "terms": _terms,
    "pin": _pin,
    "bind": _bind,
}


@pytest.mark.parametrize("how", ENDINGS)
@pytest.mark.parametrize("step", list(STEPS))
def test_every_later_step_is_refused_once_the_invitation_ended(
    scene: Scene, step: str, how: str
) -> None:  # SEC-2 INV-3 APP-1
    act = scene.start()
    attempt = STEPS[step](scene, act)
    scene.end(how)
    assert_refused(attempt(), how)
    assert_nothing_bound(scene)


@pytest.mark.parametrize("how", ENDINGS)
def test_a_step_that_was_fine_before_the_end_is_refused_after_it(
    scene: Scene, how: str
) -> None:  # SEC-2 INV-3
    """The control: the very request that binds the device works up to the end, not after."""
    act = scene.start()
    _terms(scene, act)()
    assert act.http.get("/app-api/v1/activations/current", headers=act.auth).status_code == 200
    scene.end(how)
    assert_refused(act.bind(), how)
    assert_refused(act.bind(), how)  # and stays refused
    assert_nothing_bound(scene)


def no_account_activations(db: Session) -> bool:
    fresh(db)
    kinds = set(db.scalars(select(Activation.kind)))
    return ActivationKind.ACCOUNT.value not in kinds


def assert_account_alone_refused(scene: Scene, creds: Credentials) -> None:
    """ "Two-factor authentication already done" with every factor right: refused."""
    app = scene.new_app()
    r = app.start_with_account(creds.login_body(scene.clock))
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "reactivation_needs_invitation"
    assert "invitation" in r.json()["next_step"]
    assert app.token is None
    assert no_account_activations(scene.db)
    assert_nothing_bound(scene)


@pytest.mark.parametrize("how", ENDINGS)
def test_an_account_made_in_an_ended_activation_does_not_activate_the_app_alone(
    scene: Scene, how: str
) -> None:  # SEC-2 APP-2 APP-7
    act = scene.start()
    scene.confirm_phone(act)
    creds = new_account_over_http(act, scene.db, scene.secret, scene.clock, "mine@example.net")
    scene.end(how)
    assert_refused(act.accept_terms(), how)
    assert_account_alone_refused(scene, creds)

    # The rightful invitee is not locked out: a new invitation, the same account, a device ...
    if how != "superseded":
        scene.invite()
    again = scene.new_app()
    assert (
        again.redeem(latest_signup_code(scene.db, scene.secret, scene.invitee)).status_code == 201
    )
    scene.confirm_phone(again)
    assert again.existing_account(creds.login_body(scene.clock)).status_code == 200
    assert again.accept_terms().status_code == 200
    assert again.bind().status_code == 201
    # ... and from then on the account alone activates the app.
    later = scene.new_app()
    assert later.start_with_account(creds.login_body(scene.clock)).status_code == 201, later
    assert later.bind(name="Second phone").status_code == 201


@pytest.mark.parametrize("how", ENDINGS)
def test_an_account_reopened_by_an_ended_invitation_stays_closed(
    scene: Scene, how: str
) -> None:  # SEC-2 APP-7 APP-8
    """After "Log out from all devices" the account needs an invitation; logging in to it
    within an invitation that then ends re-opens nothing."""
    creds = account_in_db(scene.db, scene.app, scene.invitee, requires_invitation=True)
    act = scene.start()
    scene.confirm_phone(act)
    assert act.existing_account(creds.login_body(scene.clock)).status_code == 200
    scene.end(how)
    assert_refused(act.accept_terms(), how)
    assert_account_alone_refused(scene, creds)
