"""The application factory: settings in, a FastAPI app out."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from urllib.parse import urlsplit

import anyio.to_thread
import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client import multiprocess

from portti import __version__
from portti.accounts import views as accounts_views
from portti.accounts.passwords import (
    BreachedPasswordChecker,
    PasswordPolicy,
    make_password_hasher,
)
from portti.activation import app_api as activation_app_api
from portti.companies import api as companies_api
from portti.companies import bulk_views as companies_bulk_views
from portti.companies import views as companies_views
from portti.config import OidcProviderSettings, Settings, load_settings, parse_networks
from portti.db.session import engine_for, make_session_factory
from portti.devices import admin_api as devices_admin_api
from portti.devices import app_api as devices_app_api
from portti.devices import views as devices_views
from portti.devices.pins import make_pin_hasher
from portti.i18n import _l
from portti.infra import metrics
from portti.infra.clock import Clock, SystemClock
from portti.infra.events import make_event_bus
from portti.infra.logging import configure_logging
from portti.infra.outbox import OutboxWakeup
from portti.infra.outbox_worker import build_worker
from portti.infra.ratelimit import LimitsRateLimiter
from portti.infra.secret_material import load as load_secret_material
from portti.infra.tls import ssl_context
from portti.invitations import admin_api as invitations_admin_api
from portti.invitations import app_api as invitations_app_api
from portti.invitations import views as invitations_views
from portti.keys import views as keys_views
from portti.keys.services import follow_rotations, key_store_for
from portti.machines import admin as machines_admin
from portti.mobile import views as mobile_views
from portti.oidc_provider import admin as oidc_admin
from portti.oidc_provider import views as oidc_views
from portti.oidc_provider.backchannel import BackChannelLogout
from portti.oidc_provider.client_cache import ClientCache
from portti.oidc_provider.cors import PublicDocumentsCors
from portti.oidc_provider.keys import KeyStoreSigningKeys
from portti.provisioning import api as companies_provisioning_api
from portti.qrlogin import app_api as qrlogin_app_api
from portti.qrlogin import views as qrlogin_views
from portti.qrlogin.watch import StreamWatch
from portti.runtime import Runtime
from portti.scim import api as scim_api
from portti.strongauth import views as strongauth_views
from portti.strongauth.discovery import DiscoveryCache
from portti.strongauth.oidc.jwks import JwksCache
from portti.strongauth.stand_in_provider import stand_in_provider_settings
from portti.strongauth.stand_in_views import build_stand_in_router
from portti.strongauth.views import demo_identities
from portti.templating import WEB_DIR, make_templates
from portti.web import devmailbox_views
from portti.web.access import AccessLogMiddleware
from portti.web.admission import Admission, AdmissionMiddleware
from portti.web.api_docs import api_docs_routes
from portti.web.cookies import SESSION, cookie_name
from portti.web.deps import UnitOfWorkDep
from portti.web.drain import Drain
from portti.web.errors import install_error_handlers, refuse_busy
from portti.web.health import health_routes, pool_status
from portti.web.middleware import BrowserMiddleware, LocaleMiddleware, content_security_policy
from portti.web.openapi import install_openapi
from portti.web.proxy import ProxyHeadersMiddleware
from portti.web.response_headers import ResponseHeadersMiddleware
from portti.weblogin import language_views
from portti.weblogin import views as weblogin_views
from portti.weblogin.geo import CountryLookup
from portti.wiring import connect_hooks


def built_in_providers(settings: Settings) -> list[OidcProviderSettings]:
    """The test identity provider, under the names of the real ones it stands in for."""

    base = settings.base_url.rstrip("/")
    return [
        stand_in_provider_settings(
            base, "fi_bank", _l("Finnish bank ID or mobile certificate"), "FI"
        ),
        stand_in_provider_settings(base, "ee_id", _l("Estonian ID card"), "EE"),
        stand_in_provider_settings(base, "no_id", _l("Norwegian ID card"), "NO"),
        stand_in_provider_settings(base, "se_id", _l("Swedish ID card"), "SE"),
    ]


def build_runtime(
    settings: Settings, clock: Clock, providers: list[OidcProviderSettings]
) -> Runtime:
    """Every long-lived object of one app, wired once (the composition root)."""

    engine = engine_for(settings)
    session_factory = make_session_factory(engine)
    # The keys that outlive a rotation of the root secret, onto the settings' ring before any
    # service derives one.
    load_secret_material(session_factory, settings.secret, clock)
    tls = ssl_context(settings.ca_bundle)
    http = httpx.Client(timeout=10.0, follow_redirects=False, verify=tls)
    keys = key_store_for(settings, session_factory, clock)
    # The provider signs with the key store's keys (published at /.well-known/jwks.json).
    oidc_keys = KeyStoreSigningKeys(keys)
    # Its own client: the strong-auth client may be replaced (tests route it in-process).
    backchannel_http = httpx.Client(timeout=5.0, follow_redirects=False, verify=tls)
    return Runtime(
        settings=settings,
        clock=clock,
        engine=engine,
        session_factory=session_factory,
        templates=make_templates(settings.base_url),
        providers={p.key: p for p in providers},
        limiter=LimitsRateLimiter(settings.rate_limit_storage_url),
        password_hasher=make_password_hasher(settings),
        password_policy=PasswordPolicy(
            breached=BreachedPasswordChecker(settings.breached_password_api_url, http)
            if settings.breached_password_api_url
            else None
        ),
        pin_hasher=make_pin_hasher(settings),
        http=http,
        jwks=JwksCache(http),
        discovery=DiscoveryCache(http),
        keys=keys,
        oidc_keys=oidc_keys,
        oidc_clients=ClientCache(),
        events=make_event_bus(settings.event_bus_url, settings.database_url),
        qr_watch=StreamWatch(engine, clock.now, settings.qr_recheck_seconds),
        geo=CountryLookup.from_file(settings.geoip_database),
        outbox_wakeup=OutboxWakeup(),
        backchannel_http=backchannel_http,
        backchannel_logout=BackChannelLogout(
            session_factory,
            clock,
            oidc_keys,
            issuer=settings.base_url.rstrip("/"),
            secret=settings.secret,
            http=backchannel_http,
            sweep_every=timedelta(seconds=settings.oidc_membership_sweep_seconds),
            session_idle=timedelta(minutes=settings.session_idle_minutes),
        ),
        drain=Drain(),
    )


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.log_level, settings.log_format)
    connect_hooks()
    providers = list(settings.oidc_providers)
    if settings.test_idp_enabled:
        # In demo mode the test provider fills in for the methods that have no real provider
        # configured; a configured provider is never replaced by it.
        configured = {p.key for p in providers}
        for stand_in in built_in_providers(settings):
            if stand_in.key in configured:
                logging.getLogger("portti").warning(
                    "identity provider %s is configured; the test provider does not replace it",
                    stand_in.key,
                )
            else:
                providers.append(stand_in)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:

        # Handlers (``def``) run on this event loop's thread limiter (docs/operations.md).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        # Server push (QR login): connects to PostgreSQL or Redis when those carry events.
        events = rt.events
        await events.start()
        # SIGTERM: event streams end with a reconnection hint while uvicorn drains (OPS-16).
        rt.drain.start()
        stop = asyncio.Event()
        worker_task: asyncio.Task[None] | None = None
        if settings.outbox_in_process:
            # The outbox worker shares this process's event loop; several instances may run it
            # side by side, and a separate `portti worker` too (claims are exclusive).
            worker = build_worker(settings, rt.session_factory, rt.clock, wakeup=rt.outbox_wakeup)
            worker_task = asyncio.create_task(worker.run_forever(stop), name="outbox-worker")
        logout_task: asyncio.Task[None] | None = None
        if settings.outbox_in_process:
            # OpenID back-channel logout tokens, on the same terms as the outbox.
            logout_task = asyncio.create_task(
                rt.backchannel_logout.run_forever(
                    stop, poll_seconds=settings.backchannel_poll_seconds
                ),
                name="backchannel-logout",
            )
        # A key rotation announced by another process (`portti keys rotate`) is read at once.
        keys_task = asyncio.create_task(
            follow_rotations(rt.keys, events, stop), name="key-rotations"
        )
        yield
        stop.set()
        # It holds only a subscription, and would see ``stop`` at its next second's poll:
        # every shutdown (a test's, a rolling restart's) would wait for that second.
        keys_task.cancel()
        await asyncio.gather(keys_task, return_exceptions=True)
        if logout_task is not None:
            stop.set()
            await asyncio.gather(logout_task, return_exceptions=True)
        if worker_task is not None:
            stop.set()
            # Let a delivery in flight finish; one cut short is retried when its lease expires.
            done, _ = await asyncio.wait({worker_task}, timeout=10)
            if not done:
                worker_task.cancel()
            await asyncio.gather(worker_task, return_exceptions=True)
        await rt.qr_watch.close()
        await events.close()
        rt.http.close()
        rt.geo.close()
        rt.backchannel_http.close()
        rt.engine.dispose()
        if metrics.multiprocess_dir():
            # This process's live gauges (the pool) stop counting in the sum.
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    app = FastAPI(
        title="Portti",
        version=__version__,
        description="Onboarding and login for people without a national e-ID.",
        lifespan=lifespan,
        # Served by Portti itself (web/api_docs.py): FastAPI's page loads Swagger UI from a CDN.
        docs_url=None,
        openapi_url="/api/openapi.json",
        redoc_url=None,
        # One transaction per request, ended before the response is sent (web/uow.py).
        dependencies=[UnitOfWorkDep],
    )
    rt = build_runtime(settings, clock or SystemClock(), providers)
    app.state.runtime = rt

    install_error_handlers(app)
    # The login forms redirect to the providers (CSP form-action follows redirects): their
    # authorization endpoints, or the issuer's origin when the endpoint is discovered.
    form_targets = sorted(
        {
            f"{u.scheme}://{u.netloc}"
            for p in providers
            for u in (urlsplit(x) for x in (p.issuer, p.authorization_endpoint) if x)
        }
    )
    # Innermost: a request turned away is answered in its language, with the browser cookie.
    app.add_middleware(
        AdmissionMiddleware,
        admission=Admission(
            settings.concurrent_requests,
            settings.request_queue_length,
            settings.request_queue_seconds,
        ),
        refuse=refuse_busy,
    )
    app.add_middleware(LocaleMiddleware)
    app.add_middleware(PublicDocumentsCors)
    app.add_middleware(
        BrowserMiddleware,
        secure=settings.secure_cookies,
        csp=content_security_policy(form_targets),
    )
    # Outermost last: the proxy's headers are read first, then the request is timed and logged.
    app.add_middleware(
        ResponseHeadersMiddleware,
        https=settings.secure_cookies,
        session_cookies=(cookie_name(SESSION, secure=settings.secure_cookies),),
    )
    app.add_middleware(
        AccessLogMiddleware, pool_status=pool_status(rt.engine), routes=lambda: app.router.routes
    )
    app.add_middleware(ProxyHeadersMiddleware, trusted=parse_networks(settings.trusted_proxies))
    # Probes and the metrics scrape: plain routes ahead of every router (web/health.py).
    app.router.routes[:0] = health_routes(rt)
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    app.router.routes.extend(api_docs_routes())

    app.mount("/app/static", StaticFiles(directory=str(mobile_views.STATIC_DIR)), name="app_static")

    # Routes are matched in order, one by one: the provider's (fixed paths, shared with no
    # other router) first, as clients' servers call its token endpoint most; its authorization
    # and token endpoints are plain routes of the app (web/plain.py).
    for route in oidc_views.plain_routes:
        app.add_route(
            route.path, route.endpoint, methods=sorted(route.methods or ()), include_in_schema=False
        )
    app.include_router(oidc_views.router)
    app.include_router(weblogin_views.router)
    app.include_router(qrlogin_views.router)
    app.include_router(qrlogin_app_api.router)
    app.include_router(strongauth_views.router)
    # Before the user pages: /users/import is not a membership id.
    app.include_router(companies_bulk_views.router)
    app.include_router(companies_views.router)
    app.include_router(companies_api.router)
    app.include_router(companies_provisioning_api.router)
    app.include_router(invitations_views.router)
    app.include_router(invitations_admin_api.router)
    app.include_router(invitations_app_api.router)
    app.include_router(invitations_views.messages)
    app.include_router(activation_app_api.router)
    app.include_router(devices_app_api.router)
    app.include_router(devices_admin_api.router)
    app.include_router(devices_views.router)
    app.include_router(oidc_views.browser)
    app.include_router(oidc_admin.api)
    app.include_router(oidc_admin.views)
    app.include_router(machines_admin.api)
    app.include_router(machines_admin.views)
    app.include_router(keys_views.router)
    app.include_router(mobile_views.router)
    app.include_router(scim_api.router)
    app.include_router(accounts_views.router)

    app.include_router(language_views.router)
    if settings.demo:
        app.include_router(devmailbox_views.router)
    if settings.test_idp_enabled:
        app.include_router(
            build_stand_in_router(
                issuer=f"{settings.base_url.rstrip('/')}/test-idp",
                signing_seed=settings.secret,
                identities=lambda: demo_identities(rt.session_factory),
                templates=rt.templates,
                clock=rt.clock,
            ),
            include_in_schema=False,
        )

    install_openapi(app)

    return app
