"""Invitation API bodies: the app's activation steps and the admin's invitation view."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SignupCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signup_code: str = Field(
        max_length=40,
        description="The 16 digits from the e-mail; spaces allowed.",
        # What the service accepts (``clean_digits``): anything else is `invitation_invalid`.
        json_schema_extra={"pattern": r"^[ -]*(?:[0-9][ -]*){16}$"},
    )


class ConfirmationCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=20, description="The 6 digits from the SMS or from the admin.")


class ActivationStarted(BaseModel):
    activation_token: str = Field(
        description="Send as `Authorization: Bearer …` in the next steps."
    )
    inviter_name: str
    company_name: str
    phone_hint: str
    expires_at: datetime
    resends_left: int
    email: str | None = Field(
        default=None,
        description="The address the invitation was sent to: the app offers it as the account's "
        "e-mail address (the person may change it).",
    )


class ActivationState(BaseModel):
    step: str = Field(description="The next step: `confirm_phone`, `account`, or `done`.")
    inviter_name: str
    company_name: str
    expires_at: datetime
    email: str | None = Field(
        default=None,
        description="The address the invitation was sent to: the app offers it as the account's "
        "e-mail address (the person may change it).",
    )


class ResendOut(BaseModel):
    resends_left: int


class InviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identity_verified: bool = Field(description="The admin confirms having verified the identity.")
    language: Literal["fi", "sv", "en"] = Field(
        "en", description="The language of the invitation e-mail and its SMS codes."
    )


class StepOut(BaseModel):
    name: str
    label: str
    at: datetime | None
    done: bool


class InvitationOut(BaseModel):
    id: int
    status: str
    sent_at: datetime
    expires_at: datetime
    inviter_name: str
    email: str
    phone: str
    steps: list[StepOut]
    can_issue_confirmation_code: bool


class AdminCodeOut(BaseModel):
    code: str = Field(description="Shown once. Give it to the invitee; it is not stored in clear.")
    expires_at: datetime
    invitation_expires_at: datetime
