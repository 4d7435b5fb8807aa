"""The companies API for business software (PRV-2), under /api/v1/companies: a machine client's
bearer token with the ``companies:write`` scope (PRV-1); no cookie session, no CSRF token, no
step-up. Rules live in ``companies.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, Field

from portti.companies.deps import Members
from portti.companies.models import Company
from portti.companies.principal import COMPANIES_WRITE, MachinePrincipal
from portti.companies.schemas import AddUserInput, IdentificationMethod
from portti.invitations.deps import Invitations
from portti.machines.deps import machine_principal
from portti.provisioning.companies import ProvisioningService
from portti.provisioning.schemas import CompanyChangeInput, CompanyInput, OfficeLinkInput
from portti.web.deps import Audit, ClockDep, DbSession, Id, Uow

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid access token of a machine client"},
    403: {"description": "insufficient_scope, company_not_allowed or may_not_create_companies"},
    409: {
        "description": "external_id_conflict, business_id_taken, company_closed or "
        "first_admin_exists"
    },
    422: {"description": "Validation failed"},
}

router = APIRouter(prefix="/api/v1/companies", tags=["companies-provisioning"], responses=ERRORS)

Machine = Annotated[MachinePrincipal, Depends(machine_principal(COMPANIES_WRITE))]


async def get_provisioning(
    db: DbSession, clock: ClockDep, audit: Audit, members: Members, invitations: Invitations
) -> ProvisioningService:
    return ProvisioningService(db, clock, audit, members, invitations)


Provisioning = Annotated[ProvisioningService, Depends(get_provisioning)]


class ProvisionedCompanyOut(BaseModel):
    id: int
    external_id: str | None
    name: str
    business_id: str | None
    kind: str
    default_language: str
    timezone: str
    accounting_office_id: int | None
    closed_at: datetime | None

    @classmethod
    def of(cls, c: Company) -> ProvisionedCompanyOut:
        return cls.model_validate(c, from_attributes=True)


class FirstAdminInput(AddUserInput):
    """The add-user wizard's fields; the roles are the user administrator's, whatever is sent."""

    roles: list[str] = Field(default_factory=list, max_length=0)
    profiles: list[int] = Field(default_factory=list, max_length=0)


class FirstAdminOut(BaseModel):
    membership_id: int
    portti_id: str
    given_name: str
    family_name: str
    login: str = Field(
        description="bank_id: they log in with Finnish bank ID at once; invitation: an "
        "invitation went to their e-mail and phone, in the company's language."
    )
    invitation_expires_at: datetime | None = None


@router.post(
    "",
    operation_id="create_company",
    response_model=ProvisionedCompanyOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "Created before by the same request (same external_id)"}},
)
def create_company(
    data: CompanyInput, response: Response, machine: Machine, provisioning: Provisioning
) -> ProvisionedCompanyOut:
    """Creates a company; needs a machine client registered for every company."""
    result = provisioning.create(machine, data)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return ProvisionedCompanyOut.of(result.company)


@router.get("/{company_id}", operation_id="get_company", response_model=ProvisionedCompanyOut)
def get_company(
    company_id: Id, machine: Machine, provisioning: Provisioning
) -> ProvisionedCompanyOut:
    """A company within the client's reach (``companies:write``), a closed one too: then
    ``closed_at`` is set."""
    return ProvisionedCompanyOut.of(provisioning.get(machine, company_id))


@router.patch("/{company_id}", operation_id="rename_company", response_model=ProvisionedCompanyOut)
def rename_company(
    company_id: Id, data: CompanyChangeInput, machine: Machine, provisioning: Provisioning
) -> ProvisionedCompanyOut:
    """Renames the company, or sets its default language (``fi``, ``sv``, ``en``) or time
    zone; the fields left out keep their values."""
    return ProvisionedCompanyOut.of(provisioning.change(machine, company_id, data))


@router.post(
    "/{company_id}/close", operation_id="close_company", response_model=ProvisionedCompanyOut
)
def close_company(
    company_id: Id, machine: Machine, provisioning: Provisioning
) -> ProvisionedCompanyOut:
    """Ends every membership (and the business applications' logins resting on them, by
    back-channel logout) and every open invitation. Closing again changes nothing."""
    return ProvisionedCompanyOut.of(provisioning.close(machine, company_id))


@router.put(
    "/{company_id}/accounting-office",
    operation_id="link_accounting_office",
    response_model=ProvisionedCompanyOut,
)
def link_accounting_office(
    company_id: Id, data: OfficeLinkInput, machine: Machine, provisioning: Provisioning
) -> ProvisionedCompanyOut:
    """The accounting office whose main users (TPK) administer this client company."""
    return ProvisionedCompanyOut.of(provisioning.link_office(machine, company_id, data.office_id))


@router.post(
    "/{company_id}/first-admin",
    operation_id="name_first_admin",
    response_model=FirstAdminOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "This person was named before: nothing changed"}},
)
def name_first_admin(
    company_id: Id,
    data: FirstAdminInput,
    request: Request,
    response: Response,
    machine: Machine,
    provisioning: Provisioning,
    uow: Uow,
) -> FirstAdminOut:
    """The company's first user administrator (KH): by a Finnish personal identity code
    (they log in with bank ID), or by a foreign identifier and its issuing country with e-mail
    and phone (an invitation to the Portti app goes out in the company's language)."""
    named = provisioning.name_and_invite_first_admin(machine, company_id, data)
    m = named.membership
    if not named.created:
        response.status_code = status.HTTP_200_OK
    return FirstAdminOut(
        membership_id=m.id,
        portti_id=m.person.portti_id,
        given_name=m.person.given_name,
        family_name=m.person.family_name,
        login="bank_id" if data.method is IdentificationMethod.FI_HETU else "invitation",
        invitation_expires_at=named.invitation_expires_at,
    )
