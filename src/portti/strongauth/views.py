"""HTML routes: log in with an identity provider, its callback, and "Authenticate to add users"."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.devices.models import Activation, ActivationKind
from portti.infra.clock import Clock
from portti.infra.crypto import CodeHasher
from portti.people.models import Person, PersonIdentifier
from portti.runtime import runtime
from portti.strongauth.services import LoginFailed, StrongAuthService
from portti.strongauth.test_idp import TestIdentity
from portti.web.cookies import set_session_cookie
from portti.web.csrf import verify_csrf
from portti.web.deps import (
    Audit,
    ClockDep,
    CurrentSession,
    DbSession,
    OptionalWebSession,
    RequestCtx,
    Sessions,
    SettingsDep,
)
from portti.web.errors import _path_only

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)


def get_strong_auth(request: Request, db: DbSession, clock: ClockDep) -> StrongAuthService:
    base = runtime(request).settings.base_url.rstrip("/")
    return StrongAuthService(
        db,
        clock,
        runtime(request).providers,
        http=runtime(request).http,
        jwks=runtime(request).jwks,
        redirect_uri=f"{base}/login/callback",
        keys=runtime(request).keys,
        discovery=runtime(request).discovery,
    )


StrongAuth = Annotated[StrongAuthService, Depends(get_strong_auth)]


def demo_identities(factory: sessionmaker[Session]) -> list[TestIdentity]:
    """The test provider offers the demo people who can log in with a national identifier."""
    with factory() as db:
        rows = db.execute(
            select(Person, PersonIdentifier)
            .join(PersonIdentifier)
            .where(
                PersonIdentifier.kind.in_(["fi_hetu", "personal_number"]),
                PersonIdentifier.country.in_(["FI", "EE", "NO", "SE"]),
            )
            .order_by(Person.id)
            .limit(40)
        ).all()
    return [
        TestIdentity(
            label=f"{p.given_name} {p.family_name}",
            given_name=p.given_name,
            family_name=p.family_name,
            country=i.country,
            national_id=i.value,
        )
        for p, i in rows
    ]


@router.post("/login/start")
def start_login(
    request: Request,
    strong: StrongAuth,
    db: DbSession,
    provider: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    url = strong.start(
        provider,
        purpose="login",
        browser_id=request.state.browser_id,
        session_id=None,
        return_to=_path_only(next),
    )
    db.commit()
    return RedirectResponse(url, 303)


@router.get("/step-up", response_class=HTMLResponse)
def step_up_page(
    request: Request, ws: CurrentSession, settings: SettingsDep, next: str = "/"
) -> Response:
    return runtime(request).templates.TemplateResponse(
        request,
        "step_up.html",
        {
            "session": ws,
            "next": _path_only(next),
            "providers": list(runtime(request).providers.values()),
            "window": settings.step_up_minutes,
        },
    )


@router.post("/step-up/start")
def start_step_up(
    request: Request,
    ws: CurrentSession,
    strong: StrongAuth,
    db: DbSession,
    provider: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    url = strong.start(
        provider,
        purpose="step_up",
        browser_id=request.state.browser_id,
        session_id=ws.id,
        return_to=_path_only(next),
    )
    db.commit()
    return RedirectResponse(url, 303)


@router.get("/login/callback")
def login_callback(
    request: Request,
    strong: StrongAuth,
    sessions: Sessions,
    db: DbSession,
    audit: Audit,
    ctx: RequestCtx,
    current: OptionalWebSession,
    clock: ClockDep,
    state: str = "",
    code: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
    iss: str | None = None,
) -> Response:
    templates = runtime(request).templates
    try:
        finished = strong.finish(
            state=state,
            code=code,
            error=error,
            error_description=error_description,
            iss=iss,
            browser_id=request.state.browser_id,
        )
    except LoginFailed as exc:
        extra: dict[str, Any] = dict(exc.details or {})
        if exc.provider:
            extra["method"] = f"oidc:{exc.provider}"
        if exc.purpose == "step_up":
            audit.record(
                AuditAction.STEP_UP_FAILED,
                actor_person_id=current.person_id if current else None,
                reason=exc.code,
                **extra,
            )
        else:
            if exc.purpose == "app_activation":
                extra["purpose"] = "app_activation"
            audit.record(AuditAction.LOGIN_FAILED, reason=exc.code, **extra)
        db.commit()
        return templates.TemplateResponse(
            request, "login_failed.html", {"message": exc.message}, status_code=400
        )
    flow, person = finished.flow, finished.person
    method = f"oidc:{flow.provider}"
    # The level of assurance and the methods the provider reported, for the audit rows.
    assurance: dict[str, Any] = {"acr": finished.identity.acr}
    if finished.identity.amr:
        assurance["amr"] = list(finished.identity.amr)

    if flow.purpose == "app_activation":
        return _hand_off_to_app(
            request, db, audit, clock, flow.return_to, person, method, assurance
        )

    if flow.purpose == "step_up":
        if (
            current is None
            or current.id != flow.session_id
            or person is None
            or person.id != current.person_id
        ):
            audit.record(
                AuditAction.STEP_UP_FAILED,
                actor_person_id=current.person_id if current else None,
                method=method,
                reason="identity_mismatch",
            )
            db.commit()
            return templates.TemplateResponse(
                request,
                "login_failed.html",
                {
                    "message": "The identity you authenticated with is not the one logged in here. "
                    "Authenticate as yourself."
                },
                status_code=403,
            )
        token, _ = sessions.record_step_up(current, method)
        audit.record(
            AuditAction.STEP_UP_SUCCEEDED,
            actor_person_id=person.id,
            subject_person_id=person.id,
            method=method,
            **assurance,
        )
        db.commit()
        stepped_up = RedirectResponse(flow.return_to or "/", 303)
        set_session_cookie(request, stepped_up, token)
        return stepped_up

    if person is None:
        audit.record(
            AuditAction.LOGIN_FAILED,
            method=method,
            reason="unknown_person",
            country=finished.identity.country,
        )
        db.commit()
        return templates.TemplateResponse(
            request,
            "login_failed.html",
            {
                "message": "You are not a user of any company in Portti. Ask your company's user "
                "administrator to add you as a user."
            },
            status_code=403,
        )
    token, _ = sessions.start(
        person.id, method=method, strong=False, ctx=ctx, replaces=current.id if current else None
    )
    audit.record(
        AuditAction.LOGIN_SUCCEEDED,
        actor_person_id=person.id,
        subject_person_id=person.id,
        method=method,
        **assurance,
    )
    db.commit()
    target = flow.return_to if flow.return_to not in ("", "/") else "/companies"
    response = RedirectResponse(target, 303)
    set_session_cookie(request, response, token)
    return response


def _hand_off_to_app(
    request: Request,
    db: Session,
    audit: AuditLog,
    clock: Clock,
    code_challenge: str,
    person: Person | None,
    method: str,
    assurance: dict[str, Any] | None = None,
) -> Response:
    """APP-9: a Finnish user activates the app with bank ID. The browser is sent back to the
    app with a one-time handoff code; the app exchanges it with its verifier."""
    templates = runtime(request).templates
    if person is None:
        audit.record(
            AuditAction.LOGIN_FAILED,
            method=method,
            reason="unknown_person",
            purpose="app_activation",
        )
        db.commit()
        return templates.TemplateResponse(
            request,
            "login_failed.html",
            {
                "message": "You are not a user of any company in Portti. Ask your company's user "
                "administrator to add you as a user."
            },
            status_code=403,
        )
    from portti.devices.app_api import WEB_APP_HANDOFF

    web_app = code_challenge.startswith(WEB_APP_HANDOFF)
    code_challenge = code_challenge.removeprefix(WEB_APP_HANDOFF)
    settings = runtime(request).settings
    handoff = secrets.token_urlsafe(32)
    now = clock.now()
    db.add(
        Activation(
            token_hash=CodeHasher(settings.secret, "unused-activation").hash(secrets.token_hex(16)),
            kind=ActivationKind.BANK_ID,
            person_id=person.id,
            handoff_hash=CodeHasher(settings.secret, "bank-id-handoff").hash(handoff),
            handoff_challenge=code_challenge,
            created_at=now,
            expires_at=now + timedelta(minutes=10),
        )
    )
    audit.record(
        AuditAction.LOGIN_SUCCEEDED,
        actor_person_id=person.id,
        subject_person_id=person.id,
        method=method,
        purpose="app_activation",
        **(assurance or {}),
    )
    db.commit()
    if web_app:
        return RedirectResponse(f"/app/#handoff={handoff}", 303)
    return RedirectResponse(f"portti-app://activation?handoff={handoff}", 303)
