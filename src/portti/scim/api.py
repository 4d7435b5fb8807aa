"""The SCIM 2.0 endpoint of one company: ``/scim/v2/companies/{company_id}/…`` (PRV-3).

The company is bound by the path: an identity provider's SCIM app (Entra ID, Okta) is given the
company's own base URL and a machine client's bearer token, and the token must allow that
company. Every answer is ``application/scim+json``; every refusal a SCIM error document
(RFC 7644 §3.12), including those of authentication and of the request's shape.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from portti.companies.principal import SCIM, MachinePrincipal
from portti.errors import DomainError
from portti.i18n import _l, localize
from portti.infra.outbox import Outbox, outbox_box
from portti.machines.deps import machine_principal
from portti.runtime import runtime
from portti.scim.context import ScimContext
from portti.scim.errors import SCIM_JSON, NotPermitted, ResourceNotFound, ScimError
from portti.scim.groups import ScimGroups
from portti.scim.resources import (
    DEFAULT_COUNT,
    LIST_SCHEMA,
    MAX_RESULTS,
    resource_types,
    schemas,
    service_provider_config,
)
from portti.scim.user_resources import Written
from portti.scim.users import ScimUsers
from portti.web.deps import Audit, ClockDep, DbSession, Id, SettingsDep, Uow

PREFIX = "/scim/v2/companies/{company_id}"


def scim_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        media_type=SCIM_JSON,
        headers=headers,
    )


def error_response(exc: ScimError) -> Response:
    return scim_response(exc.document(str(localize(exc.detail))), exc.status, exc.headers)


def unreadable(errors: Sequence[Any]) -> ScimError:
    """What is wrong with a request FastAPI could not read, in words (``invalidSyntax``)."""
    for e in errors:
        loc, kind = tuple(e["loc"]), str(e["type"])
        if kind == "json_invalid":
            # The character the JSON parser stopped at, counted from 1.
            at = loc[1] + 1 if len(loc) > 1 and isinstance(loc[1], int) else 1
            detail = _l(
                "The request body is not valid JSON (the error is at character %(position)s).",
                position=at,
            )
        elif loc == ("body",) and kind == "missing":
            detail = _l("The request has no body: send a JSON object.")
        elif loc[:1] in {("query",), ("header",)} and len(loc) > 1:
            name = str(loc[1])
            if kind.startswith("int"):
                detail = _l("“%(name)s” must be a whole number.", name=name)
            elif kind == "string_too_long":
                detail = _l("“%(name)s” is too long.", name=name)
            else:
                detail = _l("“%(name)s” is not valid.", name=name)
        else:
            continue
        return ScimError(detail, scim_type="invalidSyntax")
    return ScimError(_l("The request cannot be read."), scim_type="invalidSyntax")


class ScimRoute(APIRoute):
    """Every refusal on a SCIM route answered as a SCIM error document."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def scim_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ScimError as exc:
                return error_response(exc)
            except DomainError as exc:
                headers = dict(getattr(exc, "headers", None) or {})
                return error_response(
                    ScimError(exc.message, status=exc.status, headers=headers or None)
                )
            except RequestValidationError as exc:
                if any(e["loc"][:1] == ("path",) for e in exc.errors()):
                    return error_response(ResourceNotFound())
                return error_response(unreadable(exc.errors()))
            except StarletteHTTPException as exc:
                return error_response(
                    ScimError(
                        str(exc.detail), status=exc.status_code, headers=dict(exc.headers or {})
                    )
                )

        return scim_handler


router = APIRouter(prefix=PREFIX, tags=["scim"], route_class=ScimRoute, include_in_schema=False)


# The token's scope is checked here (401/403 before anything else); the company in the path by
# ``machine_grant`` in ``ScimContext``, which audits a refusal with the client as the actor.
Actor = Annotated[MachinePrincipal, Depends(machine_principal(SCIM))]


def base_url_of(settings: Any, company_id: int) -> str:
    return f"{settings.base_url.rstrip('/')}/scim/v2/companies/{company_id}"


async def get_context(
    request: Request,
    company_id: Id,
    actor: Actor,
    db: DbSession,
    clock: ClockDep,
    audit: Audit,
    s: SettingsDep,
    uow: Uow,
) -> ScimContext:
    ctx = ScimContext(
        db,
        clock,
        audit,
        company_id,
        actor,
        base_url_of(s, company_id),
        outbox=Outbox(db, clock, outbox_box(s.secret)),
        jinja=runtime(request).templates.env,
    )
    return ctx


Ctx = Annotated[ScimContext, Depends(get_context)]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
Payload = Annotated[Any, Body()]


def _page(start_index: int | None, count: int | None) -> tuple[int, int]:
    # RFC 7644 §3.4.2.4: below 1 reads as 1; a negative count as 0; above the maximum, the
    # maximum (ServiceProviderConfig's filter.maxResults).
    start = max(1, start_index or 1)
    wanted = DEFAULT_COUNT if count is None else count
    return start, min(max(0, wanted), MAX_RESULTS)


