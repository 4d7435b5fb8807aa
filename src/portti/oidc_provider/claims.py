"""What a client learns about a person: subject, name, e-mail, companies and roles valid now."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from portti.companies.models import Company, Membership, MembershipProfile, MembershipRole, Profile
from portti.infra.crypto import derive_key
from portti.oidc_provider.models import OidcClient, OidcLogin, SubjectType
from portti.people.models import Person
from portti.weblogin.models import WebSession

# How the person logged in to Portti, as `acr` and `amr` (RFC 8176 values where one fits).
ACR_APP = "urn:portti:acr:app"
ACR_BANK_ID = "urn:portti:acr:bank_id"
ACR_ID_CARD = "urn:portti:acr:id_card"
ACR_OTHER = "urn:portti:acr:other"
ACR_VALUES = (ACR_APP, ACR_BANK_ID, ACR_ID_CARD)


def acr_amr(login_method: str) -> tuple[str, list[str]]:
    if login_method in ("app_qr", "app"):
        # The device key ("something you have") and the PIN or biometrics, checked by Portti.
        return ACR_APP, ["swk", "pin", "mfa"]
    if login_method == "oidc:fi_bank":
        return ACR_BANK_ID, ["ext", "mfa"]
    if login_method in ("oidc:ee_id", "oidc:no_id", "oidc:se_id"):
        return ACR_ID_CARD, ["hwk", "pin", "mfa"]
    return ACR_OTHER, ["ext"]


def subject_for(client: OidcClient, person: Person | PersonRef, secret: bytes) -> str:
    if client.subject_type == SubjectType.PAIRWISE:
        # OIDC Core §8.1: the same person has one sub per sector (the redirect URIs' host).
        sector = urlsplit(client.redirect_uris[0]).hostname or client.client_id
        mac = hmac.new(
            derive_key(secret, "oidc-pairwise-subject"),
            f"{sector}|{person.portti_id}".encode(),
            hashlib.sha256,
        ).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    return person.portti_id


@dataclass(frozen=True)
class CompanyRef:
    id: int
    name: str
    business_id: str | None


@dataclass(frozen=True)
class PersonRef:
    """What claims are made of: read with one statement, not the ORM (every token needs it)."""

    id: int
    portti_id: str
    given_name: str
    family_name: str
    email: str | None


_PERSON = select(
    Person.id, Person.portti_id, Person.given_name, Person.family_name, Person.email
).where(Person.id == bindparam("person_id"))


def person_ref(db: Session, person_id: int) -> PersonRef | None:
    row = db.execute(_PERSON, {"person_id": person_id}).first()
    return PersonRef(*row) if row is not None else None


@dataclass(frozen=True)
class CompanyGrant:
    company: CompanyRef
    roles: list[str]
    profiles: list[str]

    def as_claim(self) -> dict[str, Any]:
        return {
            "id": self.company.id,
            "name": self.company.name,
            "business_id": self.company.business_id,
            "roles": self.roles,
            "profiles": self.profiles,
        }


# Three plain statements built once (the token endpoint runs them on every exchange): the
# memberships with their companies, then their roles, then their profiles' names.
_MEMBERSHIPS = (
    select(
        Membership.id,
        Membership.valid_from,
        Membership.valid_until,
        Company.id,
        Company.name,
        Company.business_id,
        Company.timezone,
    )
    .join(Company, Company.id == Membership.company_id)
    .where(Membership.person_id == bindparam("person_id"))
)
_ROLES = select(MembershipRole.membership_id, MembershipRole.role_code).where(
    MembershipRole.membership_id.in_(bindparam("ids", expanding=True))
)
_PROFILES = (
    select(MembershipProfile.membership_id, Profile.name)
    .join(Profile, Profile.id == MembershipProfile.profile_id)
    .where(MembershipProfile.membership_id.in_(bindparam("ids", expanding=True)))
)


_SCOPE_OF_LOGIN = (
    select(WebSession.company_scope)
    .join(OidcLogin, OidcLogin.web_session_id == WebSession.id)
    .where(OidcLogin.id == bindparam("id"))
)


def scope_of_login(db: Session, login_id: int) -> list[int] | None:
    """The companies the web login behind a client login may enter (SEC-14): an app login
    carries only its device's companies; None for a bank-ID or ID-card login."""
    scope: list[int] | None = db.scalar(_SCOPE_OF_LOGIN, {"id": login_id})
    return scope


def companies_for(
    db: Session,
    client: OidcClient,
    person_id: int,
    now: datetime,
    scope: list[int] | None = None,
) -> list[CompanyGrant]:
    """The person's memberships valid now in the companies that may use this client and that
    the login may enter (``scope``, SEC-14; None: every company)."""
    allowed = set(client.company_ids) if client.company_ids is not None else None
    if scope is not None:
        allowed = set(scope) if allowed is None else allowed & set(scope)
    valid: dict[int, CompanyRef] = {}
    for m_id, valid_from, valid_until, c_id, name, business_id, tz in db.execute(
        _MEMBERSHIPS, {"person_id": person_id}
    ):
        if allowed is not None and c_id not in allowed:
            continue
        # Whole days in the company's time zone, as everywhere else (companies/policy.py).
        today = now.astimezone(ZoneInfo(tz)).date()
        if (valid_from is not None and today < valid_from) or (
            valid_until is not None and today > valid_until
        ):
            continue
        valid[m_id] = CompanyRef(c_id, name, business_id)
    if not valid:
        return []
    ids = list(valid)
    roles: dict[int, list[str]] = {i: [] for i in ids}
    for m_id, code in db.execute(_ROLES, {"ids": ids}):
        roles[m_id].append(code)
    profiles: dict[int, list[str]] = {i: [] for i in ids}
    for m_id, pname in db.execute(_PROFILES, {"ids": ids}):
        profiles[m_id].append(pname)
    grants = [
        CompanyGrant(company=ref, roles=sorted(roles[i]), profiles=sorted(profiles[i]))
        for i, ref in valid.items()
    ]
    return sorted(grants, key=lambda g: g.company.name)


def person_claims(
    person: Person | PersonRef,
    scopes: set[str],
    grants: list[CompanyGrant],
    *,
    company_id: int | None,
    company_selection: bool,
) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    if "profile" in scopes:
        claims |= {
            "name": f"{person.given_name} {person.family_name}",
            "given_name": person.given_name,
            "family_name": person.family_name,
        }
    if "email" in scopes and person.email:
        # Administrators type the address in; Portti does not prove it belongs to the person.
        claims |= {"email": person.email, "email_verified": False}
    if "companies" in scopes:
        if company_selection:
            chosen = next((g for g in grants if g.company.id == company_id), None)
            if chosen is not None:
                claims["company"] = {
                    "id": chosen.company.id,
                    "name": chosen.company.name,
                    "business_id": chosen.company.business_id,
                }
                claims["roles"] = chosen.roles
                claims["profiles"] = chosen.profiles
        else:
            claims["companies"] = [g.as_claim() for g in grants]
    return claims
