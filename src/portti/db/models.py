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
from portti.accounts.models import Account, TermsAcceptance
from portti.devices.models import Activation, AppSession, Device, DeviceChallenge
from portti.infra.devmailbox import DevMessage
from portti.infra.outbox import OutboxMessage
from portti.invitations.models import ConfirmationCode, Invitation
from portti.people.models import Person, PersonIdentifier
from portti.strongauth.models import OidcFlow
from portti.weblogin.models import LoginTransaction, WebSession

__all__ = [
    "Account",
    "AppSession",
    "Device",
    "DeviceChallenge",
    "TermsAcceptance",
    "Activation",
    "ConfirmationCode",
    "Invitation",
    "LoginTransaction",
    "AuditEvent",
    "Company",
    "DevMessage",
    "Membership",
    "MembershipProfile",
    "MembershipRole",
    "Model",
    "OidcFlow",
    "OutboxMessage",
    "Person",
    "PersonIdentifier",
    "Profile",
    "ProfileRole",
    "Role",
    "WebSession",
]
