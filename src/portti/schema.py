"""Every domain's models in one place, so that the metadata is complete (Alembic, tests)."""

from portti.accounts.models import Account, TermsAcceptance
from portti.activation.models import Activation
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
from portti.devices.models import AppSession, Device, DeviceChallenge
from portti.infra.devmailbox import DevMessage
from portti.infra.outbox import OutboxMessage
from portti.infra.secret_material import SecretMaterial
from portti.invitations.models import ConfirmationCode, Invitation
from portti.keys.models import ServiceKey
from portti.oidc_provider.models import (
    AuthorizationCode,
    AuthorizationRequest,
    OidcClient,
    OidcConsent,
    OidcLogin,
    RefreshToken,
    UsedClientAssertion,
)
from portti.people.models import Person, PersonIdentifier
from portti.scim.models import ScimUser
from portti.strongauth.models import OidcFlow
from portti.weblogin.models import LoginTransaction, WebSession

__all__ = [
    "Account",
    "Activation",
    "AppSession",
    "AuditEvent",
    "AuthorizationCode",
    "AuthorizationRequest",
    "Company",
    "ConfirmationCode",
    "DevMessage",
    "Device",
    "DeviceChallenge",
    "Invitation",
    "LoginTransaction",
    "Membership",
    "MembershipProfile",
    "MembershipRole",
    "Model",
    "OidcClient",
    "OidcConsent",
    "OidcFlow",
    "OidcLogin",
    "OutboxMessage",
    "Person",
    "PersonIdentifier",
    "Profile",
    "ProfileRole",
    "RefreshToken",
    "Role",
    "ScimUser",
    "SecretMaterial",
    "ServiceKey",
    "TermsAcceptance",
    "UsedClientAssertion",
    "WebSession",
]
