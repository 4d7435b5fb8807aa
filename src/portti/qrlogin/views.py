"""The browser's side of QR login (WEB-1, WEB-2) and of step-up by the app (ADM-2).

``POST /login/qr`` (htmx, from the login page) starts a transaction and answers the QR panel; it
sets a cookie that only this browser holds, scoped to the transaction's path. The panel polls
``/frame`` every second for the next QR code, and listens on ``/events`` (Server-Sent Events),
with ``/status`` (JSON) as the polling fallback. Once approved, ``static/qr.js`` submits the
panel's form to ``/complete``, which checks the cookie and starts a fresh web session.

The code to type is not in the panel: "Type a code instead" posts to ``/code``, which issues one
valid for 30 seconds and answers it with a countdown and "Show a new code" (SEC-13).

The event stream holds no database session while it waits: it reads the transaction on connect
in a short session of its own, then waits for published changes; every few seconds
``StreamWatch`` re-reads all waiting transactions of the process in one statement, so a message
lost between processes only delays the browser by a re-check, and 200 waiting browsers neither
hold 200 connections nor make 200 reads.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from portti.devices.models import Device, DeviceStatus
from portti.qrlogin import (
    BrowserState,
    LoginTransactionService,
    channel_of,
    format_short_code,
    origin_of,
    read_browser_state,
    render_qr_svg,
)
from portti.qrlogin.deps import LoginTransactions
from portti.qrlogin.watch import StreamWatch
from portti.runtime import runtime
from portti.web.cookies import set_session_cookie
from portti.web.csrf import verify_csrf
from portti.web.deps import DbSession, RequestCtx
from portti.web.drain import DRAINING
from portti.web.filters import qr_label
from portti.web.redirects import safe_path
from portti.web.render import NO_STORE, render
from portti.weblogin.models import LoginPurpose
from portti.weblogin.session_deps import CurrentSession, OptionalWebSession, Sessions

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)

QR_COOKIE = "portti_qr"
# htmx stops polling on this status (https://htmx.org/attributes/hx-trigger/, "every").
STOP_POLLING = 286
# How often a stream sends a comment line, and how long one response streams at most, are
# settings (qr_keepalive_seconds, qr_stream_seconds); the database is re-read for every stream
# at once by ``StreamWatch`` (qr_recheck_seconds), which also brings expiry.
RETRY_MS = 1000


def cookie_path(public_id: str) -> str:
    return f"/login/qr/{public_id}"


def browser_origin(request: Request) -> str | None:
    """The site the browser is on: its ``Origin`` header (sent with every ``fetch``/htmx
    POST; the CSRF check has already refused one that is neither this service's address nor
    the ``Host`` asked for). A request without one (not a browser on a page) has no origin."""
    return origin_of(request.headers.get("origin"))


def _panel(request: Request, qr: LoginTransactionService, public_id: str, cookie: str) -> Response:
    tx = qr.get(public_id)
    assert tx is not None
    state = qr.browser_state(tx)
    response = render(
        request,
        "weblogin/_qr_panel.html",
        {
            "tx": tx,
            "state": state,
            "svg": render_qr_svg(qr.current_frame(tx)),
            "seconds_left": state.expires_in,
        },
        headers=NO_STORE,
    )
    settings = runtime(request).settings
    response.set_cookie(
        QR_COOKIE,
        cookie,
        max_age=int((tx.expires_at - tx.created_at).total_seconds()) + 120,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        path=cookie_path(tx.public_id),
    )
    return response


@router.post("/login/qr", response_class=HTMLResponse)
def start_qr_login(
    request: Request,
    qr: LoginTransactions,
    ctx: RequestCtx,
    next: Annotated[str, Form()] = "/",
) -> Response:
    """A new QR code on the login page (and "Get a new code")."""
    cookie = secrets.token_urlsafe(32)
    tx = qr.start(
        binding_cookie=cookie,
        ctx=ctx,
        browser_id=request.state.browser_id,
        return_to=safe_path(next),
        origin=browser_origin(request),
    )
    return _panel(request, qr, tx.public_id, cookie)


@router.post("/login/qr/step-up", response_class=HTMLResponse)
def start_app_step_up(
    request: Request,
    ws: CurrentSession,
    qr: LoginTransactions,
    db: DbSession,
    ctx: RequestCtx,
    next: Annotated[str, Form()] = "/",
) -> Response:
    """ "Authenticate with the Portti app": a request the person's app lists as pending, and a
    QR code for the same request."""
    has_app = db.scalar(
        select(Device.id)
        .where(Device.person_id == ws.person_id, Device.status == DeviceStatus.ACTIVE.value)
        .limit(1)
    )
    if has_app is None:
        return render(request, "weblogin/_no_app.html", {}, headers=NO_STORE)
    cookie = secrets.token_urlsafe(32)
    tx = qr.start(
        binding_cookie=cookie,
        ctx=ctx,
        browser_id=request.state.browser_id,
        return_to=safe_path(next),
        step_up_of=ws,
        origin=browser_origin(request),
    )
    # A request it replaced ends in its browser: published after the commit (qrlogin/deps.py).
    return _panel(request, qr, tx.public_id, cookie)


@router.get("/login/qr/{public_id}/frame", response_class=HTMLResponse)
def qr_frame(request: Request, public_id: str, qr: LoginTransactions) -> Response:
    """The QR code for this second, polled every second while nobody has read it."""
    tx = qr.for_browser(public_id, request.cookies.get(QR_COOKIE))
    state = qr.browser_state(tx)
    if state.status != "pending":
        return render(request, "weblogin/_qr_done.html", {"state": state}, STOP_POLLING, NO_STORE)
    return HTMLResponse(qr_label(render_qr_svg(qr.current_frame(tx))), headers=NO_STORE)


@router.post("/login/qr/{public_id}/code", response_class=HTMLResponse)
def issue_typed_code(request: Request, public_id: str, qr: LoginTransactions) -> Response:
    """ "Type a code instead" and "Show a new code": a code valid for 30 seconds, for the
    browser that shows the QR code only."""
    tx = qr.for_browser(public_id, request.cookies.get(QR_COOKIE))
    state = qr.browser_state(tx)
    if state.status != "pending":
        return render(request, "weblogin/_qr_done.html", {"state": state}, headers=NO_STORE)
    code = qr.issue_short_code(tx)
    return render(
        request,
        "weblogin/_qr_typed_code.html",
        {
            "tx": tx,
            "code": format_short_code(code),
            "seconds_left": qr.short_code_seconds_left(tx),
        },
        headers=NO_STORE,
    )


@router.get("/login/qr/{public_id}/status")
def qr_status(request: Request, public_id: str, qr: LoginTransactions) -> Response:
    """The polling fallback of the event stream."""
    tx = qr.for_browser(public_id, request.cookies.get(QR_COOKIE))
    return Response(qr.browser_state(tx).to_json(), media_type="application/json", headers=NO_STORE)


def _load_state(request: Request, public_id: str, cookie: str | None) -> BrowserState | None:
    """On a connection of its own, held only for this read."""
    state = runtime(request)
    with state.engine.connect() as conn:
        return read_browser_state(conn, public_id, cookie, state.clock.now())


def _sse(state: BrowserState) -> str:
    return f"event: state\ndata: {state.to_json()}\n\n"


@router.get("/login/qr/{public_id}/events")
async def qr_events(request: Request, public_id: str) -> Response:
    """Server-Sent Events: ``state`` events as the transaction moves on. Ends after a final
    state, or after ``settings.qr_stream_seconds`` (the browser reconnects)."""
    cookie = request.cookies.get(QR_COOKIE)
    first = await run_in_threadpool(_load_state, request, public_id, cookie)
    if first is None:
        return JSONResponse({"detail": "No such login."}, status_code=404)
    bus = runtime(request).events
    watch: StreamWatch = runtime(request).qr_watch
    settings = runtime(request).settings
    drain = runtime(request).drain

    async def stream() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.qr_stream_seconds
        yield f"retry: {RETRY_MS}\n\n"
        async with (
            bus.subscribe(channel_of(public_id)) as sub,
            watch.watch(public_id, sub),
            drain.hold(sub),
        ):
            # Read again now that we listen: nothing that happened in between is missed.
            state = await run_in_threadpool(_load_state, request, public_id, cookie) or first
            yield _sse(state)
            while not state.final:
                left = deadline - loop.time()
                if left <= 0:
                    return
                message = await sub.get(min(settings.qr_keepalive_seconds, left))
                if message == DRAINING:
                    # This instance is stopping: the browser reconnects to another one.
                    yield drain.reconnect_hint()
                    return
                fresh = BrowserState.from_json(message) if message is not None else None
                if fresh is not None and fresh.rank > state.rank:
                    state = fresh
                    yield _sse(state)
                elif message is None:
                    yield ": waiting\n\n"  # also finds a browser that has gone away

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={**NO_STORE, "X-Accel-Buffering": "no"},
    )


@router.post("/login/qr/{public_id}/complete")
def complete_qr_login(
    request: Request,
    public_id: str,
    qr: LoginTransactions,
    sessions: Sessions,
    ctx: RequestCtx,
    current: OptionalWebSession,
) -> Response:
    """The approved browser, and only it, gets its session (or its step-up). A refusal is
    audited (and kept: ``keeps_writes``)."""
    done = qr.complete(
        public_id,
        request.cookies.get(QR_COOKIE),
        current=current,
        sessions=sessions,
        ctx=ctx,
    )
    tx = done.transaction
    if tx.purpose == LoginPurpose.STEP_UP:
        target = tx.return_to or "/"
    else:
        target = tx.return_to if tx.return_to not in ("", "/") else "/companies"
    response: Response = RedirectResponse(target, 303)
    # A step-up rotates the session too (SEC-11): the browser gets the new token either way.
    set_session_cookie(request, response, done.session_token)
    response.delete_cookie(QR_COOKIE, path=cookie_path(public_id))
    return response
