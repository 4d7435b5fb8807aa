"""The app API's bodies after the confirmation code: account, TOTP, terms, device, unlock."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NextStep(BaseModel):
    step: str = Field(
        description="What the app shows next: `confirm_phone`, `account`, `verify_email`, "
        "`password`, `totp`, `terms`, `device` or `done`."
    )


class EmailIn(Strict):
    email: str = Field(max_length=254)


class CodeIn(Strict):
    code: str = Field(max_length=20)


class PasswordIn(Strict):
    password: str = Field(max_length=256)


class AccountLoginIn(Strict):
    email: str = Field(max_length=254)
    password: str = Field(max_length=256)
    totp_code: str = Field(max_length=10)


class TotpEnrolmentOut(BaseModel):
    secret: str = Field(description="Base32 seed for authenticator apps that cannot scan.")
    otpauth_uri: str
    qr_svg: str


class TermsOut(BaseModel):
    version: str
    text: str = Field(description="Markdown, in `language`.")
    language: str = Field(
        default="en", description="The text's language: the reader's (fi, sv), else English."
    )


class TermsIn(Strict):
    version: str = Field(max_length=20)


class DeviceIn(Strict):
    name: str = Field(max_length=100, description="E.g. “Anna's iPhone”.")
    platform: str = Field(max_length=40, default="unknown")
    key_alg: str = Field(description="`Ed25519` or `ES256`.", max_length=10)
    public_key: str = Field(max_length=300, description="SubjectPublicKeyInfo DER, base64url.")
    pin: str = Field(max_length=12)
    biometric_key_alg: str | None = Field(
        default=None,
        max_length=10,
        description="`Ed25519`, `ES256`, or `webauthn` (a platform authenticator's credential).",
    )
    biometric_public_key: str | None = Field(default=None, max_length=300)
    replaces_device: str | None = Field(
        default=None,
        max_length=60,
        description="The device id this app had before (its PIN forgotten, or locked): the new "
        "device replaces it, and it can no longer approve anything. A device that is not the "
        "same person's is left alone.",
    )


class PersonOut(BaseModel):
    portti_id: str
    given_name: str
    family_name: str


class DeviceBound(BaseModel):
    device_id: str
    person: PersonOut
    step: str = "done"


class ChallengeIn(Strict):
    purpose: str = Field(max_length=40)
    context: str | None = Field(default=None, max_length=200)


class ChallengeOut(BaseModel):
    nonce: str
    expires_at: datetime


class UnlockIn(Strict):
    nonce: str = Field(max_length=64)
    signature: str = Field(max_length=200)
    pin: str | None = Field(default=None, max_length=12)
    biometric_signature: str | None = Field(
        default=None,
        max_length=3000,
        description="The biometric key's signature (base64url), or for a `webauthn` biometric "
        "key the assertion `<credential id>.<authenticatorData>.<clientDataJSON>.<signature>`.",
    )


class AppSessionOut(BaseModel):
    app_session_token: str
    expires_at: datetime


class MembershipOut(BaseModel):
    company_id: int
    company_name: str
    valid: bool


class DeviceOut(BaseModel):
    device_id: str
    name: str
    platform: str
    status: str
    created_at: datetime
    last_used_at: datetime | None
    this_device: bool


class MeOut(BaseModel):
    person: PersonOut
    companies: list[MembershipOut]
    devices: list[DeviceOut]


class LoggedOut(BaseModel):
    devices_ended: int


class BankIdStartIn(Strict):
    provider: str = Field(max_length=40)
    code_challenge: str = Field(
        max_length=100, description="S256 of a verifier the app keeps, to pick up the result."
    )
    return_to: Literal["app", "web_app"] = Field(
        default="app",
        description="`app`: the browser is sent to `portti-app://activation?handoff=…`; "
        "`web_app`: to the Portti web app, `/app/#handoff=…` (a fragment: never sent to a "
        "server or in a Referer).",
    )


class BankIdStartOut(BaseModel):
    authorization_url: str


class BankIdHandoffIn(Strict):
    handoff: str = Field(max_length=100)
    code_verifier: str = Field(max_length=200)


class ActivationOut(BaseModel):
    activation_token: str
    step: str
    person: PersonOut


class CarriedCompanyOut(BaseModel):
    company_id: int
    company_name: str
    invited_by: str | None = Field(
        description="Who sent the invitation that brought the company to this device; null "
        "when it came with an earlier device of the same account."
    )
    added_at: datetime


class MemberDeviceOut(BaseModel):
    device_id: str
    name: str
    platform: str
    status: str
    created_at: datetime
    last_used_at: datetime | None
    activated_by: str = Field(description="`invitation`, `account` or `bank_id`.")
    companies: list[CarriedCompanyOut] = Field(
        description="The companies this device lets the person into (SEC-14); a device "
        "activated by bank ID lets them into every company their rights reach."
    )
    carries_company: bool = Field(description="Whether it lets the person into this company.")


class AppAccessOut(BaseModel):
    reaches_company: bool = Field(
        description="Whether an active device lets the person into this company. Linking an "
        "existing person does not: this company sends its own invitation (SEC-14)."
    )
    summary: str = Field(description="What this means for the administrator, in their language.")
    devices: list[MemberDeviceOut]


class DevicesRemovedOut(BaseModel):
    devices_removed: int
