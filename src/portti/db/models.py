"""Imports every domain's models so that the metadata is complete (Alembic, tests)."""

from portti.audit.models import AuditEvent
from portti.companies.models import (
    Company,
    Membership,
    MembershipProfile,
    MembershipRole,
    Profile,
    ProfileRole,
    Role,
)
from portti.db.base import Model
from portti.people.models import Person, PersonIdentifier
from portti.strongauth.models import OidcFlow
from portti.weblogin.models import WebSession

__all__ = [
    "AuditEvent",
    "Company",
    "Membership",
    "MembershipProfile",
    "MembershipRole",
    "Model",
    "OidcFlow",
    "Person",
    "PersonIdentifier",
    "Profile",
    "ProfileRole",
    "Role",
    "WebSession",
]
