"""SCIM error documents (RFC 7644 §3.12): ``status`` as a string, a ``scimType`` keyword where
the RFC defines one, and a ``detail`` a person can act on, in the request's language."""

from __future__ import annotations

from typing import Any

from portti.errors import DomainError
from portti.i18n import _l

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_JSON = "application/scim+json"


class ScimError(DomainError):
    """A refusal answered as a SCIM error document (``api.ScimRoute``); a domain error, so
    that the unit of work keeps what a refusal recorded when its class says so."""

    status = 400
    code = "scim_error"
    scim_type: str | None = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        scim_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail = detail or self.message
        if status is not None:
            self.status = status
        if scim_type is not None:
            self.scim_type = scim_type
        self.headers = headers or {}
        super().__init__(detail)

    def document(self, detail: str) -> dict[str, Any]:
        body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(self.status)}
        if self.scim_type:
            body["scimType"] = self.scim_type
        body["detail"] = detail
        return body


class InvalidValue(ScimError):
    scim_type = "invalidValue"


class InvalidSyntax(ScimError):
    scim_type = "invalidSyntax"


class InvalidFilter(ScimError):
    scim_type = "invalidFilter"


class InvalidPath(ScimError):
    scim_type = "invalidPath"


class Uniqueness(ScimError):
    status = 409
    scim_type = "uniqueness"


class Mutability(ScimError):
    scim_type = "mutability"


class ResourceNotFound(ScimError):
    status = 404
    message = _l("No such resource in this company.")


class VersionMismatch(ScimError):
    """RFC 7644 §3.14: If-Match names another version than the resource has now."""

    status = 412
    message = _l(
        "The resource was changed after you read it (its version no longer matches "
        "If-Match). Read it again and repeat the change."
    )


class NotPermitted(ScimError):
    status = 403


class AuditedRefusal(NotPermitted):
    """Refused after the refusal was written to the audit log: the row stays."""

    keeps_writes = True
