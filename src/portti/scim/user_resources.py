"""SCIM ``Users`` as they are read: a membership as a User resource (RFC 7643 §4.1, with
Portti's extension), and the filtered, paged list an identity provider searches."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, lazyload

from portti.companies.catalogue import ROLES
from portti.companies.models import Membership
from portti.i18n import _l
from portti.people.models import Person
from portti.people.phones import InvalidEmail, normalise_email
from portti.scim.context import ScimContext, parse_id, version_of
from portti.scim.errors import InvalidFilter, ResourceNotFound
from portti.scim.filters import parse_filter
from portti.scim.models import ScimUser
from portti.scim.resources import LIST_SCHEMA, PORTTI_USER_SCHEMA, USER_SCHEMA

USER_PREFIX = "urn:ietf:params:scim:schemas:core:2.0:user:"


@dataclass(frozen=True)
class Written:
    resource: dict[str, Any]
    version: str


def role_names() -> dict[str, str]:
    # The catalogue the roles table is written from: its English names (the groups'
    # displayName, the same in every language: identity providers match groups by it).
    return {code: str(name) for code, name, *_ in ROLES}


def load_members(db: Session, *conditions: Any) -> list[tuple[Membership, ScimUser | None]]:
    """Memberships with their person, identifiers and roles, and their SCIM row: four
    statements however many (the profiles SCIM does not show are not loaded)."""
    rows = db.execute(
        select(Membership, ScimUser)
        .outerjoin(ScimUser, ScimUser.membership_id == Membership.id)
        .where(*conditions)
        .options(
            joinedload(Membership.person).selectinload(Person.identifiers),
            lazyload(Membership.profiles),
        )
        .order_by(Membership.id)
    ).all()
    return [(m, row) for m, row in rows]


def user_resource(ctx: ScimContext, m: Membership, row: ScimUser | None) -> dict[str, Any]:
    """The membership as a SCIM User, its version (ETag) in ``meta``."""
    p = m.person
    base = ctx.base_url
    today = ctx.today()
    ident = p.identifiers[0] if p.identifiers else None
    ext: dict[str, Any] = {"porttiId": p.portti_id}
    if ident is not None:
        ext |= {
            "identifier": ident.value,
            "issuingCountry": ident.country,
            "identifierKind": ident.kind,
        }
    if m.valid_from is not None:
        ext["validFrom"] = m.valid_from.isoformat()
    if m.valid_until is not None:
        ext["validUntil"] = m.valid_until.isoformat()
    names = role_names()
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA, PORTTI_USER_SCHEMA],
        "id": str(m.id),
    }
    if row is not None and row.external_id is not None:
        body["externalId"] = row.external_id
    body |= {
        "userName": row.user_name if row is not None else p.portti_id,
        "name": {
            "formatted": p.full_name,
            "givenName": p.given_name,
            "familyName": p.family_name,
        },
        "displayName": (row.display_name if row is not None else None) or p.full_name,
        # Ended rights are inactive; rights that start later are provisioned, so active.
        "active": m.valid_until is None or m.valid_until >= today,
    }
    if p.email:
        body["emails"] = [{"value": p.email, "type": "work", "primary": True}]
    if p.phone:
        body["phoneNumbers"] = [{"value": p.phone, "type": "mobile", "primary": True}]
    if p.language:
        body["preferredLanguage"] = p.language
    groups = sorted(m.role_codes)
    if groups:
        body["groups"] = [
            {"value": c, "display": names.get(c, c), "$ref": f"{base}/Groups/{c}"} for c in groups
        ]
    body[PORTTI_USER_SCHEMA] = ext
    body["meta"] = {
        "resourceType": "User",
        "created": m.created_at.isoformat(),
        "lastModified": m.updated_at.isoformat(),
        "location": f"{base}/Users/{m.id}",
    }
    body["meta"]["version"] = version_of(body)
    return body


def search_users(
    ctx: ScimContext, filter_text: str | None, start_index: int, count: int
) -> dict[str, Any]:
    """A page of the company's users matching the filter (RFC 7644 §3.4.2), in id order."""
    company_id = ctx.company.id
    conditions: list[Any] = [Membership.company_id == company_id]
    joins_scim = joins_person = False
    for test in parse_filter(filter_text) if filter_text else []:
        path = test.path.removeprefix(USER_PREFIX)
        value = test.value
        # The SCIM row's own company_id too: the (company, key) indexes serve the search.
        if path == "username":
            joins_scim = True
            conditions += [
                ScimUser.company_id == company_id,
                ScimUser.user_name_key == str(value).casefold(),
            ]
        elif path == "externalid":
            joins_scim = True
            conditions += [
                ScimUser.company_id == company_id,
                ScimUser.external_id == str(value),
            ]
        elif path == "emails.value":
            joins_person = True
            # caseExact false (RFC 7643 §4.1.2): lower(email) has its own index.
            emails = {str(value).strip().lower()}
            with contextlib.suppress(InvalidEmail):
                emails.add(normalise_email(str(value)).lower())
            conditions.append(func.lower(Person.email).in_(sorted(emails)))
        elif path == "emails.type":
            if str(value).lower() != "work":
                conditions.append(Membership.id.is_(None))
        elif path == "id":
            try:
                conditions.append(Membership.id == parse_id(str(value)))
            except ResourceNotFound:
                conditions.append(Membership.id.is_(None))
        else:
            raise InvalidFilter(
                _l(
                    "Users can be filtered by userName, externalId, emails.value and id, "
                    "not by “%(attribute)s”.",
                    attribute=test.written,
                )
            )
    ids = select(Membership.id)
    if joins_scim:
        ids = ids.join(ScimUser, ScimUser.membership_id == Membership.id)
    if joins_person:
        ids = ids.join(Person, Person.id == Membership.person_id)
    ids = ids.where(*conditions)
    page_ids = (
        list(ctx.db.scalars(ids.order_by(Membership.id).offset(start_index - 1).limit(count)))
        if count > 0
        else []
    )
    if start_index == 1 and len(page_ids) < count:
        total = len(page_ids)  # the whole result is on this page: no count needed
    else:
        total = ctx.db.scalar(select(func.count()).select_from(ids.subquery())) or 0
    resources = []
    if page_ids:
        resources = [
            user_resource(ctx, m, row)
            for m, row in load_members(ctx.db, Membership.id.in_(page_ids))
        ]
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
