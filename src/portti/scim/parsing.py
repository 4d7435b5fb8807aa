"""Request bodies read with ``scim2-models``: a payload that does not follow the schema is a
SCIM error (``invalidSyntax`` / ``invalidValue``), never a 500 or a half-applied change."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import ValidationError
from scim2_models import Context, Group, MutabilityException, PatchOp, SCIMException, ScimPolicy

from portti.i18n import _l
from portti.scim.errors import InvalidSyntax, InvalidValue, Mutability, ScimError
from portti.scim.resources import ScimUserModel

T = TypeVar("T")

# What Entra ID sends and the RFC leaves open: a ``remove`` naming its values in ``value``
# (members to take out of a group), and ``emails[type eq "work"].value`` replacing an address
# the user does not have yet. Nothing else is read leniently.
IDENTITY_PROVIDERS = ScimPolicy(
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"] if not isinstance(p, int))
        parts.append(f"{where}: {err['msg']}" if where else str(err["msg"]))
    return "; ".join(parts)


_NAMED = re.compile(r"'([^']+)'")


def _mutability(detail: str, attribute: str | None) -> Mutability:
    """The library's mutability refusal, in the request's language as every other refusal
    (its own text is English)."""
    if attribute is None:
        found = _NAMED.search(detail)
        attribute = found.group(1) if found else None
    if "required" in detail:
        if attribute:
            return Mutability(
                _l("“%(attribute)s” is required: it cannot be removed.", attribute=attribute)
            )
        return Mutability(_l("A required attribute cannot be removed."))
    if attribute:
        return Mutability(_l("“%(attribute)s” cannot be changed.", attribute=attribute))
    return Mutability(_l("The request changes an attribute that cannot be changed."))


def scim_exception(exc: SCIMException) -> ScimError:
    if isinstance(exc, MutabilityException):
        return _mutability(str(exc.detail), exc.attribute)
    return ScimError(exc.detail, status=exc.status, scim_type=exc.scim_type or None)


def _invalid(exc: ValidationError) -> ScimError:
    first = exc.errors()[0] if exc.errors() else None
    if first is not None and first["type"] == "scim_mutability":
        return _mutability(str(first["msg"]), None)
    return InvalidValue(_explain(exc))


def _require_object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidSyntax(_l("The request body must be a JSON object."))
    if not payload.get("schemas"):
        raise InvalidSyntax(_l("The request names no schema (“schemas” is missing)."))
    return payload


def read_user(payload: Any, *, creating: bool) -> ScimUserModel:
    payload = _require_object(payload)
    ctx = Context.RESOURCE_CREATION_REQUEST if creating else Context.RESOURCE_REPLACEMENT_REQUEST
    try:
        return ScimUserModel.model_validate(payload, scim_ctx=ctx)
    except SCIMException as exc:
        raise scim_exception(exc) from exc
    except ValidationError as exc:
        raise _invalid(exc) from exc


def read_group(payload: Any) -> Group:
    payload = _require_object(payload)
    try:
        return Group.model_validate(payload, scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    except SCIMException as exc:
        raise scim_exception(exc) from exc
    except ValidationError as exc:
        raise _invalid(exc) from exc


def apply_patch(payload: Any, resource: T, model: type[Any]) -> T:
    """The resource after the PatchOp's operations (RFC 7644 §3.5.2), all or none."""
    payload = _require_object(payload)
    try:
        with IDENTITY_PROVIDERS:
            patch = PatchOp[model].model_validate(  # type: ignore[valid-type]
                payload, scim_ctx=Context.RESOURCE_PATCH_REQUEST
            )
            patch.patch(resource)
    except SCIMException as exc:
        raise scim_exception(exc) from exc
    except ValidationError as exc:
        raise _invalid(exc) from exc
    return resource
