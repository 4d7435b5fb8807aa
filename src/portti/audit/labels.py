"""What each audit action is called where a person reads the event history (ADM-8): the
stored action stays a stable English code; the page shows its name in the reader's language."""

from __future__ import annotations

from portti.audit.models import AuditAction
from portti.i18n import LazyText, _l, localize

EVENT_NAMES: dict[str, LazyText] = {
    AuditAction.LOGIN_SUCCEEDED: _l("Logged in"),
    AuditAction.LOGIN_FAILED: _l("Login failed"),
    AuditAction.LOGOUT: _l("Logged out"),
    AuditAction.SESSION_REVOKED: _l("Session ended"),
    AuditAction.STEP_UP_SUCCEEDED: _l("Strong authentication"),
    AuditAction.STEP_UP_FAILED: _l("Strong authentication failed"),
    AuditAction.COMPANY_SELECTED: _l("Company chosen"),
    AuditAction.COMPANY_SETTINGS_CHANGED: _l("Company settings changed"),
    AuditAction.PERSON_CREATED: _l("Person created"),
    AuditAction.PERSON_UPDATED: _l("Personal details changed"),
    AuditAction.MEMBERSHIP_ADDED: _l("Added to the company"),
    AuditAction.MEMBERSHIP_CHANGED: _l("Roles or validity changed"),
    AuditAction.MEMBERSHIP_REMOVED: _l("Removed from the company"),
    AuditAction.ACCESS_DENIED: _l("Access denied"),
    AuditAction.INVITATION_SENT: _l("Invitation sent"),
    AuditAction.INVITEE_IDENTITY_VERIFIED: _l("Invitee's identity confirmed"),
    AuditAction.INVITATION_CANCELLED: _l("Invitation cancelled"),
    AuditAction.INVITATION_SUPERSEDED: _l("Invitation replaced"),
    AuditAction.SIGNUP_CODE_ENTERED: _l("Sign-up code entered"),
    AuditAction.SIGNUP_CODE_REJECTED: _l("Sign-up code refused"),
    AuditAction.SIGNUP_FAILURE_RATE_HIGH: _l("Many failed sign-ups"),
    AuditAction.CONFIRMATION_CODE_SENT: _l("Confirmation code sent"),
    AuditAction.CONFIRMATION_CODE_FAILED: _l("Wrong confirmation code"),
    AuditAction.ADMIN_CODE_ISSUED: _l("Confirmation code given by the administrator"),
    AuditAction.ADMIN_CODE_SAVED: _l("Confirmation code saved by the administrator"),
    AuditAction.PHONE_CONFIRMED: _l("Phone confirmed"),
    AuditAction.INVITATION_ACTIVATED: _l("App activated"),
    AuditAction.LOGIN_QR_SCANNED: _l("Login QR code scanned"),
    AuditAction.LOGIN_APPROVED_IN_APP: _l("Login approved in the app"),
    AuditAction.LOGIN_REJECTED_IN_APP: _l("Login rejected in the app"),
    AuditAction.ACCOUNT_EMAIL_CODE_SENT: _l("E-mail confirmation code sent"),
    AuditAction.ACCOUNT_EMAIL_CODE_FAILED: _l("Wrong e-mail confirmation code"),
    AuditAction.ACCOUNT_EMAIL_VERIFIED: _l("E-mail address confirmed"),
    AuditAction.ACCOUNT_CREATION_REFUSED: _l("Account not created"),
    AuditAction.ACCOUNT_CREATED: _l("Account created"),
    AuditAction.ACCOUNT_PASSWORD_CHANGED: _l("Password changed"),
    AuditAction.ACCOUNT_PASSWORD_REJECTED: _l("Password refused"),
    AuditAction.TOTP_ENROLMENT_STARTED: _l("Authenticator set-up started"),
    AuditAction.TOTP_ENROLLED: _l("Authenticator set up"),
    AuditAction.TOTP_FAILED: _l("Wrong one-time code"),
    AuditAction.ACCOUNT_LOGIN_SUCCEEDED: _l("Logged in with the account"),
    AuditAction.ACCOUNT_LOGIN_FAILED: _l("Account login failed"),
    AuditAction.ACCOUNT_LOCKED: _l("Account locked"),
    AuditAction.ACCOUNT_LINKED: _l("Account linked"),
    AuditAction.TERMS_ACCEPTED: _l("Terms accepted"),
    AuditAction.TERMS_REFUSED: _l("Terms declined"),
    AuditAction.DEVICE_BOUND: _l("App activated on a device"),
    AuditAction.DEVICE_APPROVAL_FAILED: _l("Approval in the app failed"),
    AuditAction.PIN_FAILED: _l("Wrong PIN"),
    AuditAction.DEVICE_LOCKED: _l("App locked after wrong PINs"),
    AuditAction.APP_UNLOCKED: _l("App unlocked"),
    AuditAction.APP_LOCKED: _l("App locked"),
    AuditAction.DEVICE_LOGGED_OUT: _l("Logged out of the app"),
    AuditAction.DEVICE_REVOKED: _l("Device removed"),
    AuditAction.LOGOUT_EVERYWHERE: _l("Logged out from all devices"),
    AuditAction.DEVICE_REPORTED_NOT_ME: _l("Reported “This wasn't me”"),
    AuditAction.OIDC_CLIENT_REGISTERED: _l("Application registered"),
    AuditAction.OIDC_CLIENT_CHANGED: _l("Application changed"),
    AuditAction.OIDC_CLIENT_SECRET_ROTATED: _l("Application secret renewed"),
    AuditAction.OIDC_CLIENT_DISABLED: _l("Application disabled"),
    AuditAction.OIDC_AUTHORIZED: _l("Logged in to an application"),
    AuditAction.OIDC_AUTHORIZATION_REFUSED: _l("Login to an application refused"),
    AuditAction.OIDC_TOKENS_ISSUED: _l("Application tokens issued"),
    AuditAction.OIDC_TOKEN_REFUSED: _l("Application token request refused"),
    AuditAction.OIDC_LOGOUT: _l("Logged out of an application"),
}


def event_name(action: str) -> str:
    """The action's name in the current language; an action without one reads as its code."""
    name = EVENT_NAMES.get(action)
    return str(localize(name)) if name is not None else action.replace("_", " ")
