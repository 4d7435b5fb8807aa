"""What a client learns about a person: subject, name, e-mail, companies and roles valid now."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.companies.models import Company, Membership, Profile
from portti.companies.policy import local_today
from portti.infra.crypto import derive_key
from portti.oidc_provider.models import OidcClient, SubjectType
from portti.people.models import Person

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


def subject_for(client: OidcClient, person: Person, secret: bytes) -> str:
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
class CompanyGrant:
    company: Company
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


def companies_for(
    db: Session, client: OidcClient, person_id: int, now: datetime
) -> list[CompanyGrant]:
    """The person's memberships valid now in the companies that may use this client."""
    q = select(Membership).where(Membership.person_id == person_id)
    if client.company_ids is not None:
        q = q.where(Membership.company_id.in_(client.company_ids))
    memberships = [m for m in db.scalars(q).all() if m.is_valid_on(local_today(m.company, now))]
    profile_ids = {pid for m in memberships for pid in m.profile_ids}
    names = (
        dict(
            db.execute(select(Profile.id, Profile.name).where(Profile.id.in_(profile_ids))).tuples()
        )
        if profile_ids
        else {}
    )
    grants = [
        CompanyGrant(
            company=m.company,
            roles=sorted(m.role_codes),
            profiles=sorted(names[p] for p in m.profile_ids if p in names),
        )
        for m in memberships
    ]
    return sorted(grants, key=lambda g: g.company.name)


def person_claims(
    person: Person,
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
