"""What each audit action is called where a person reads the event history (ADM-8): the
stored action stays a stable code; the page shows its name in the reader's language (in English,
the code read as words)."""

from __future__ import annotations

from portti.audit.models import AuditAction
from portti.i18n import LazyText, _l, localize

EVENT_NAMES: dict[str, LazyText] = {
    AuditAction.LOGIN_SUCCEEDED: _l("login succeeded"),
    AuditAction.LOGIN_FAILED: _l("login failed"),
    AuditAction.LOGOUT: _l("logout"),
    AuditAction.SESSION_REVOKED: _l("session revoked"),
    AuditAction.STEP_UP_SUCCEEDED: _l("step up succeeded"),
    AuditAction.STEP_UP_FAILED: _l("step up failed"),
    AuditAction.COMPANY_SELECTED: _l("company selected"),
    AuditAction.COMPANY_SETTINGS_CHANGED: _l("company settings changed"),
    AuditAction.PERSON_CREATED: _l("person created"),
    AuditAction.PERSON_UPDATED: _l("person updated"),
    AuditAction.MEMBERSHIP_ADDED: _l("membership added"),
    AuditAction.MEMBERSHIP_CHANGED: _l("membership changed"),
    AuditAction.MEMBERSHIP_REMOVED: _l("membership removed"),
    AuditAction.ACCESS_DENIED: _l("access denied"),
    AuditAction.INVITATION_SENT: _l("invitation sent"),
    AuditAction.INVITEE_IDENTITY_VERIFIED: _l("invitee identity verified"),
    AuditAction.INVITATION_CANCELLED: _l("invitation cancelled"),
    AuditAction.INVITATION_SUPERSEDED: _l("invitation superseded"),
    AuditAction.SIGNUP_CODE_ENTERED: _l("signup code entered"),
    AuditAction.SIGNUP_CODE_REJECTED: _l("signup code rejected"),
    AuditAction.SIGNUP_FAILURE_RATE_HIGH: _l("signup failure rate high"),
    AuditAction.CONFIRMATION_CODE_SENT: _l("confirmation code sent"),
    AuditAction.CONFIRMATION_CODE_FAILED: _l("confirmation code failed"),
    AuditAction.ADMIN_CODE_ISSUED: _l("admin confirmation code issued"),
    AuditAction.ADMIN_CODE_SAVED: _l("admin confirmation code saved"),
    AuditAction.PHONE_CONFIRMED: _l("phone confirmed"),
    AuditAction.INVITATION_ACTIVATED: _l("invitation activated"),
    AuditAction.LOGIN_QR_SCANNED: _l("login qr scanned"),
    AuditAction.LOGIN_APPROVED_IN_APP: _l("login approved in app"),
    AuditAction.LOGIN_REJECTED_IN_APP: _l("login rejected in app"),
    AuditAction.ACCOUNT_EMAIL_CODE_SENT: _l("account email code sent"),
    AuditAction.ACCOUNT_EMAIL_CODE_FAILED: _l("account email code failed"),
    AuditAction.ACCOUNT_EMAIL_VERIFIED: _l("account email verified"),
    AuditAction.ACCOUNT_CREATION_REFUSED: _l("account creation refused"),
    AuditAction.ACCOUNT_CREATED: _l("account created"),
    AuditAction.ACCOUNT_PASSWORD_CHANGED: _l("account password changed"),
    AuditAction.ACCOUNT_PASSWORD_REJECTED: _l("account password rejected"),
    AuditAction.TOTP_ENROLMENT_STARTED: _l("totp enrolment started"),
    AuditAction.TOTP_ENROLLED: _l("totp enrolled"),
    AuditAction.TOTP_FAILED: _l("totp failed"),
    AuditAction.ACCOUNT_LOGIN_SUCCEEDED: _l("account login succeeded"),
    AuditAction.ACCOUNT_LOGIN_FAILED: _l("account login failed"),
    AuditAction.ACCOUNT_LOCKED: _l("account locked"),
    AuditAction.ACCOUNT_LINKED: _l("account linked"),
    AuditAction.TERMS_ACCEPTED: _l("terms accepted"),
    AuditAction.TERMS_REFUSED: _l("terms refused"),
    AuditAction.DEVICE_BOUND: _l("device bound"),
    AuditAction.DEVICE_APPROVAL_FAILED: _l("device approval failed"),
    AuditAction.PIN_FAILED: _l("pin failed"),
    AuditAction.DEVICE_LOCKED: _l("device locked"),
    AuditAction.APP_UNLOCKED: _l("app unlocked"),
    AuditAction.APP_LOCKED: _l("app locked"),
    AuditAction.DEVICE_LOGGED_OUT: _l("device logged out"),
    AuditAction.DEVICE_REVOKED: _l("device revoked"),
    AuditAction.LOGOUT_EVERYWHERE: _l("logout everywhere"),
    AuditAction.DEVICE_REPORTED_NOT_ME: _l("device reported not me"),
    AuditAction.OIDC_CLIENT_REGISTERED: _l("oidc client registered"),
    AuditAction.OIDC_CLIENT_CHANGED: _l("oidc client changed"),
    AuditAction.OIDC_CLIENT_SECRET_ROTATED: _l("oidc client secret rotated"),
    AuditAction.OIDC_CLIENT_DISABLED: _l("oidc client disabled"),
    AuditAction.OIDC_AUTHORIZED: _l("oidc authorized"),
    AuditAction.OIDC_AUTHORIZATION_REFUSED: _l("oidc authorization refused"),
    AuditAction.OIDC_TOKENS_ISSUED: _l("oidc tokens issued"),
    AuditAction.OIDC_TOKEN_REFUSED: _l("oidc token refused"),
    AuditAction.OIDC_LOGOUT: _l("oidc logout"),
    AuditAction.OIDC_CONSENT_GRANTED: _l("oidc consent granted"),
    AuditAction.OIDC_CONSENT_REVOKED: _l("oidc consent revoked"),
}


def event_name(action: str) -> str:
    """The action's name in the current language; an action without one reads as its code."""
    name = EVENT_NAMES.get(action)
    return str(localize(name)) if name is not None else action.replace("_", " ")
