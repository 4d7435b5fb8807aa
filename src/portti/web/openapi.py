"""The OpenAPI document as the app team reads it (SEC-10): every operation declares the problem
answers it can give, with the ``application/problem+json`` body that ``web/errors.py`` sends.

Routers declare what is particular to them (``responses=…``, with descriptions naming the
``code`` values); the answers every JSON route can give are added here, so that no operation
answers with a status code its document does not list."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

# Every JSON route can answer these: malformed body or parameters, not logged in, refused
# (CSRF, rights, step-up), no such thing, a state that does not allow it, schema validation.
COMMON: dict[str, str] = {
    "400": "A problem with a stable `code` and a human `next_step`",
    "401": "Not authenticated: log in (browser) or unlock the app",
    "403": "Refused: `csrf_failed`, `forbidden`, `step_up_required`, …",
    "404": "No such resource, or not one of yours",
    "409": "The resource is not in a state that allows this (e.g. `invitee_not_valid`, "
    "`activation_step`): the `code` says which",
    "422": "`validation_failed`: the request does not match the schema; `errors` lists the fields",
    "429": "`rate_limited`: try again after the `Retry-After` seconds",
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable machine-readable reason"},
        "next_step": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
PROBLEM_CONTENT = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
METHODS = {"get", "put", "post", "delete", "patch"}


def declare_problems(document: dict[str, Any]) -> dict[str, Any]:
    document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    # FastAPI's own 422 schema describes its default body, not the problem Portti sends.
    for unused in ("HTTPValidationError", "ValidationError"):
        document["components"]["schemas"].pop(unused, None)
    for operations in document.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in COMMON.items():
                responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = PROBLEM_CONTENT
    return document


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_problems(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
