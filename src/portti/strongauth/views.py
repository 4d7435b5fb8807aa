"""HTML routes: log in with an identity provider, its callback, and "Authenticate to add users"."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from portti.activation.services import ActivationService
from portti.audit.services import AuditLog
from portti.companies.models import Company
from portti.companies.policy import AdminPolicy
from portti.config import OidcProviderSettings
from portti.devices.models import Device, DeviceStatus
from portti.devices.reach import device_carries
from portti.people.identity_numbers import IdentifierKind
from portti.people.models import Person, PersonIdentifier
from portti.runtime import runtime
from portti.strongauth.callback import LoginCallback
from portti.strongauth.services import StrongAuthService
from portti.strongauth.stand_in_provider import StandInIdentity, is_stand_in_provider
from portti.web.cookies import set_session_cookie
from portti.web.csrf import verify_csrf
from portti.web.deps import Audit, ClockDep, DbSession, RequestCtx, SettingsDep
from portti.web.redirects import safe_path
from portti.web.render import render
from portti.weblogin.session_deps import CurrentSession, OptionalWebSession, Sessions

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
        secret=runtime(request).settings.secret,
    )


StrongAuth = Annotated[StrongAuthService, Depends(get_strong_auth)]


def demo_identities(factory: sessionmaker[Session]) -> list[StandInIdentity]:
    """The stand-in provider offers the demo people who can log in with a national identifier."""
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
        StandInIdentity(
            label=f"{p.given_name} {p.family_name}",
            given_name=p.given_name,
            family_name=p.family_name,
            country=i.country,
            national_id=i.value,
        )
        for p, i in rows
    ]


def _to_provider(
    request: Request,
    strong: StrongAuthService,
    provider: str,
    purpose: str,
    session_id: str | None,
    next: str,
    audit: AuditLog,
    actor_person_id: int | None = None,
) -> Response:
    """Off to the identity provider; back (to a local path only) when it answers."""
    url = strong.start(
        provider,
        purpose=purpose,
        browser_id=request.state.browser_id,
        session_id=session_id,
        return_to=safe_path(next),
        audit=audit,
        actor_person_id=actor_person_id,
    )
    return RedirectResponse(url, 303)


@router.post("/login/start")
def start_login(
    request: Request,
    strong: StrongAuth,
    audit: Audit,
    provider: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    return _to_provider(request, strong, provider, "login", None, next, audit)


@router.get("/step-up", response_class=HTMLResponse)
def step_up_page(
    request: Request,
    ws: CurrentSession,
    settings: SettingsDep,
    db: DbSession,
    clock: ClockDep,
    next: str = "/",
) -> Response:
    # The header names the company the admin is working in, as on the page they came from.
    company = db.get(Company, ws.company_id) if ws.company_id else None
    person = db.get(Person, ws.person_id)
    assert person is not None
    return render(
        request,
        "step_up.html",
        {
            "session": ws,
            "company": company,
            "grant": AdminPolicy(db, clock).grant(ws.person_id, company) if company else None,
            "next": safe_path(next),
            # Only what this person can use (UX-10): the providers of the countries whose
            # identity numbers they have, and the app when one lets them into this company.
            "providers": usable_providers(person, runtime(request).providers.values()),
            "has_app": has_app_for(db, person.id, ws.company_id),
            "has_fi_hetu": any(i.kind == IdentifierKind.FI_HETU for i in person.identifiers),
            "window": settings.step_up_minutes,
        },
    )


def usable_providers(
    person: Person, providers: Iterable[OidcProviderSettings]
) -> list[OidcProviderSettings]:
    """The identity providers that can identify ``person``: one whose identity numbers are of
    a country the person has an identity number of (a Finnish personal identity code for the
    Finnish ones). A broker that tells the country in a claim, and is not the built-in stand-in
    provider standing in for one country, is offered to everyone."""
    countries = {
        i.country
        for i in person.identifiers
        if i.kind in (IdentifierKind.FI_HETU, IdentifierKind.PERSONAL_NUMBER)
    }
    return [
        p
        for p in providers
        if p.identifier_country in countries
        or (p.identifier_country_claim and not is_stand_in_provider(p))
    ]


def has_app_for(db: Session, person_id: int, company_id: int | None) -> bool:
    """Whether an active app of the person's would be let to approve a step-up here (SEC-14)."""
    devices = db.scalars(
        select(Device).where(
            Device.person_id == person_id, Device.status == DeviceStatus.ACTIVE.value
        )
    ).all()
    return any(company_id is None or device_carries(db, d, company_id) for d in devices)


@router.post("/step-up/start")
def start_step_up(
    request: Request,
    ws: CurrentSession,
    strong: StrongAuth,
    audit: Audit,
    provider: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    return _to_provider(request, strong, provider, "step_up", ws.id, next, audit, ws.person_id)


@router.get("/login/callback")
def login_callback(
    request: Request,
    strong: StrongAuth,
    sessions: Sessions,
    audit: Audit,
    ctx: RequestCtx,
    current: OptionalWebSession,
    db: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    state: str = "",
    code: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
    iss: str | None = None,
) -> Response:
    callback = LoginCallback(
        strong,
        sessions=sessions,
        audit=audit,
        activations=ActivationService(db, clock, settings.secret),
    )
    outcome = callback.handle(
        state=state,
        code=code,
        error=error,
        error_description=error_description,
        iss=iss,
        browser_id=request.state.browser_id,
        current=current,
        ctx=ctx,
    )
    if outcome.failure is not None:
        return render(request, "login_failed.html", {"message": outcome.failure}, outcome.status)
    assert outcome.redirect_to is not None
    response = RedirectResponse(outcome.redirect_to, outcome.status)
    if outcome.session_token is not None:
        set_session_cookie(request, response, outcome.session_token)
    return response
