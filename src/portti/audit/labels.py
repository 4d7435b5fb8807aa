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
    AuditAction.COMPANY_CREATED: _l("company created"),
    AuditAction.ACCOUNTING_OFFICE_LINKED: _l("accounting office linked"),
    AuditAction.COMPANY_RENAMED: _l("company renamed"),
    AuditAction.COMPANY_CLOSED: _l("company closed"),
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
    AuditAction.DEVICE_REPLACED: _l("device replaced"),
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


# What the keys of an event's details are called where a person reads them (UX-16); a key not
# named here reads as its code in words. The keys in HIDDEN_DETAILS are internal references
# (row ids, transaction ids) that tell the reader nothing: the page leaves them out.
DETAIL_LABELS: dict[str, LazyText] = {
    "acr": _l("Assurance level"),
    "all_sessions": _l("All sessions"),
    "biometrics": _l("Fingerprint or Face ID"),
    "browser": _l("Browser"),
    "changes": _l("Changes"),
    "client": _l("Application"),
    "code_expires_at": _l("Code valid until"),
    "count": _l("Number"),
    "country": _l("Country"),
    "default_language": _l("Default language"),
    "device": _l("Device"),
    "devices": _l("Devices"),
    "expires_at": _l("Valid until"),
    "email": _l("E-mail"),
    "external_id": _l("Id in the business software"),
    "memberships_ended": _l("User rights ended"),
    "failures": _l("Failed attempts"),
    "fields": _l("Changed details"),
    "identifier_country": _l("Issuing country"),
    "identifier_kind": _l("Identification"),
    "invitation_expires_at": _l("Invitation valid until"),
    "invitations_cancelled": _l("Invitations cancelled"),
    "linked_existing_person": _l("Existing Portti user"),
    "ip": _l("IP address"),
    "method": _l("Method"),
    "name": _l("Name"),
    # How many people were told of it (the person, and their admins where the rules say so).
    "notified": _l("People told about it"),
    "operation": _l("Operation"),
    "origin": _l("Site"),
    "phone": _l("Mobile phone"),
    "platform": _l("Platform"),
    "profiles": _l("Profiles"),
    "purpose": _l("Purpose"),
    "reason": _l("Reason"),
    "replaced_by": _l("Replaced by"),
    "receives_email": _l("Receives the company's e-mail"),
    "redirect_uris": _l("Return addresses"),
    "requires_invitation": _l("New invitation needed"),
    "roles": _l("Roles"),
    "row": _l("Row in the file"),
    "scope": _l("Scope"),
    "source": _l("Source"),
    "status_before": _l("Status before"),
    "threshold": _l("Threshold"),
    "valid_from": _l("Valid from"),
    "valid_until": _l("Valid until"),
    "via": _l("Acting as"),
    "web_sessions": _l("Web sessions"),
}
HIDDEN_DETAILS = frozenset(
    {"approval", "session", "grant", "key_alg", "activation", "approved_by_device", "companies"}
)
# Code values that have a name of their own.
DETAIL_VALUES: dict[str, LazyText] = {
    "app": _l("Portti app"),
    "app_activation": _l("app activation"),
    "biometrics": _l("fingerprint or Face ID"),
    "pin": _l("PIN"),
    "step_up": _l("strong authentication"),
    "login": _l("login"),
    "oidc:fi_bank": _l("Finnish bank ID or mobile certificate"),
    "oidc:ee_id": _l("Estonian ID card"),
    "oidc:no_id": _l("Norwegian ID card"),
    "oidc:se_id": _l("Swedish ID card"),
    "active": _l("in use"),
    "locked": _l("locked"),
    "fi_hetu": _l("Finnish personal identity code"),
    "personal_number": _l("Foreign personal identity number"),
    "other_code": _l("Other identifying code (e.g. date of birth)"),
    "wrong": _l("wrong code"),
    "expired": _l("expired"),
    "logout": _l("logged out"),
    "not_me": _l("reported: this wasn't me"),
    "unknown_person": _l("not a Portti user"),
    "session_replaced": _l("replaced by a new login"),
    "rate_limited": _l("too many attempts"),
    "membership_ended": _l("rights ended"),
    "company_closed": _l("the company was closed"),
    "machine": _l("business software"),
    "no_membership": _l("no valid rights"),
    "removed_by_admin": _l("removed by a user administrator"),
    "replaced": _l("replaced by a new activation"),
    "pin_locked": _l("locked after too many wrong PINs"),
    "origin_mismatch": _l("asked for on another site"),
    "session_expired": _l("the login session ended"),
    "consent_denied": _l("not allowed by the person"),
    "acr_not_met": _l("the login was not strong enough"),
    "sms": _l("text message"),
    "scim": _l("SCIM provisioning"),
    "csv_file": _l("a file of users (CSV)"),
}


def detail_label(key: str) -> str:
    name = DETAIL_LABELS.get(key)
    return str(localize(name)) if name is not None else key.replace("_", " ")


def detail_value_name(value: str) -> str | None:
    name = DETAIL_VALUES.get(value)
    return str(localize(name)) if name is not None else None
