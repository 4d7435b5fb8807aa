"""The app API's bodies for web-login approvals (WEB-2) and step-up by the app (ADM-2)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from portti.devices.schemas import ChallengeOut


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScanIn(Strict):
    qr: str = Field(
        max_length=120,
        description="The QR code's text as read: `portti1.<id>.<elapsed>.<mac>`. It changes "
        "every second; a frame more than a few seconds old is refused with `qr_stale`.",
    )


class CodeIn(Strict):
    code: str = Field(
        max_length=20,
        description="The 8-character code the login page shows after “Type a code instead” "
        "(e.g. `K7QM-3XZP`); case, spaces and dashes do not matter. Valid for 30 seconds: an "
        "older one is refused with `login_code_expired`.",
    )


class LoginApprovalOut(BaseModel):
    """What the app shows before the person confirms: who is asking, from where, on which site,
    and when. A login relayed by a phishing site shows the phisher's country, and the phishing
    site's address where the browser sent it (SEC-13)."""

    approval_id: str = Field(description="The `context` of the `approve_login` challenge.")
    purpose: Literal["login", "step_up"] = Field(
        description="`login`: log in on a computer; `step_up`: “Authenticate to add users” "
        "for a session that is already logged in."
    )
    status: str = Field(description="`pending` or `scanned` while it can be answered.")
    service: str = Field(description="The service asking, e.g. “Portti”.")
    client_name: str | None = Field(
        default=None,
        description="When the login was asked for by a business application (an OpenID Connect "
        "authorization request waiting for this login), the application's registered name, "
        "e.g. “Numerot accounting”: the app names it in the question. Null otherwise.",
    )
    browser: str = Field(description="E.g. “Firefox on Windows” (from the User-Agent).")
    place: str = Field(
        description="The country of the browser's IP address (e.g. “Finland”, from the "
        "server's GeoIP database), “This network” for a loopback or private address, or "
        "“Unknown” (no database, or an address it does not hold)."
    )
    country: str | None = Field(
        default=None,
        description="ISO 3166-1 alpha-2 code of `place` when it is a country, e.g. `FI`.",
    )
    origin: str | None = Field(
        default=None,
        description="The site the browser was on when it asked for the code (its `Origin`), "
        "e.g. `https://portti.example`; null when the browser sent none.",
    )
    service_origin: str | None = Field(
        default=None, description="This service's own address (its configured base URL)."
    )
    origin_matches: bool = Field(
        default=False,
        description="Whether `origin` is `service_origin`. When false, show a warning: the "
        "login was asked for from another site (a phishing site relaying it) or from no page. "
        "A login whose `origin` is another site cannot be approved (`origin_mismatch`, the login "
        "ends); one without an `origin` needs the person's deliberate confirmation (SEC-16).",
    )
    requested_at: datetime
    expires_at: datetime
    numbers: list[int] = Field(
        description="Three numbers: the person picks the one the browser shows (number "
        "matching). A wrong pick refuses the login."
    )
    challenge: ChallengeOut | None = Field(
        default=None,
        description="After a scan or a typed code: a fresh `approve_login` challenge for this "
        "approval (single use, 2 minutes), so that approving takes one request. After a failed "
        "try, or for a pending step-up, get one from `POST /devices/{device_id}/challenges` "
        "with purpose `approve_login` and the approval id as `context`.",
    )


class PendingApprovalsOut(BaseModel):
    approvals: list[LoginApprovalOut]


class ApproveIn(Strict):
    nonce: str = Field(max_length=64, description="From an `approve_login` challenge.")
    signature: str = Field(max_length=200)
    pin: str | None = Field(default=None, max_length=12)
    biometric_signature: str | None = Field(
        default=None,
        max_length=3000,
        description="The biometric key's signature (base64url), or for a `webauthn` biometric "
        "key the assertion `<credential id>.<authenticatorData>.<clientDataJSON>.<signature>`.",
    )
    number: int = Field(ge=0, le=99, description="The number the person picked.")


class ApprovalResult(BaseModel):
    approval_id: str
    status: str = Field(description="`approved` or `rejected`.")
