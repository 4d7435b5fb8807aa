"""The request's unit of work (web/uow.py): every route runs in one transaction that is
committed when the handler returns, or raises a refusal that keeps its writes (a counted wrong
PIN or code, an audited refusal), and rolled back otherwise, before the response is sent.
Routes never commit: a counted refusal is kept without their help."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select

import portti
from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.companies.catalogue import USER_ADMIN
from portti.companies.errors import PersonNeedsSupport
from portti.companies.models import Membership
from portti.devices.models import Device
from portti.errors import Conflict, DomainError
from portti.invitations.models import ConfirmationCode
from portti.people.models import Person
from portti.web.deps import Audit, Uow, get_unit_of_work, request_context
from portti.web.plain import in_unit_of_work
from portti.web.uow import UnitOfWork
from support import factories as f
from support.activation import invitation_url, invite, latest_signup_code, latest_sms_code
from support.db import audit_events, fresh
from support.qr import phone_of
from support.web import api_headers

API = "/app-api/v1"
SRC = Path(portti.__file__).parent
# The modules that hold routes (HTML views and JSON APIs).
ROUTE_PATTERNS = ("*/views.py", "*/*_views.py", "*/api.py", "*/*_api.py", "*/admin.py")
ROUTE_MODULES = sorted({p for pattern in ROUTE_PATTERNS for p in SRC.glob(pattern)})


def _calls(dependant: Dependant) -> Iterator[tuple[object, str | None]]:
    for sub in dependant.dependencies:
        yield sub.call, sub.scope
        yield from _calls(sub)


def test_every_route_runs_in_the_unit_of_work(app: FastAPI, client: TestClient) -> None:
    """Each HTTP route depends on ``get_unit_of_work`` with ``scope="function"`` (it ends
    before the response is sent); a route added without it fails here."""
    # FastAPI includes routers lazily: their routes, with the app's and routers' dependencies,
    # are the route contexts (what the OpenAPI document is built from).
    routes = [
        ctx
        for ctx in iter_route_contexts(app.routes)
        if isinstance(ctx.original_route, APIRoute | APIWebSocketRoute)
    ]
    assert len(routes) > 80
    missing = [
        f"{sorted(ctx.methods or ['WS'])} {ctx.path}"
        for ctx in routes
        if (get_unit_of_work, "function") not in set(_calls(ctx.dependant))
    ]
    assert missing == []


def test_no_route_module_commits_or_rolls_back_by_itself() -> None:
    """The transaction is the unit of work's: a route module that called ``commit()`` would
    again decide on its own whether a refusal keeps what it recorded."""
    assert len(ROUTE_MODULES) >= 15
    found = []
    for path in ROUTE_MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"commit", "rollback"}
            ):
                found.append(f"{path.relative_to(SRC)}:{node.lineno} {node.func.attr}()")
    assert found == []


# -- counted refusals are kept --------------------------------------------------------------


def test_a_wrong_pin_stays_counted(app, db, settings, clock) -> None:  # APP-5 SEC-3
    kadri = f.person(db, "Kadri", "Tamm", identifier=("personal_number", "EE", "49403136526"))
    f.member(db, kadri, f.company(db, "Tamm Konsult Oy"))
    db.commit()
    phone = phone_of(app, db, settings, clock, kadri)
    device_id = phone.sim.public_id
    ch = phone.http.post(f"{API}/devices/{device_id}/challenges", json={"purpose": "unlock"})
    nonce = ch.json()["nonce"]
    r = phone.http.post(
        f"{API}/devices/{device_id}/unlock",
        json={"nonce": nonce, "signature": phone.sim.sign("unlock", nonce), "pin": "975310"},
    )
    assert r.status_code == 400 and r.json()["code"] == "pin_wrong", r.text
    fresh(db)
    device = db.scalars(select(Device).where(Device.public_id == device_id)).one()
    assert device.pin_failures == 1
    assert audit_events(db, "pin_failed")[-1].subject_person_id == kadri.id
    # The nonce was spent by the refused try: using it again is refused as such.
    again = phone.http.post(
        f"{API}/devices/{device_id}/unlock",
        json={"nonce": nonce, "signature": phone.sim.sign("unlock", nonce), "pin": phone.pin},
    )
    assert again.status_code == 400 and again.json()["code"] == "nonce_invalid", again.text


def test_a_wrong_signup_code_stays_audited(client, db) -> None:  # INV-2 SEC-5
    r = client.post(f"{API}/activations", json={"signup_code": "0" * 16})
    assert r.status_code == 400 and r.json()["code"] == "invitation_invalid", r.text
    assert len(audit_events(db, "signup_code_rejected")) == 1


def test_a_wrong_sms_code_stays_counted(kh, client, db, settings, world) -> None:  # INV-5
    invite(kh, world.client_a.id, world.employee_a_membership.id)
    started = client.post(
        f"{API}/activations",
        json={"signup_code": latest_signup_code(db, settings.secret, world.employee_a)},
    )
    assert started.status_code == 201, started.text
    right = latest_sms_code(db, settings.secret, world.employee_a)
    wrong = f"{(int(right) + 1) % 1000000:06d}"
    r = client.post(
        f"{API}/activations/current/confirmation-code",
        json={"code": wrong},
        headers={"Authorization": f"Bearer {started.json()['activation_token']}"},
    )
    assert r.status_code == 400 and r.json()["code"] == "sms_code_wrong", r.text
    fresh(db)
    assert [c.failed_attempts for c in db.scalars(select(ConfirmationCode))] == [1]


def test_a_refusal_of_the_grant_hierarchy_stays_audited(kh, db, world) -> None:  # SEC-1
    """KH of Client A may not invite a user administrator of another company."""
    victim = f.person(db, "Veikko", "Victim")
    f.member(db, victim, world.client_a, ["bookkeeper"])
    f.member(db, victim, world.other, [USER_ADMIN])
    db.commit()
    m = db.scalars(
        select(Membership).where(
            Membership.person_id == victim.id, Membership.company_id == world.client_a.id
        )
    ).one()
    r = kh.post(
        invitation_url(world.client_a.id, m.id),
        json={"identity_verified": True},
        headers=api_headers(kh),
    )
    assert r.status_code == 403 and r.json()["code"] == "person_needs_support", r.text
    denied = audit_events(db, "access_denied")
    assert [(e.subject_person_id, e.details["operation"]) for e in denied] == [
        (victim.id, "invite")
    ]


# -- the policy itself, on routes made for the test ------------------------------------------


class KeptRefusal(DomainError):
    keeps_writes = True
    status = 403
    code = "kept_refusal"


@pytest.fixture
def probe(app: FastAPI, client: TestClient, session_factory) -> TestClient:  # type: ignore[no-untyped-def]
    """Routes that record an audit row, then answer or fail in each way the unit of work tells
    apart. ``effects`` notes what the after-commit effects saw, read on a session of their own."""
    effects: list[int] = []
    app.state.probe_effects = effects

    def committed_rows() -> None:
        # A session of its own, closed at once: it must not hold a lock past the test.
        with session_factory() as own:
            effects.append(len(audit_events(own, "login_failed")))

    def record(audit: Audit, uow: Uow) -> None:
        audit.record(AuditAction.LOGIN_FAILED, reason="uow_probe")
        uow.after_commit(committed_rows)

    @app.post("/_probe/ok")
    def ok(audit: Audit, uow: Uow) -> dict[str, str]:
        record(audit, uow)
        return {"ok": "yes"}

    @app.post("/_probe/kept")
    def kept(audit: Audit, uow: Uow) -> None:
        record(audit, uow)
        raise KeptRefusal("refused, and recorded")

    @app.post("/_probe/refused")
    def refused(audit: Audit, uow: Uow) -> None:
        record(audit, uow)
        raise Conflict("refused; nothing stays")

    @app.post("/_probe/crash")
    def crash(audit: Audit, uow: Uow) -> None:
        record(audit, uow)
        raise RuntimeError("a bug")

    @app.post("/_probe/commit-fails")
    def commit_fails(uow: Uow) -> dict[str, str]:
        # Two people with one Portti ID: the unique index refuses it at the commit, after the
        # handler has returned its answer.
        for given in ("Uow", "Uow"):
            uow.db.add(
                Person(
                    portti_id="PT-UOW-0001",
                    given_name=given,
                    family_name="Probe",
                    created_at=app.state.runtime.clock.now(),
                )
            )
        return {"ok": "yes"}

    # The same, as plain Starlette endpoints running their work in ``in_unit_of_work``
    # (web/plain.py: the provider's authorization and token endpoints).
    def plain(path: str, handler):  # type: ignore[no-untyped-def]
        async def endpoint(request: Request) -> Response:
            def work(uow: UnitOfWork) -> Response:
                audit = AuditLog(uow.db, app.state.runtime.clock, request_context(request))
                return JSONResponse(handler(audit, uow))

            return await in_unit_of_work(request, work)

        app.add_route("/_plain/" + path, endpoint, methods=["POST"])

    for path, handler in (
        ("ok", ok),
        ("kept", kept),
        ("refused", refused),
        ("crash", crash),
    ):
        plain(path, handler)
    plain("commit-fails", lambda audit, uow: commit_fails(uow))

    return TestClient(app, base_url="http://testserver", raise_server_exceptions=False)


def probe_rows(db) -> int:  # type: ignore[no-untyped-def]
    return len(
        [e for e in audit_events(db, "login_failed") if e.details.get("reason") == "uow_probe"]
    )


@pytest.mark.parametrize("kind", ["_probe", "_plain"])
def test_a_route_that_returns_is_committed_then_its_effects_run(probe, db, app, kind) -> None:
    r = probe.post(f"/{kind}/ok")
    assert r.status_code == 200, r.text
    assert probe_rows(db) == 1
    # The effect ran after the commit: a session of its own already saw the row.
    assert app.state.probe_effects == [1]


@pytest.mark.parametrize("kind", ["_probe", "_plain"])
def test_a_refusal_that_keeps_its_writes_is_committed(probe, db, app, kind) -> None:
    r = probe.post(f"/{kind}/kept")
    assert r.status_code == 403 and r.json()["code"] == "kept_refusal", r.text
    assert probe_rows(db) == 1
    assert app.state.probe_effects == [1]


@pytest.mark.parametrize("kind", ["_probe", "_plain"])
def test_a_refusal_that_does_not_keep_its_writes_rolls_back(probe, db, app, kind) -> None:
    r = probe.post(f"/{kind}/refused")
    assert r.status_code == 409 and r.json()["code"] == "conflict", r.text
    assert probe_rows(db) == 0
    assert app.state.probe_effects == []


@pytest.mark.parametrize("kind", ["_probe", "_plain"])
def test_an_unexpected_error_rolls_back(probe, db, app, kind) -> None:
    r = probe.post(f"/{kind}/crash")
    assert r.status_code == 500
    assert probe_rows(db) == 0
    assert app.state.probe_effects == []


@pytest.mark.parametrize("kind", ["_probe", "_plain"])
def test_a_failed_commit_answers_500_not_the_handlers_200(probe, db, kind) -> None:
    """The commit runs before the response is sent: the client never holds a 200 for work
    that was not saved."""
    r = probe.post(f"/{kind}/commit-fails")
    assert r.status_code == 500, r.text
    fresh(db)
    assert db.scalars(select(Person).where(Person.portti_id == "PT-UOW-0001")).all() == []


def test_refusal_classes_that_keep_their_writes() -> None:
    """The decision is the error class's: the counted and audited refusals keep, a plain
    refusal does not."""
    from portti.accounts.errors import AccountLoginFailed, EmailCodeWrong, TotpWrong
    from portti.devices.errors import DeviceLocked, NonceInvalid, PinWrong
    from portti.invitations.errors import InvitationInvalid, SmsCodeWrong
    from portti.weblogin.errors import NumberMismatch, QrInvalid

    kept = [
        PinWrong,
        DeviceLocked,
        NonceInvalid,
        SmsCodeWrong,
        InvitationInvalid,
        EmailCodeWrong,
        TotpWrong,
        AccountLoginFailed,
        PersonNeedsSupport,
        NumberMismatch,
        QrInvalid,
    ]
    assert all(cls.keeps_writes for cls in kept)
    assert not DomainError.keeps_writes and not Conflict.keeps_writes