def _one(written: Written, status: int = 200) -> Response:
    headers = {"ETag": written.version} if written.version else {}
    if status == 201:
        headers["Location"] = written.resource["meta"]["location"]
    return scim_response(written.resource, status, headers)


def _excluded(excluded: str | None) -> set[str]:
    return {a.strip().lower() for a in (excluded or "").split(",") if a.strip()}


StartIndex = Annotated[int | None, Query(alias="startIndex", ge=-(2**31), le=2**31)]
Count = Annotated[int | None, Query(alias="count", ge=-(2**31), le=2**31)]
Excluded = Annotated[str | None, Query(alias="excludedAttributes", max_length=500)]
Filter = Annotated[str | None, Query(alias="filter", max_length=1000)]


# -- discovery (RFC 7644 §4) ------------------------------------------------------------


@router.get("/ServiceProviderConfig")
def get_service_provider_config(ctx: Ctx) -> Response:
    return scim_response(service_provider_config(ctx.base_url))


@router.get("/ResourceTypes")
def list_resource_types(ctx: Ctx) -> Response:
    items = resource_types(ctx.base_url)
    return scim_response(
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": len(items),
            "startIndex": 1,
            "itemsPerPage": len(items),
            "Resources": items,
        }
    )


@router.get("/ResourceTypes/{name}")
def get_resource_type(name: str, ctx: Ctx) -> Response:
    found = [t for t in resource_types(ctx.base_url) if t["id"] == name]
    if not found:
        raise ResourceNotFound()
    return scim_response(found[0])


@router.get("/Schemas")
def list_schemas(ctx: Ctx) -> Response:
    items = schemas(ctx.base_url)
    return scim_response(
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": len(items),
            "startIndex": 1,
            "itemsPerPage": len(items),
            "Resources": items,
        }
    )


@router.get("/Schemas/{schema_id}")
def get_schema(schema_id: str, ctx: Ctx) -> Response:
    found = [s for s in schemas(ctx.base_url) if s["id"] == schema_id]
    if not found:
        raise ResourceNotFound()
    return scim_response(found[0])


# -- Users ------------------------------------------------------------------------------


@router.get("/Users")
def list_users(
    ctx: Ctx, filter: Filter = None, start_index: StartIndex = None, count: Count = None
) -> Response:
    start, n = _page(start_index, count)
    return scim_response(ScimUsers(ctx).search(filter, start, n))


@router.post("/Users")
def create_user(ctx: Ctx, payload: Payload) -> Response:
    return _one(ScimUsers(ctx).create(payload), 201)


@router.get("/Users/{user_id}")
def get_user(user_id: str, ctx: Ctx) -> Response:
    return _one(ScimUsers(ctx).get(user_id))


@router.put("/Users/{user_id}")
def replace_user(user_id: str, ctx: Ctx, payload: Payload, if_match: IfMatch = None) -> Response:
    return _one(ScimUsers(ctx).replace(user_id, payload, if_match))


@router.patch("/Users/{user_id}")
def patch_user(user_id: str, ctx: Ctx, payload: Payload, if_match: IfMatch = None) -> Response:
    return _one(ScimUsers(ctx).patch(user_id, payload, if_match))


@router.delete("/Users/{user_id}")
def delete_user(user_id: str, ctx: Ctx, if_match: IfMatch = None) -> Response:
    ScimUsers(ctx).delete(user_id, if_match)
    return Response(status_code=204)


# -- Groups -----------------------------------------------------------------------------

ROLES_ARE_FIXED = _l(
    "Groups are the roles of Portti's catalogue: they cannot be created or deleted through "
    "SCIM. Add users to the existing groups to give them the role."
)


@router.get("/Groups")
def list_groups(
    ctx: Ctx,
    filter: Filter = None,
    start_index: StartIndex = None,
    count: Count = None,
    excluded: Excluded = None,
) -> Response:
    start, n = _page(start_index, count)
    with_members = "members" not in _excluded(excluded)
    return scim_response(ScimGroups(ctx).search(filter, start, n, with_members=with_members))


@router.post("/Groups")
def create_group(ctx: Ctx, payload: Payload) -> Response:
    raise NotPermitted(ROLES_ARE_FIXED)


@router.get("/Groups/{group_id}")
def get_group(group_id: str, ctx: Ctx, excluded: Excluded = None) -> Response:
    with_members = "members" not in _excluded(excluded)
    return _one(ScimGroups(ctx).get(group_id, with_members=with_members))


@router.put("/Groups/{group_id}")
def replace_group(group_id: str, ctx: Ctx, payload: Payload, if_match: IfMatch = None) -> Response:
    return _one(ScimGroups(ctx).replace(group_id, payload, if_match))


@router.patch("/Groups/{group_id}")
def patch_group(group_id: str, ctx: Ctx, payload: Payload, if_match: IfMatch = None) -> Response:
    return _one(ScimGroups(ctx).patch(group_id, payload, if_match))


@router.delete("/Groups/{group_id}")
def delete_group(group_id: str, ctx: Ctx) -> Response:
    raise NotPermitted(ROLES_ARE_FIXED)
