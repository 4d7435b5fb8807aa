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

from sqlalchemy import bindparam, literal, select, union_all
from sqlalchemy.orm import Session

from portti.companies.catalogue import OFFICE_MAIN_USER
from portti.companies.models import Company, Membership, MembershipProfile, MembershipRole, Profile
from portti.infra.crypto import derive_key
from portti.oidc_provider.models import OidcClient, OidcLogin, SubjectType
from portti.people.models import Person
from portti.weblogin.models import WebSession

# How the person logged in to Portti, as `acr` and `amr`. The method (`urn:portti:acr:…`) and,
# for bank ID and ID cards, the level of assurance the identity provider reported (OIDC-5):
# FTN (Traficom) and eIDAS levels, passed on as their own URIs.
ACR_APP = "urn:portti:acr:app"
ACR_BANK_ID = "urn:portti:acr:bank_id"
ACR_ID_CARD = "urn:portti:acr:id_card"
ACR_OTHER = "urn:portti:acr:other"
ACR_FTN_LOA2 = "http://ftn.ficora.fi/2017/loa2"
ACR_FTN_LOA3 = "http://ftn.ficora.fi/2017/loa3"
ACR_EIDAS_SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
ACR_EIDAS_HIGH = "http://eidas.europa.eu/LoA/high"
ACR_METHODS = (ACR_APP, ACR_BANK_ID, ACR_ID_CARD)
ACR_LEVELS = (ACR_FTN_LOA2, ACR_FTN_LOA3, ACR_EIDAS_SUBSTANTIAL, ACR_EIDAS_HIGH)
ACR_VALUES = (*ACR_METHODS, *ACR_LEVELS)
# Levels compare across the two schemes: loa2 = substantial, loa3 = high.
_RANK = {ACR_FTN_LOA2: 2, ACR_EIDAS_SUBSTANTIAL: 2, ACR_FTN_LOA3: 3, ACR_EIDAS_HIGH: 3}
# What a provider may call the same levels.
_LEVEL_NAMES = {
    ACR_FTN_LOA2: ACR_FTN_LOA2,
    ACR_FTN_LOA3: ACR_FTN_LOA3,
    ACR_EIDAS_SUBSTANTIAL: ACR_EIDAS_SUBSTANTIAL,
    ACR_EIDAS_HIGH: ACR_EIDAS_HIGH,
    "substantial": ACR_EIDAS_SUBSTANTIAL,
    "high": ACR_EIDAS_HIGH,
}
# RFC 8176's registered values: a provider's own `amr` values outside it are not passed on.
RFC8176_AMR = frozenset(
    {
        "face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pop", "pwd",
        "rba", "retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Assurance:
    """How the person logged in: the method, the level (when a provider gave one), ``amr``."""

    method: str
    level: str | None
    amr: list[str]

    def satisfies(self, wanted: str) -> bool:
        """A method is met by that method; a level by that level or a higher one."""
        if wanted in (self.method, self.level):
            return True
        rank = _RANK.get(wanted)
        return rank is not None and self.level is not None and _RANK[self.level] >= rank

    def acr_for(self, requested: list[str]) -> str:
        """The ``acr`` to state: the first requested value this login meets (OIDC Core
        5.5.1.1), else the level when known, else the method."""
        for wanted in requested:
            if self.satisfies(wanted):
                return wanted
        return self.level or self.method


def assurance_of(
    login_method: str, provider_acr: str | None = None, provider_amr: list[str] | None = None
) -> Assurance:
    level = _LEVEL_NAMES.get(provider_acr or "")
    passed = [a for a in provider_amr or [] if a in RFC8176_AMR]
    if login_method in ("app_qr", "app"):
        # The device key ("something you have") and the PIN or biometrics, checked by Portti.
        return Assurance(ACR_APP, None, ["swk", "pin", "mfa"])
    if login_method.startswith("oidc:fi"):
        # Bank ID or mobile certificate: at least two factors (FTN substantial); the broker's
        # own RFC 8176 values when it sends them.
        return Assurance(ACR_BANK_ID, level, _with_mfa(passed))
    if login_method in ("oidc:ee_id", "oidc:no_id", "oidc:se_id"):
        return Assurance(ACR_ID_CARD, level, _with_mfa(passed or ["hwk", "pin"]))
    return Assurance(ACR_OTHER, level, passed or ["mfa"])


def _with_mfa(amr: list[str]) -> list[str]:
    out = list(dict.fromkeys(amr))
    if "mfa" not in out:
        out.append("mfa")
    return out


def acr_amr(login_method: str) -> tuple[str, list[str]]:
    """The method's ``acr`` and ``amr`` without a provider's level (kept for callers that
    know only the method)."""
    a = assurance_of(login_method)
    return a.method, a.amr


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
    # OIDC-6: the accounting office through which the person administers this client company
    # (as its TPK, the role ``office_main_user``); None for a membership of the company itself.
    via: CompanyRef | None = None

    def company_claim(self) -> dict[str, Any]:
        claim: dict[str, Any] = {
            "id": self.company.id,
            "name": self.company.name,
            "business_id": self.company.business_id,
        }
        if self.via is not None:
            claim["via"] = {
                "id": self.via.id,
                "name": self.via.name,
                "business_id": self.via.business_id,
                "role": OFFICE_MAIN_USER,
            }
        return claim

    def as_claim(self) -> dict[str, Any]:
        return {**self.company_claim(), "roles": self.roles, "profiles": self.profiles}


# Plain statements built once (the token endpoint runs them on every exchange): the
# memberships with their companies, then their roles and their profiles' names.
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
# OIDC-6: the client companies of the offices where the person is TPK.
_OFFICE_CLIENTS = select(
    Company.accounting_office_id, Company.id, Company.name, Company.business_id
).where(Company.accounting_office_id.in_(bindparam("offices", expanding=True)))
# The memberships' roles and their profiles' names in one statement: ("r", role code) and
# ("p", profile name) rows.
_ROLES_AND_PROFILES = union_all(
    select(MembershipRole.membership_id, literal("r"), MembershipRole.role_code).where(
        MembershipRole.membership_id.in_(bindparam("ids", expanding=True))
    ),
    select(MembershipProfile.membership_id, literal("p"), Profile.name)
    .join(Profile, Profile.id == MembershipProfile.profile_id)
    .where(MembershipProfile.membership_id.in_(bindparam("ids", expanding=True))),
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
    the login may enter (``scope``, SEC-14; None: every company), and the client companies they
    administer as TPK of an accounting office (OIDC-6): each such company with the role
    ``office_main_user`` and ``via`` naming the office."""
    allowed = set(client.company_ids) if client.company_ids is not None else None
    if scope is not None:
        allowed = set(scope) if allowed is None else allowed & set(scope)
    valid: dict[int, CompanyRef] = {}
    every: dict[int, CompanyRef] = {}  # also the offices the client is not used in
    for m_id, valid_from, valid_until, c_id, name, business_id, tz in db.execute(
        _MEMBERSHIPS, {"person_id": person_id}
    ):
        # Whole days in the company's time zone, as everywhere else (companies/policy.py).
        today = now.astimezone(ZoneInfo(tz)).date()
        if (valid_from is not None and today < valid_from) or (
            valid_until is not None and today > valid_until
        ):
            continue
        every[m_id] = CompanyRef(c_id, name, business_id)
        if allowed is None or c_id in allowed:
            valid[m_id] = every[m_id]
    if not every:
        return []
    ids = list(every)
    roles: dict[int, list[str]] = {i: [] for i in ids}
    profiles: dict[int, list[str]] = {i: [] for i in ids}
    for m_id, kind, name_or_code in db.execute(_ROLES_AND_PROFILES, {"ids": ids}):
        (roles if kind == "r" else profiles)[m_id].append(name_or_code)
    by_company: dict[int, CompanyGrant] = {
        ref.id: CompanyGrant(company=ref, roles=sorted(roles[i]), profiles=sorted(profiles[i]))
        for i, ref in valid.items()
    }
    offices = {every[i].id: every[i] for i in ids if OFFICE_MAIN_USER in roles[i]}
    if offices:
        for office_id, c_id, name, business_id in db.execute(
            _OFFICE_CLIENTS, {"offices": list(offices)}
        ):
            if office_id is None or (allowed is not None and c_id not in allowed):
                continue
            own = by_company.get(c_id)
            by_company[c_id] = CompanyGrant(
                company=CompanyRef(c_id, name, business_id),
                roles=sorted({*(own.roles if own else []), OFFICE_MAIN_USER}),
                profiles=own.profiles if own else [],
                via=offices[office_id],
            )
    return sorted(by_company.values(), key=lambda g: g.company.name)


def person_claims(
    person: Person | PersonRef,
    scopes: set[str],
    grants: list[CompanyGrant],
    *,
    company_id: int | None,
    company_selection: bool,
    one_company: bool = False,
) -> dict[str, Any]:
    """``company_selection``: the chosen company as ``company`` with ``roles`` and
    ``profiles``. Otherwise the list ``companies``; with ``one_company`` (a client open to
    every company, SEC-24) only the company chosen at login is in it."""
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
                claims["company"] = chosen.company_claim()
                claims["roles"] = chosen.roles
                claims["profiles"] = chosen.profiles
        elif one_company:
            claims["companies"] = [g.as_claim() for g in grants if g.company.id == company_id]
        else:
            claims["companies"] = [g.as_claim() for g in grants]
    return claims
