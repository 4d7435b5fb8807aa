"""The one way a route answers with a page: the app's templates (the kit's ``templates``),
the request in the context (CSRF token, nonce), a status and headers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from portti.web.kit import kit

NO_STORE = {"Cache-Control": "no-store"}


def render(
    request: Request,
    name: str,
    ctx: Mapping[str, Any],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    response: Response = kit(request).templates.TemplateResponse(
        request, name, dict(ctx), status_code=status, headers=headers
    )
    return response
