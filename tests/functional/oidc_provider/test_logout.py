"""Logout reaches every client: RP-initiated logout, and OpenID Back-Channel Logout when the
person logs out, ends their sessions, logs out from all devices (APP-8), says "This wasn't me",
removes a device (WEB-5) or loses the membership. The RP end is a real HTTP server; the tokens
are checked with Authlib. Also the login by QR with the app (WEB-1) through the provider."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from portti.audit.models import AuditAction, AuditEvent
from portti.audit.services import AuditLog
from portti.companies.actors import Actor
from portti.companies.models import Membership
from portti.companies.policy import local_today
from portti.companies.schemas import ChangeMembershipInput, Validity
from portti.companies.services import MembershipService
from portti.devices.models import Device
from portti.oidc_provider.claims import ACR_APP
from portti.oidc_provider.models import OidcLogin
from portti.qrlogin.frames import QrFrames, elapsed_seconds
from portti.weblogin.models import LoginTransaction
from support import factories as f
from support.db import fresh
from support.devices import bind, make_service, unlock
from support.oidc import (
    RelyingParty,
    logout_receiver,
    query_of,
    register,
    relying_party,
    return_url,
    verify_logout_token,
)
from support.qr import Phone, complete, open_qr_login, status
from support.web import (
    HTML,
    another_browser,
    csrf_from,
    force_login,
    local,
    login,
    page_csrf,
    step_up,
)


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    with logout_receiver() as server:
        yield server


@pytest.fixture
def rp(client, db, clock, settings, receiver, cast) -> RelyingParty:  # type: ignore[no-untyped-def]
    reg = register(
        db,
        clock,
        settings.secret,
        company_ids=[cast.makinen.id, cast.aalto.id],
        backchannel_logout_uri=receiver.url,
        post_logout_redirect_uris=["https://accounting.example/logged-out"],
    )
    return relying_party(client._transport, "http://testserver", reg)


def logged_in(client, rp: RelyingParty, person) -> dict:  # type: ignore[no-untyped-def]
    force_login(client, person)
    token = rp.fetch_token(return_url(client.get(local(rp.authorization_url()))))
    return {**token, "claims": rp.id_claims(token["id_token"])}


def deliver(app) -> int:  # type: ignore[no-untyped-def]
    return int(app.state.runtime.backchannel_logout.deliver_due())


def assert_logged_out(app, rp: RelyingParty, receiver, token: dict, now: int | None = None) -> None:  # type: ignore[no-untyped-def]
    assert deliver(app) == 1
    assert len(receiver.tokens) == 1
    claims = verify_logout_token(
        receiver.tokens[0], rp.jwks(), rp.issuer, rp.reg.client_id, now=now
    )
    assert claims["sid"] == token["claims"]["sid"] and claims["sub"] == token["claims"]["sub"]
    # Its tokens stop working at once.
    r = rp.http.get("http://testserver/oidc/userinfo")
    assert r.status_code == 401
    refresh = rp.http.post(
        "http://testserver/oidc/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(rp.reg.client_id, rp.reg.client_secret),
    )
    assert refresh.json()["error"] == "invalid_grant"


def test_logging_out_of_portti_logs_out_of_the_client(
    client, app, rp, receiver, cast
) -> None:  # WEB-5
    token = logged_in(client, rp, cast.kaisa)
    assert deliver(app) == 0  # nothing to tell yet
    r = client.post("/logout", data={"csrf_token": page_csrf(client)})
    assert r.status_code == 303
    assert_logged_out(app, rp, receiver, token)
    assert deliver(app) == 0  # told once


def test_a_step_up_after_the_client_login_keeps_it_tied_to_the_session(
    client, app, rp, receiver, cast
) -> None:  # WEB-5 SEC-11
    # The step-up replaces the session's token (SEC-11); the client's login follows it, so
    # logging out of the new session still logs out of the client.
    token = logged_in(client, rp, cast.kaisa)
    assert step_up(client, cast.kaisa).status_code == 303
    r = client.post("/logout", data={"csrf_token": page_csrf(client)})
    assert r.status_code == 303
    assert_logged_out(app, rp, receiver, token)


def test_rp_initiated_logout_with_id_token_hint(client, app, rp, receiver, cast) -> None:  # WEB-5
    token = logged_in(client, rp, cast.kaisa)
    r = client.get(
        "/oidc/logout",
        params={
            "id_token_hint": token["id_token"],
            "post_logout_redirect_uri": "https://accounting.example/logged-out",
            "state": "s1",
        },
    )
    assert r.status_code == 303
    assert r.headers["location"] == "https://accounting.example/logged-out?state=s1"
    assert client.get("/home", headers=HTML).status_code in (303, 401)
    assert_logged_out(app, rp, receiver, token)


def test_rp_initiated_logout_without_a_hint_asks_first(
    client, app, rp, receiver, cast
) -> None:  # WEB-5
    logged_in(client, rp, cast.kaisa)
    page = client.get("/oidc/logout", params={"client_id": rp.reg.client_id}, headers=HTML)
    assert page.status_code == 200 and "Log out of Portti?" in page.text
    assert deliver(app) == 0  # a link alone logs nobody out
    r = client.post(
        "/oidc/logout",
        data={"client_id": rp.reg.client_id, "csrf_token": csrf_from(page)},
        headers=HTML,
    )
    assert r.status_code == 200 and "You have logged out" in r.text
    assert deliver(app) == 1


def test_logout_to_an_unregistered_address_is_refused(client, rp, cast) -> None:  # OPS-4
    token = logged_in(client, rp, cast.kaisa)
    r = client.get(
        "/oidc/logout",
        params={
            "id_token_hint": token["id_token"],
            "post_logout_redirect_uri": "https://evil.example/",
        },
        headers=HTML,
    )
    assert r.status_code == 400 and "location" not in r.headers


def test_ending_the_persons_sessions_logs_out_of_clients(
    client, app, rp, receiver, cast
) -> None:  # WEB-5
    token = logged_in(client, rp, cast.kaisa)
    other = another_browser(app)
    force_login(other, cast.kaisa)
    r = other.post("/settings/sessions/revoke-others", data={"csrf_token": page_csrf(other)})
    assert r.status_code == 303
    assert_logged_out(app, rp, receiver, token)


def test_membership_removed_logs_out_of_clients(
    client, app, db, clock, settings, rp, receiver, cast
) -> None:  # ADM-9
    token = logged_in(client, rp, cast.kaisa)
    kh = f.person(db, "Kalle", "Admin")
    f.member(db, kh, cast.aalto, ["user_admin"])
    m = db.scalars(
        select(Membership).where(
            Membership.person_id == cast.kaisa.id, Membership.company_id == cast.aalto.id
        )
    ).one()
    members = MembershipService(
        db, clock, AuditLog(db, clock), step_up_window=settings.step_up_window
    )
    members.remove_membership(
        Actor(person_id=kh.id, strong_auth_at=clock.now()), cast.aalto.id, m.id
    )
    db.commit()
    assert_logged_out(app, rp, receiver, token)
    # A new login gives the claims of now: Aalto is gone.
    fresh_rp = relying_party(client._transport, rp.issuer, rp.reg)
    again = fresh_rp.fetch_token(return_url(client.get(local(fresh_rp.authorization_url()))))
    companies = [c["name"] for c in fresh_rp.id_claims(again["id_token"])["companies"]]
    assert companies == ["Mäkinen Design Oy"]


def test_unreachable_client_is_retried_with_back_off(
    client, app, rp, receiver, cast, clock, db
) -> None:  # OPS-4
    logged_in(client, rp, cast.kaisa)
    receiver.status = 503
    client.post("/logout", data={"csrf_token": page_csrf(client)})
    assert deliver(app) == 0
    assert deliver(app) == 0  # not due yet
    receiver.status = 200
    clock.advance(timedelta(seconds=5))
    assert deliver(app) == 1
    fresh(db)
    login = db.scalars(select(OidcLogin)).one()
    assert login.logout_status == "sent" and login.logout_attempts == 2


# -- the app: QR login through the provider, and the device's end reaching the client ------


def phone_for(app, db, settings, clock, person) -> tuple[Phone, Device]:  # type: ignore[no-untyped-def]
    service = make_service(db, app)
    device, sim, not_me = bind(service, db, person, clock)
    _, token = unlock(service, sim)
    db.commit()
    phone = Phone(http=another_browser(app), sim=sim, token=token)
    phone.not_me = not_me  # type: ignore[attr-defined]
    return phone, device


def qr_login(client, db, settings, clock, phone: Phone, next_: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    panel = open_qr_login(client, next_=next_)
    fresh(db)
    tx = db.scalars(
        select(LoginTransaction).where(LoginTransaction.public_id == panel.public_id)
    ).one()
    payload = QrFrames(settings.secret).payload(
        panel.public_id, elapsed_seconds(tx.created_at, clock.now())
    )
    assert phone.scan(payload).status_code == 200
    number = status(client, panel.public_id)["number"]
    assert phone.approve(panel.public_id, number).status_code == 200
    return complete(client, panel)


def test_login_by_qr_with_the_app_then_removing_the_device_logs_out(
    client, app, db, settings, clock, rp, receiver, cast
) -> None:  # WEB-1 WEB-5
    phone, device = phone_for(app, db, settings, clock, cast.kaisa)
    first = client.get(local(rp.authorization_url()))
    done = qr_login(client, db, settings, clock, phone, query_of(first.headers["location"])["next"])
    assert done.status_code == 303, done.text
    callback = return_url(client.get(local(done.headers["location"])))
    token = rp.fetch_token(callback)
    claims = rp.id_claims(token["id_token"])
    assert claims["acr"] == ACR_APP and "swk" in claims["amr"]
    token["claims"] = claims
    # The person removes the phone in Basic settings.
    page = client.get("/settings", headers=HTML)
    r = client.post(
        f"/settings/devices/{device.public_id}/revoke", data={"csrf_token": csrf_from(page)}
    )
    assert r.status_code in (303, 200), r.text
    assert_logged_out(app, rp, receiver, token)


def test_logout_from_all_devices_logs_out_of_clients(
    client, app, db, settings, clock, rp, receiver, cast
) -> None:  # APP-8
    phone, _ = phone_for(app, db, settings, clock, cast.kaisa)
    token = logged_in(client, rp, cast.kaisa)
    r = phone.http.post("/app-api/v1/session/logout-everywhere", headers=phone.auth)
    assert r.status_code in (200, 204), r.text
    assert_logged_out(app, rp, receiver, token)


def test_this_wasnt_me_logs_out_of_clients(
    client, app, db, settings, clock, rp, receiver, cast
) -> None:  # APP-8
    phone, _ = phone_for(app, db, settings, clock, cast.kaisa)
    token = logged_in(client, rp, cast.kaisa)
    browser = another_browser(app)
    page = browser.get(f"/devices/not-me/{phone.not_me}", headers=HTML)  # type: ignore[attr-defined]
    assert page.status_code == 200, page.text
    r = browser.post(
        f"/devices/not-me/{phone.not_me}", data={"csrf_token": csrf_from(page)}, headers=HTML
    )  # type: ignore[attr-defined]
    assert r.status_code in (200, 303), r.text
    assert_logged_out(app, rp, receiver, token)


# -- memberships that end: by an administrator, and with time ------------------------------


def _aalto_membership(db, cast) -> Membership:  # type: ignore[no-untyped-def]
    return db.scalars(
        select(Membership).where(
            Membership.person_id == cast.kaisa.id, Membership.company_id == cast.aalto.id
        )
    ).one()


def test_membership_ended_by_an_administrator_logs_out_of_clients(
    client, app, db, clock, settings, rp, receiver, cast
) -> None:  # ADM-9 WEB-5
    token = logged_in(client, rp, cast.kaisa)
    kh = f.person(db, "Kalle", "Admin")
    f.member(db, kh, cast.aalto, ["user_admin"])
    m = _aalto_membership(db, cast)
    yesterday = local_today(cast.aalto, clock.now()) - timedelta(days=1)
    MembershipService(
        db, clock, AuditLog(db, clock), step_up_window=settings.step_up_window
    ).change_membership(
        Actor(person_id=kh.id, strong_auth_at=clock.now()),
        cast.aalto.id,
        m.id,
        ChangeMembershipInput(
            roles=["bookkeeper"], validity=Validity.TIME_LIMITED, valid_until=yesterday
        ),
    )
    db.commit()
    assert_logged_out(app, rp, receiver, token)


def test_a_membership_that_ends_with_time_logs_out_of_clients(
    client, app, db, clock, rp, receiver, cast
) -> None:  # ADM-9 WEB-5
    # Aalto's membership is valid through today, in the company's time zone; nobody acts.
    m = _aalto_membership(db, cast)
    m.valid_until = local_today(cast.aalto, clock.now())
    db.commit()
    token = logged_in(client, rp, cast.kaisa)
    assert [c["name"] for c in token["claims"]["companies"]] == [
        "Kahvila Aalto Oy",
        "Mäkinen Design Oy",
    ]
    worker = app.state.runtime.backchannel_logout
    assert worker.run_once() == 0  # still valid today: nothing ends
    assert receiver.tokens == []

    clock.advance(timedelta(days=1))  # past midnight in Helsinki: the end date has passed
    assert worker.sweep_ended_memberships() == 1
    assert_logged_out(app, rp, receiver, token, now=int(clock.now().timestamp()))
    assert worker.sweep_ended_memberships() == 0  # told once
    fresh(db)
    login = db.scalars(select(OidcLogin)).one()
    assert login.end_reason == "membership_ended" and login.logout_status == "sent"
    event = db.scalars(
        select(AuditEvent).where(AuditEvent.action == AuditAction.OIDC_LOGOUT.value)
    ).one()
    assert event.company_id == cast.aalto.id and event.subject_person_id == cast.kaisa.id
    assert event.details == {"client": rp.reg.client_id, "reason": "membership_ended"}

    # Logging in again is allowed (Mäkinen remains) and gives the claims of now; that login
    # began after the end and is not swept. (A day on, the Portti session has expired too.)
    force_login(client, cast.kaisa)
    fresh_rp = relying_party(client._transport, rp.issuer, rp.reg)
    again = fresh_rp.fetch_token(return_url(client.get(local(fresh_rp.authorization_url()))))
    claims = fresh_rp.id_claims(again["id_token"], now=int(clock.now().timestamp()))
    assert [c["name"] for c in claims["companies"]] == ["Mäkinen Design Oy"]
    clock.advance(timedelta(minutes=5))
    assert worker.run_once() == 0
    assert len(receiver.tokens) == 1


def test_an_ended_membership_leaves_a_login_for_another_company_alone(
    client, app, db, clock, settings, receiver, cast
) -> None:  # ADM-9
    # A client with company selection: the login is for Mäkinen, so Aalto's end leaves it.
    # (offline_access: its refresh a day later does not need the Portti session.)
    reg = register(
        db,
        clock,
        settings.secret,
        company_selection=True,
        backchannel_logout_uri=receiver.url,
        allowed_scopes=["openid", "profile", "companies", "offline_access"],
    )
    m = _aalto_membership(db, cast)
    m.valid_until = local_today(cast.aalto, clock.now())
    db.commit()
    picker = relying_party(
        client._transport, "http://testserver", reg, scope="openid companies offline_access"
    )
    first = client.get(local(picker.authorization_url()))
    callback = login(client, cast.kaisa, next_=query_of(first.headers["location"])["next"])
    page = client.get(local(callback.headers["location"]))
    chosen = client.post(
        "/oidc/company",
        data={
            "r": query_of(callback.headers["location"])["r"],
            "company_id": cast.makinen.id,
            "csrf_token": csrf_from(page),
        },
    )
    token = picker.fetch_token(return_url(chosen))
    assert picker.id_claims(token["id_token"])["company"]["name"] == "Mäkinen Design Oy"
    clock.advance(timedelta(days=1))
    assert app.state.runtime.backchannel_logout.sweep_ended_memberships() == 0
    fresh(db)
    assert db.scalars(select(OidcLogin)).one().ended_at is None
    refreshed = picker.http.post(
        "http://testserver/oidc/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(reg.client_id, reg.client_secret),
    )
    assert refreshed.status_code == 200, refreshed.text
    assert deliver(app) == 0 and receiver.tokens == []
