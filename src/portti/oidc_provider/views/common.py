"""What the provider's routes share: the routers, the provider built per request, pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.routing import Route

from portti.audit.services import AuditLog
from portti.oidc_provider.errors import UntrustedRedirect
from portti.oidc_provider.provider import ProviderContext
from portti.runtime import runtime
from portti.web.csrf import verify_csrf
from portti.web.deps import (
    Uow,
    request_context,
)
from portti.web.render import render as render_page

router = APIRouter(include_in_schema=False)
browser = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

# The two endpoints every business application's login calls, as plain Starlette routes
# (``web/plain.py``): ``create_app`` adds them to the app itself, before every router.
plain_routes: list[Route] = []

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


def issuer_of(request: Request) -> str:
    return str(runtime(request).settings.base_url).rstrip("/")


async def get_provider(request: Request, uow: Uow) -> ProviderContext:
    """Built from the runtime and the request's unit of work alone: the provider's routes are
    the busiest, and every sub-dependency is a step of FastAPI's own on each request."""
    return provider_for(request, uow.db)


def provider_for(request: Request, db: Session) -> ProviderContext:
    """The provider on ``db``: for the dependency above and the plain endpoints
    (``web/plain.py``) alike."""
    rt = runtime(request)
    settings = rt.settings
    return ProviderContext(
        db,
        rt.clock,
        AuditLog(db, rt.clock, request_context(request)),
        issuer=str(settings.base_url).rstrip("/"),
        keys=rt.oidc_keys,
        clients=rt.oidc_clients,
        secret=settings.secret,
        code_lifetime=timedelta(seconds=settings.oidc_code_lifetime_seconds),
        session_idle=timedelta(minutes=settings.session_idle_minutes),
    )


Provider = Annotated[ProviderContext, Depends(get_provider)]


def render(request: Request, name: str, ctx: dict[str, Any], status: int = 200) -> Response:
    """A provider page: never stored (``Cache-Control`` and ``Pragma``)."""
    return render_page(request, name, ctx, status=status, headers=NO_STORE)


def untrusted_page(request: Request, exc: UntrustedRedirect) -> Response:
    """A request that names no registered client or redirect URI: a page, never a redirect."""
    return render(request, "oidc/error.html", {"message": exc.description}, status=400)
