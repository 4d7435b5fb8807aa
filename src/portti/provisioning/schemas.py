"""What business software sends to the companies API (PRV-2)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Language = Literal["fi", "sv", "en"]


class CompanyInput(BaseModel):
    """A company as business software creates it."""

    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(
        min_length=1,
        max_length=100,
        json_schema_extra={"pattern": r"\S"},
        description="The business software's own id for the company: the same id again with "
        "the same body answers with the same company.",
    )
    name: str = Field(min_length=1, max_length=200, json_schema_extra={"pattern": r"\S"})
    business_id: str = Field(
        max_length=20, description="Finnish business ID (Y-tunnus), e.g. 2345678-0."
    )
    kind: Literal["company", "accounting_office"] = "company"
    default_language: Language = "fi"
    timezone: str = Field(default="Europe/Helsinki", max_length=64)


class CompanyChangeInput(BaseModel):
    """A change of a company (PATCH): the fields left out keep their values."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        default=None, min_length=1, max_length=200, json_schema_extra={"pattern": r"\S"}
    )
    default_language: Language | None = Field(
        default=None,
        description="The language of its pages and invitations for persons who chose none.",
    )
    timezone: str | None = Field(default=None, max_length=64)


class OfficeLinkInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    office_id: int | None = Field(
        ge=1, le=2**31 - 1, description="The accounting office's id; null unlinks it."
    )
