"""Domain errors to RFC 9457 problem details (JSON) or to a readable page (HTML)."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlsplit

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import Receive, Scope, Send

from portti.errors import (
    DomainError,
    NotAuthenticated,
    RateLimited,
    StepUpRequired,
    ValidationFailed,
    field_message,
)
from portti.i18n import _l, localize
from portti.web.render import render

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


def wants_html(request: Request) -> bool:
    if request.url.path.startswith(("/api/", "/app-api/")):
        return False
    return (
        "text/html" in request.headers.get("accept", "")
        or request.headers.get("hx-request") == "true"
    )


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    """``title``, ``detail`` and ``next_step`` in the request's language (``Content-Language``);
    ``code`` and ``type`` stay the same in every language: clients switch on them."""
    if "next_step" in extra:
        extra["next_step"] = localize(extra["next_step"])
    body = {
        "type": f"/problems/{code}",
        "title": localize(title),
        "status": status,
        "detail": localize(detail),
        "code": code,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def detail_of(exc: DomainError) -> Any:
    """The ``detail`` of a domain error: its message, or its field messages each translated."""
    if isinstance(exc, ValidationFailed) and exc.joins_errors:
        return "; ".join(str(localize(v)) for v in exc.errors.values())
    return exc.message


def _local_path(request: Request) -> str:
    path = request.url.path
    if request.method == "GET" and request.url.query:
        path += "?" + request.url.query
    return path


def error_page(
    request: Request,
    status: int,
    title: str,
    message: str,
    errors: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The readable page for an error: ``error.html`` with the error's status as the response's."""
    ctx = {"status": status, "title": title, "message": message, "errors": errors}
    return render(request, "error.html", ctx, status=status, headers=headers)


# Seconds a client is asked to wait before trying again: a busy instance frees up in moments;
# a database that went away (a restart, a fail-over) takes longer to come back.
BUSY_RETRY_AFTER = 1
DATABASE_RETRY_AFTER = 5


def service_unavailable(request: Request, *, busy: bool) -> Response:
    """503 with ``Retry-After``: a problem document, or a readable page for a browser.
    ``busy``: too many requests at once (OPS-16); else the database cannot be reached."""
    if busy:
        code, retry_after = "busy", BUSY_RETRY_AFTER
        title = _l("The service is busy")
        detail = _l("Too many requests are being served right now. Try again in a moment.")
    else:
        code, retry_after = "database_unavailable", DATABASE_RETRY_AFTER
        title = _l("The service is temporarily unavailable")
        detail = _l("The service cannot reach its database right now. Try again in a moment.")
    headers = {"Retry-After": str(retry_after), "Cache-Control": "no-store"}
    if wants_html(request):
        return error_page(request, 503, title, detail, {}, headers=headers)
    resp = problem(503, code, title, detail)
    resp.headers.update(headers)
    return resp


async def refuse_busy(scope: Scope, receive: Receive, send: Send) -> None:
    """The answer to a request the admission gate turns away (``web/admission.py``). An event
    stream (``EventSource``) is told to connect again a moment later: a browser's EventSource
    gives up for good on an error status, but reconnects after a stream that ends."""
    request = Request(scope, receive)
    if "text/event-stream" in request.headers.get("accept", ""):
        retry = f"retry: {BUSY_RETRY_AFTER * 1000}\n\n"
        response: Response = StreamingResponse(
            iter([retry]),
            media_type="text/event-stream",
            headers={"Retry-After": str(BUSY_RETRY_AFTER), "Cache-Control": "no-store"},
        )
    else:
        response = service_unavailable(request, busy=True)
    await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PoolTimeout)
    async def pool_timeout(request: Request, exc: PoolTimeout) -> Response:
        log.warning("database_pool_timeout")
        return service_unavailable(request, busy=True)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def database_unavailable(request: Request, exc: Exception) -> Response:
        # Only the class: a driver's message may quote a statement or the server's address.
        log.warning("database_unavailable", error_type=type(getattr(exc, "orig", exc)).__name__)
        return service_unavailable(request, busy=False)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        if wants_html(request):
            if isinstance(exc, NotAuthenticated):
                return RedirectResponse(f"/login?next={quote(_local_path(request))}", 303)
            if isinstance(exc, StepUpRequired):
                back = request.headers.get("hx-current-url") or _local_path(request)
                if request.method != "GET":
                    back = request.headers.get("referer") or "/"
                return_to = quote(_path_only(back))
                if request.headers.get("hx-request") == "true":
                    return Response(
                        status_code=204, headers={"HX-Redirect": f"/step-up?next={return_to}"}
                    )
                return RedirectResponse(f"/step-up?next={return_to}", 303)
            return error_page(
                request, exc.status, exc.title, detail_of(exc), getattr(exc, "errors", {})
            )
        extra: dict[str, Any] = {}
        headers: dict[str, str] = {}
        if exc.next_step:
            extra["next_step"] = exc.next_step
        extra.update(getattr(exc, "extra", None) or {})
        headers.update(getattr(exc, "headers", None) or {})
        if isinstance(exc, ValidationFailed):
            extra["errors"] = [{"field": k, "message": localize(v)} for k, v in exc.errors.items()]
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        resp = problem(exc.status, exc.code, exc.title, detail_of(exc), **extra)
        resp.headers.update(headers)
        return resp

    @app.exception_handler(RequestValidationError)
    async def request_validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]),
                "message": field_message(e["msg"]),
            }
            for e in exc.errors()
        ]
        if wants_html(request):
            return error_page(
                request,
                422,
                _l("Some information is missing or wrong"),
                _l("Check the form and try again."),
                {e["field"]: e["message"] for e in errors},
            )
        return problem(
            422,
            "validation_failed",
            _l("Some information is missing or wrong"),
            _l("The request does not match the API's schema."),
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        title = {404: _l("Not found"), 405: _l("Method not allowed")}.get(
            exc.status_code, _l("Error")
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # RFC 9110: ``Allow`` lists every method the resource has. Starlette names only
            # those of the first route whose path matched; a path served by several routes
            # (GET and POST of a collection) has them all (SEC-20).
            headers["Allow"] = ", ".join(allowed_methods(request)) or headers.get("Allow", "")
        if wants_html(request):
            # Starlette's detail is its English reason phrase: a page says it in the reader's
            # language.
            message: Any = str(exc.detail)
            if message == HTTPStatus(exc.status_code).phrase:
                message = HTTP_ERROR_MESSAGES.get(exc.status_code, message)
            return error_page(request, exc.status_code, title, message, {}, headers=headers)
        resp = problem(exc.status_code, "http_" + str(exc.status_code), title, str(exc.detail))
        resp.headers.update(headers)
        return resp


HTTP_ERROR_MESSAGES: Mapping[int, Any] = {
    404: _l("There is no such page. Check the address, or start again from the front page."),
    405: _l(
        "This address does not take this kind of request. Go back to the page you came from "
        "and use its form or links."
    ),
}


def allowed_methods(request: Request) -> list[str]:
    """Every method of every route whose path matches the request's (included routers too)."""
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.router.routes):
        route_methods = getattr(context.original_route, "methods", None)
        if not route_methods or context.path is None:
            continue
        regex, _, _ = compile_path(context.path)
        if regex.match(request.url.path):
            methods |= set(route_methods)
    return sorted(methods)


def _path_only(url: str) -> str:
    """Keep only path and query: a return address never leaves this site."""
    parts = urlsplit(url)
    path = parts.path or "/"
    # Browsers read a backslash as a slash: "/\evil.example" is the site "//evil.example".
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path + ("?" + parts.query if parts.query else "")
