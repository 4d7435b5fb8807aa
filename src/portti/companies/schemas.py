"""Inputs and outputs of the Users and roles operations (shared by the HTML and JSON routes)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class IdentificationMethod(StrEnum):
    FI_HETU = "fi_hetu"
    FOREIGN = "foreign"


class ForeignIdKind(StrEnum):
    PERSONAL_NUMBER = "personal_number"
    OTHER_CODE = "other_code"


class Validity(StrEnum):
    UNTIL_FURTHER_NOTICE = "until_further_notice"
    TIME_LIMITED = "time_limited"


class MemberStatus(StrEnum):
    ACTIVE = "active"
    UPCOMING = "upcoming"
    ENDED = "ended"
    ALL = "all"


NOT_BLANK: dict[str, Any] = {"minLength": 1, "pattern": r"\S"}


class AddUserInput(BaseModel):
    """The add-user wizard, in the seed's order."""

    model_config = ConfigDict(extra="forbid")

    method: IdentificationMethod
    id_kind: ForeignIdKind | None = None
    id_value: str = Field(max_length=100)
    id_country: str | None = Field(default=None, max_length=2)
    already_user: bool = False
    portti_id: str | None = Field(default=None, max_length=20)
    given_name: str | None = Field(default=None, max_length=100)
    family_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    roles: list[str] = Field(default_factory=list)
    profiles: list[int] = Field(default_factory=list)
    validity: Validity = Validity.UNTIL_FURTHER_NOTICE
    valid_from: date | None = None
    valid_until: date | None = None
    receives_email: bool = True


class ChangeMembershipInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: list[str] = Field(default_factory=list)
    profiles: list[int] = Field(default_factory=list)
    validity: Validity = Validity.UNTIL_FURTHER_NOTICE
    valid_from: date | None = None
    valid_until: date | None = None
    receives_email: bool = True


class MembershipPatch(BaseModel):
    """A partial change of a membership (the JSON API's PATCH): a field left out keeps its
    value. Giving ``valid_from`` or ``valid_until`` without ``validity`` means a time-limited
    membership; ``"validity": "until_further_notice"`` clears both dates."""

    model_config = ConfigDict(extra="forbid")

    roles: list[str] | None = None
    profiles: list[int] | None = None
    validity: Validity | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    receives_email: bool | None = None

    def over(
        self,
        roles: list[str],
        profiles: list[int],
        valid_from: date | None,
        valid_until: date | None,
        receives_email: bool,
    ) -> ChangeMembershipInput:
        """The whole change: this patch laid over the membership's present values."""
        given = self.model_fields_set
        validity = self.validity
        if validity is None:
            dated = valid_from is not None or valid_until is not None
            if {"valid_from", "valid_until"} & given:
                dated = True
            validity = Validity.TIME_LIMITED if dated else Validity.UNTIL_FURTHER_NOTICE
        return ChangeMembershipInput(
            roles=roles if self.roles is None else self.roles,
            profiles=profiles if self.profiles is None else self.profiles,
            validity=validity,
            valid_from=self.valid_from if "valid_from" in given else valid_from,
            valid_until=self.valid_until if "valid_until" in given else valid_until,
            receives_email=receives_email if self.receives_email is None else self.receives_email,
        )


class ChangePersonInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The service refuses blank ones (422) and reports them with the other fields' mistakes;
    # the schema says so (SEC-20).
    given_name: str = Field(max_length=100, json_schema_extra=NOT_BLANK)
    family_name: str = Field(max_length=100, json_schema_extra=NOT_BLANK)
    email: str = Field(max_length=254, json_schema_extra=NOT_BLANK)
    phone: str = Field(max_length=40, json_schema_extra=NOT_BLANK)


class IdentifierOut(BaseModel):
    kind: str
    country: str
    value: str


class MemberOut(BaseModel):
    membership_id: int
    company_id: int
    portti_id: str
    given_name: str
    family_name: str
    email: str | None
    phone: str | None
    roles: list[str]
    profiles: list[int]
    valid_from: date | None
    valid_until: date | None
    status: MemberStatus
    receives_email: bool
    created_at: datetime


class MemberDetailOut(MemberOut):
    identifiers: list[IdentifierOut]


class MemberPage(BaseModel):
    items: list[MemberOut]
    next_cursor: str | None
    total: int | None = None
