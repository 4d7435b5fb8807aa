"""The SCIM resources Portti serves, as ``scim2-models`` describes them, and the discovery
documents (RFC 7644 §4): ``ServiceProviderConfig``, ``ResourceTypes``, ``Schemas``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from scim2_models import (
    URN,
    Extension,
    Group,
    Mutability,
    Required,
    Returned,
    Uniqueness,
    User,
)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PORTTI_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:portti:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"

# A page holds at most this many resources (ServiceProviderConfig's filter.maxResults).
MAX_RESULTS = 200
DEFAULT_COUNT = 100


# The attributes that name the person: immutable (RFC 7643 §7) in the schema document, but read
# here as readWrite so that Portti itself compares a value sent again with the stored one after
# normalising both (``19850505-1238`` is ``198505051238``) and answers a real change with its
# own, translated, mutability error.
IMMUTABLE = ("identifier", "issuingCountry", "identifierKind", "porttiId")


class PorttiUser(Extension):
    """Who the person is and when their rights in this company hold."""

    __schema__ = URN(PORTTI_USER_SCHEMA)

    identifier: Annotated[str | None, Required.false, Mutability.read_write] = None
    """The person's national identity number (a Finnish personal identity code, or a foreign
    personal number) or another identifying code. Returned in Portti's one stored form (a
    Swedish number as YYYYMMDDNNNN); any written form of the same number is accepted."""

    issuingCountry: Annotated[str | None, Required.false, Mutability.read_write] = None
    """ISO 3166-1 alpha-2 code of the country that issued ``identifier`` (FI for a Finnish
    personal identity code)."""

    identifierKind: Annotated[str | None, Required.false, Mutability.read_write] = None
    """``fi_hetu``, ``personal_number`` (the default) or ``other_code``."""

    porttiId: Annotated[str | None, Required.false, Mutability.read_write, Uniqueness.global_] = (
        None
    )
    """The person's Portti ID. Given with ``identifier`` on creation, it links an existing
    Portti user to this company (both must name the same person); returned always."""

    validFrom: date | None = None
    """First day (inclusive, the company's time zone) the user's rights hold; none: now."""

    validUntil: date | None = None
    """Last day (inclusive) the user's rights hold; none: until further notice."""


ScimUserModel = User[PorttiUser]


def _schema_document(model: Any, base_url: str, name: str, description: str) -> dict[str, Any]:
    doc: dict[str, Any] = model.to_schema().model_dump(exclude_none=True)
    doc["name"] = name
    doc["description"] = description
    doc["meta"] = {"resourceType": "Schema", "location": f"{base_url}/Schemas/{doc['id']}"}
    return doc


def schemas(base_url: str) -> list[dict[str, Any]]:
    user = _schema_document(User, base_url, "User", "User Account")
    group = _schema_document(Group, base_url, "Group", "Group: a role of the company")
    ext = _schema_document(
        PorttiUser,
        base_url,
        "PorttiUser",
        "Portti: the person's identifier and the validity of their rights in this company",
    )
    for attr in ext["attributes"]:
        if attr["name"] in IMMUTABLE:
            attr["mutability"] = Mutability.immutable.value
        if attr["name"] == "porttiId":
            attr["returned"] = Returned.always.value
        if attr["name"] in {"validFrom", "validUntil"}:
            # Whole days: an RFC 7643 string "YYYY-MM-DD" (not a dateTime with a time of day).
            attr["description"] = (
                "A day in the company's time zone, YYYY-MM-DD, inclusive; empty: open-ended."
            )
    return [user, group, ext]


def resource_types(base_url: str) -> list[dict[str, Any]]:
    return [
        {
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A person's user rights in this company",
            "schema": USER_SCHEMA,
            "schemaExtensions": [{"schema": PORTTI_USER_SCHEMA, "required": False}],
            "meta": {"resourceType": "ResourceType", "location": f"{base_url}/ResourceTypes/User"},
        },
        {
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A role of the company: its members are the users holding it",
            "schema": GROUP_SCHEMA,
            "meta": {
                "resourceType": "ResourceType",
                "location": f"{base_url}/ResourceTypes/Group",
            },
        },
    ]


def service_provider_config(base_url: str) -> dict[str, Any]:
    return {
        "schemas": [SPC_SCHEMA],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": (
                    "An access token of a Portti machine client with the scope scim, from "
                    "the client credentials grant at /oidc/token"
                ),
                "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base_url}/ServiceProviderConfig",
        },
    }
