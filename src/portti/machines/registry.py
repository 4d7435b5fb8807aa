"""Support registers machine clients (PRV-1), as it registers the applications that log people
in (``oidc_provider/clients.py``, whose rules for Support, step-up, secrets and keys this
reuses): no redirect URIs, the client credentials grant only, machine scopes, and either a list
of companies or every company (and then it may create companies)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from portti.audit.models import AuditAction
from portti.companies.models import Company, CompanyKind
from portti.errors import ValidationFailed
from portti.i18n import _l
from portti.oidc_provider.client_settings import ClientInput
from portti.oidc_provider.clients import ClientService
from portti.oidc_provider.models import ClientKind, OidcClient

MachineScope = Literal["companies:write", "members:read", "members:write", "scim"]
# Row ids are INTEGER columns (PostgreSQL's int4): larger numbers are refused here (SEC-10).
MAX_ID = 2**31 - 1
CompanyList = Annotated[
    list[Annotated[int, Field(ge=1, le=MAX_ID)]], Field(min_length=1, max_length=1000)
]


def _companies_required(schema: dict[str, Any]) -> None:
    # `companies` has a default only so that leaving it out reaches its validator's readable
    # sentence; the API requires it, and its schema says so (SEC-20).
    required = schema.setdefault("required", [])
    if "companies" not in required:
        required.append("companies")


class MachineClientInput(BaseModel):
    """A machine client's registration, as Support enters it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_companies_required)

    name: str = Field(min_length=1, max_length=200, json_schema_extra={"pattern": r"\S"})
    auth_method: Literal["client_secret_basic", "private_key_jwt"] = "client_secret_basic"
    scopes: list[MachineScope] = Field(min_length=1, max_length=4)
    # The companies it may act on (ids), or "all": every company, and it may create companies.
    companies: CompanyList | Literal["all"] = Field(default=None, validate_default=True)
    jwks: dict[str, Any] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return " ".join(value.split())

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("companies", mode="before")
    @classmethod
    def _companies(cls, value: Any) -> Any:
        # One readable sentence instead of the two branches of the union (SEC-20).
        if value == "all":
            return value
        if (
            isinstance(value, list)
            and 1 <= len(value) <= 1000
            and all(
                isinstance(v, int | float)
                and not isinstance(v, bool)
                and v == int(v)
                and 1 <= v <= MAX_ID
                for v in value
            )
        ):
            return [int(v) for v in value]  # JSON's 3.0 is the integer 3
        raise ValueError(
            'Give the companies it may act on: a list of company ids, or "all" for every '
            "company (and then it may create companies)."
        )

    @field_validator("jwks")
    @classmethod
    def _jwks(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return ClientInput._jwks(value)

    @property
    def company_ids(self) -> list[int] | None:
        """None: every company."""
        return None if self.companies == "all" else sorted(set(self.companies))


class MachineClientView(BaseModel):
    client_id: str
    name: str
    kind: str
    auth_method: str
    scopes: list[str]
    company_ids: list[int] | None = Field(description="None: every company.")
    may_create_companies: bool
    jwks: dict[str, Any] | None
    disabled: bool

    @classmethod
    def of(cls, c: OidcClient) -> MachineClientView:
        return cls(
            client_id=c.client_id,
            name=c.name,
            kind=c.kind,
            auth_method=c.auth_method,
            scopes=c.allowed_scopes,
            company_ids=c.company_ids,
            may_create_companies=c.company_ids is None,
            jwks=c.jwks,
            disabled=c.disabled_at is not None,
        )


class RegisteredMachineClient(MachineClientView):
    """Returned once, at registration or secret rotation: the secret is never shown again."""

    client_secret: str | None = None


class MachineClientService:
    """Composed with ``ClientService``: the same Support check, step-up, secret hashing, key
    sets, disabling and secret rotation."""

    def __init__(self, clients: ClientService) -> None:
        self.clients = clients
        self.db = clients.db

    def list(self, person_id: int) -> Sequence[OidcClient]:
        return self.clients.list(person_id, kind=ClientKind.MACHINE)

    def get(self, person_id: int, client_id: str) -> OidcClient:
        return self.clients.get(person_id, client_id, kind=ClientKind.MACHINE)

    def _check(self, data: MachineClientInput) -> None:
        if data.auth_method == "private_key_jwt" and not data.jwks:
            raise ValidationFailed({"jwks": _l("Give the application's public keys (a JWK set).")})
        if data.company_ids is not None:
            found = {
                cid: kind
                for cid, kind in self.db.execute(
                    select(Company.id, Company.kind).where(Company.id.in_(data.company_ids))
                )
            }
            missing = sorted(set(data.company_ids) - set(found))
            if missing:
                raise ValidationFailed(
                    {"companies": _l("No such companies: %(ids)s", ids=str(missing))}
                )
            if CompanyKind.OPERATOR in found.values():
                raise ValidationFailed(
                    {"companies": _l("Business software may not act on the operator company.")}
                )

    def register(
        self, data: MachineClientInput, *, actor_person_id: int | None, strong_auth_at: Any = None
    ) -> RegisteredMachineClient:
        self.clients.require_support(actor_person_id, strong_auth_at)
        self._check(data)
        now = self.clients.clock.now()
        secret = secrets.token_urlsafe(32) if data.auth_method == "client_secret_basic" else None
        client = OidcClient(
            client_id="portti-m-" + secrets.token_hex(8),
            name=data.name,
            kind=ClientKind.MACHINE.value,
            auth_method=data.auth_method,
            secret_hash=self.clients.hasher.hash(secret) if secret else None,
            jwks=data.jwks,
            redirect_uris=[],
            post_logout_redirect_uris=[],
            allowed_scopes=list(data.scopes),
            company_ids=data.company_ids,
            web_origins=[],
            created_at=now,
            updated_at=now,
            created_by_person_id=actor_person_id,
        )
        self.db.add(client)
        self.db.flush()
        self.clients.audit.record(
            AuditAction.OIDC_CLIENT_REGISTERED,
            actor_person_id=actor_person_id,
            client=client.client_id,
            name=client.name,
            kind=client.kind,
            scope=" ".join(client.allowed_scopes),
            companies="all" if client.company_ids is None else client.company_ids,
        )
        return RegisteredMachineClient(
            **MachineClientView.of(client).model_dump(), client_secret=secret
        )

    def rotate_secret(
        self, client_id: str, *, actor_person_id: int, strong_auth_at: Any
    ) -> RegisteredMachineClient:
        self.get(actor_person_id, client_id)
        out = self.clients.rotate_secret(
            client_id, actor_person_id=actor_person_id, strong_auth_at=strong_auth_at
        )
        client = self.get(actor_person_id, client_id)
        return RegisteredMachineClient(
            **MachineClientView.of(client).model_dump(), client_secret=out.client_secret
        )

    def disable(self, client_id: str, *, actor_person_id: int, strong_auth_at: Any) -> None:
        """Its tokens stop working at once: every use reads the client (``tokens.py``)."""
        self.get(actor_person_id, client_id)
        self.clients.disable(
            client_id, actor_person_id=actor_person_id, strong_auth_at=strong_auth_at
        )
