"""The token endpoint's form, read in one step.

Clients send ``application/x-www-form-urlencoded`` (RFC 6749 §4.1.3); parsing that body with
``urllib.parse`` costs a fraction of declaring each field as a FastAPI ``Form()`` parameter,
which the token endpoint — the busiest route of the provider — paid on every exchange."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request

MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class TokenForm:
    grant_type: str = ""
    code: str = ""
    redirect_uri: str = ""
    code_verifier: str | None = None
    refresh_token: str = ""
    scope: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    client_assertion_type: str | None = None
    client_assertion: str | None = None
    # The revocation endpoint's (RFC 7009); token_type_hint is read and ignored (§2.1 allows).
    token: str = ""
    token_type_hint: str | None = None


_FIELDS = frozenset(TokenForm.__dataclass_fields__)


async def token_form(request: Request) -> TokenForm:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        body = await request.body()
        pairs = parse_qsl(body[:MAX_BODY].decode("utf-8", "replace"), keep_blank_values=True)
    else:
        form = await request.form()
        pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    return TokenForm(**{k: v for k, v in pairs if k in _FIELDS})


TokenFormDep = Annotated[TokenForm, Depends(token_form)]
