"""The authorization endpoint's rules (OIDC Core §3.1.2): the request checked, parked while
the person logs in or picks a company, the decision, and the code."""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, insert, select, update

from portti.audit.models import AuditAction
from portti.db.base import table_of
from portti.i18n import _l
from portti.oidc_provider.claims import Assurance, CompanyGrant, assurance_of, companies_for
from portti.oidc_provider.consent import ConsentService
from portti.oidc_provider.errors import AuthorizeError, RefusedForClient, UntrustedRedirect
from portti.oidc_provider.models import (
    AuthorizationCode,
    AuthorizationRequest,
    OidcClient,
    OidcLogin,
)
from portti.oidc_provider.provider import SCOPES, ProviderContext, redirect_with, sha256_hex
from portti.weblogin.models import LoginPurpose, LoginTransaction, WebSession

REQUEST_LIFETIME = timedelta(minutes=10)
PROMPTS = {"none", "login", "consent", "select_account"}
MAX_PARAM = 2000

_codes = table_of(AuthorizationCode)
_logins = table_of(OidcLogin)
# The authorization step's statements, built once likewise: the client's open login through
# the browser session, its update, and the code.
_OPEN_LOGIN = (
    select(_logins.c.id, _logins.c.company_id, _logins.c.acr, _logins.c.amr)
    .where(
        _logins.c.web_session_id == bindparam("ws"),
        _logins.c.client_id == bindparam("cid"),
        _logins.c.ended_at.is_(None),
    )
    .limit(1)
)
_UPDATE_LOGIN = (
    update(_logins)
    .where(_logins.c.id == bindparam("lid"))
    .values(company_id=bindparam("c"), acr=bindparam("a"), amr=bindparam("m"))
)
_INSERT_CODE = insert(_codes)


@dataclass(frozen=True)
class ValidatedRequest:
    client: OidcClient
    params: dict[str, str]

    @property
    def scopes(self) -> list[str]:
        return self.params["scope"].split()


@dataclass(frozen=True)
class NeedsLogin:
    login_after: datetime | None


@dataclass(frozen=True)
class NeedsCompany:
    choices: list[CompanyGrant]


@dataclass(frozen=True)
class NeedsConsent:
    """OIDC-4: the person is asked what the application may learn: ``grants`` are the
    companies and roles it would get (for the ``companies`` scope)."""

    grants: list[CompanyGrant]
    company_id: int | None


@dataclass(frozen=True)
class Redirect:
    url: str


Outcome = NeedsLogin | NeedsCompany | NeedsConsent | Redirect


def picks_one_company(client: OidcClient) -> bool:
    """Whether a login is for one company (SEC-24): with company selection, and for every
    client open to all companies (no company list), so that such a client never learns the
    person's roles in another tenant. A client registered for named companies gets them all."""
    return client.company_selection or client.company_ids is None


def session_assurance(ws: WebSession) -> Assurance:
    return assurance_of(ws.login_method, ws.login_acr, ws.login_amr)


def wanted_acr(params: dict[str, str]) -> tuple[list[str], bool]:
    """The ``acr`` values asked for, and whether as an essential claim: the ``claims``
    parameter's ``id_token.acr`` (OIDC Core 5.5.1.1) wins over ``acr_values``."""
    raw = params.get("claims")
    if raw:
        try:
            claims = json.loads(raw)
        except ValueError as exc:
            raise AuthorizeError("invalid_request", "The claims parameter is not JSON.") from exc
        if not isinstance(claims, dict):
            raise AuthorizeError("invalid_request", "The claims parameter is not an object.")
        acr = (
            (claims.get("id_token") or {}).get("acr")
            if isinstance(claims.get("id_token"), dict | None)
            else None
        )
        if acr is not None and not isinstance(acr, dict):
            raise AuthorizeError("invalid_request", "The acr claim request is not an object.")
        if acr:
            values = acr.get("values") or ([acr["value"]] if "value" in acr else [])
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise AuthorizeError("invalid_request", "The acr values are not strings.")
            if values:
                return values[:10], acr.get("essential") is True
    return params.get("acr_values", "").split()[:10], False


def _meets(assurance: Assurance, wanted: tuple[list[str], bool]) -> bool:
    values, _ = wanted
    return not values or any(assurance.satisfies(v) for v in values)


class Authorization:
    """The authorization request, from its parameters to a redirect with a code."""

    def __init__(self, ctx: ProviderContext) -> None:
        self.ctx = ctx
        self.db = ctx.db
        self.clock = ctx.clock
        self.audit = ctx.audit
        self.issuer = ctx.issuer

    # -- the authorization request --------------------------------------------------------------

    def validate(self, raw: dict[str, str]) -> ValidatedRequest:
        """OIDC Core §3.1.2.2. The client and redirect URI first: until both are known good,
        errors are shown as a page, never sent anywhere."""
        if any(len(v) > MAX_PARAM for v in raw.values()):
            raise UntrustedRedirect(_l("The request is too long."))
        client = self.ctx.client(raw.get("client_id"))
        if client is None or client.is_machine:
            # A machine client logs nobody in (PRV-1).
            raise UntrustedRedirect(_l("This application is not registered with Portti."))
        redirect_uri = raw.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            raise UntrustedRedirect(
                _l("This application asked to return to an address it has not registered.")
            )
        params = {k: v for k, v in raw.items() if v != ""}
        state = params.get("state")

        def fail(error: str, description: str) -> AuthorizeError:
            return AuthorizeError(error, description)

        if params.get("request") or params.get("request_uri"):
            raise fail("request_not_supported", "Request objects are not supported.")
        if params.get("response_type") != "code":
            raise fail("unsupported_response_type", "Only response_type=code is supported.")
        scopes = params.get("scope", "").split()
        if "openid" not in scopes:
            raise fail("invalid_scope", "The openid scope is required.")
        unknown = [s for s in scopes if s not in SCOPES or s not in client.allowed_scopes]
        if unknown:
            raise fail("invalid_scope", f"Scope not allowed for this client: {' '.join(unknown)}")
        method = params.get("code_challenge_method")
        challenge = params.get("code_challenge")
        if challenge is not None:
            if (method or "plain") != "S256":
                raise fail("invalid_request", "code_challenge_method must be S256.")
            if not 43 <= len(challenge) <= 128:
                raise fail("invalid_request", "code_challenge has the wrong length.")
        elif client.is_public:
            raise fail("invalid_request", "PKCE with S256 is required for this client.")
        elif method is not None:
            raise fail("invalid_request", "code_challenge_method without code_challenge.")
        prompts = set(params.get("prompt", "").split())
        if not prompts <= PROMPTS or ("none" in prompts and len(prompts) > 1):
            raise fail("invalid_request", "Unknown or contradictory prompt values.")
        if "max_age" in params and not (
            params["max_age"].isdigit() and len(params["max_age"]) < 10
        ):
            raise fail("invalid_request", "max_age must be a whole number of seconds.")
        if "claims" in params:
            wanted_acr(params)  # refused now, not after the login, when it cannot be read
        params["scope"] = " ".join(dict.fromkeys(scopes))
        if state is not None:
            params["state"] = state
        return ValidatedRequest(client, params)

    def error_redirect(self, req: ValidatedRequest, error: AuthorizeError) -> str:
        self.audit.record(
            AuditAction.OIDC_AUTHORIZATION_REFUSED,
            client=req.client.client_id,
            reason=error.error,
        )
        return self.error_url(req.params["redirect_uri"], req.params.get("state"), error)

    def error_url(self, redirect_uri: str, state: str | None, error: AuthorizeError) -> str:
        params = {"error": error.error, "error_description": error.description, "iss": self.issuer}
        if state is not None:
            params["state"] = state
        return redirect_with(redirect_uri, params)

    def park(self, req: ValidatedRequest, browser_id: str, login_after: datetime | None) -> str:
        """Keeps the request while the person logs in or picks a company; the browser gets a
        handle, bound to it."""
        now = self.clock.now()
        self.db.execute(
            delete(AuthorizationRequest).where(
                AuthorizationRequest.created_at < now - REQUEST_LIFETIME
            )
        )
        handle = secrets.token_urlsafe(24)
        self.db.add(
            AuthorizationRequest(
                id=sha256_hex(handle),
                client_id=req.client.client_id,
                params=req.params,
                browser_binding_hash=sha256_hex(browser_id),
                login_after=login_after,
                created_at=now,
            )
        )
        self.db.flush()
        return handle

    def parked(self, handle: str, browser_id: str) -> tuple[ValidatedRequest, datetime | None]:
        row = (
            self.db.get(AuthorizationRequest, sha256_hex(handle)) if 0 < len(handle) < 100 else None
        )
        if (
            row is None
            or self.clock.now() - row.created_at > REQUEST_LIFETIME
            or not hmac.compare_digest(row.browser_binding_hash, sha256_hex(browser_id))
        ):
            raise UntrustedRedirect(
                _l(
                    "This login took too long or was started in another browser. Go back to the "
                    "application and start again."
                )
            )
        # The client may have been changed or disabled meanwhile: validate again.
        req = self.validate(dict(row.params))
        return req, row.login_after

    def finish_parked(self, handle: str) -> None:
        self.db.execute(
            delete(AuthorizationRequest).where(AuthorizationRequest.id == sha256_hex(handle))
        )

    def decide(
        self,
        req: ValidatedRequest,
        ws: WebSession | None,
        *,
        login_after: datetime | None = None,
        company_id: int | None = None,
        consented: bool = False,
    ) -> Outcome:
        """What the request needs next: a login, a company choice, consent, or its code.
        ``consented``: the person has just allowed it on the consent page."""
        now = self.clock.now()
        params = req.params
        prompts = set(params.get("prompt", "").split())
        needs_fresh = False
        if ws is None:
            needs_fresh = True
        elif login_after is not None:
            needs_fresh = ws.created_at < login_after
        else:
            max_age = int(params["max_age"]) if "max_age" in params else None
            hint = params.get("login_hint", "").strip().casefold()
            needs_fresh = (
                "login" in prompts
                or "select_account" in prompts
                or (max_age is not None and now - ws.created_at > timedelta(seconds=max_age))
                or not _meets(session_assurance(ws), wanted_acr(params))
                or (
                    bool(hint)
                    and hint
                    not in {ws.person.portti_id.casefold(), (ws.person.email or "").casefold()}
                )
            )
        if needs_fresh:
            if "none" in prompts:
                raise AuthorizeError("login_required", "The person must log in at Portti.")
            # Whatever session comes back must be made after this moment.
            return NeedsLogin(login_after=now)
        assert ws is not None
        # SEC-22: a login that cannot give the requested acr (a bank-ID login when the client
        # asked for the app, or loa2 when it asked for loa3) is refused, not passed off as one.
        if not _meets(session_assurance(ws), wanted_acr(params)):
            values, essential = wanted_acr(params)
            self.audit.record(
                AuditAction.OIDC_AUTHORIZATION_REFUSED,
                actor_person_id=ws.person_id,
                subject_person_id=ws.person_id,
                client=req.client.client_id,
                reason="acr_not_met",
                requested=" ".join(values)[:200],
                essential=essential,
                acr=session_assurance(ws).level or session_assurance(ws).method,
            )
            raise AuthorizeError(
                "unmet_authentication_requirements",
                "The login does not meet the requested authentication context (acr).",
            )
        grants = companies_for(self.db, req.client, ws.person_id, now, ws.company_scope)
        if not grants:
            self.audit.record(
                AuditAction.OIDC_AUTHORIZATION_REFUSED,
                actor_person_id=ws.person_id,
                subject_person_id=ws.person_id,
                client=req.client.client_id,
                reason="no_membership",
            )
            if "none" in prompts:
                raise AuthorizeError("access_denied", "No user rights for this application.")
            raise RefusedForClient(
                _l(
                    "You have no valid user rights in a company that uses %(client)s. "
                    "Ask your company's user administrator.",
                    client=req.client.name,
                )
            )
        chosen: int | None = None
        if picks_one_company(req.client):
            if company_id is not None:
                if company_id not in {g.company.id for g in grants}:
                    raise RefusedForClient(_l("You have no valid user rights in this company."))
                chosen = company_id
            elif len(grants) == 1:
                chosen = grants[0].company.id
            else:
                if "none" in prompts:
                    raise AuthorizeError("interaction_required", "The person must pick a company.")
                return NeedsCompany(grants)
        consent = ConsentService(self.db, self.clock, self.audit)
        if consented:
            consent.grant(req.client, ws.person_id, req.scopes)
        elif consent.needed(req.client, ws.person_id, req.scopes, asked="consent" in prompts):
            if "none" in prompts:
                raise AuthorizeError("consent_required", "The person must allow this application.")
            shown = (
                [g for g in grants if chosen is None or g.company.id == chosen]
                if "companies" in req.scopes
                else []
            )
            return NeedsConsent(shown, chosen)
        return Redirect(self._issue_code(req, ws, chosen))

    def _login_for(
        self,
        client: OidcClient,
        ws: WebSession,
        company_id: int | None,
        requested_acr: list[str],
    ) -> tuple[int, str | None]:
        """The client's login through this browser session, (id, acr): the one already open,
        brought up to date, or a new one. Plain statements: every authorization runs them."""
        row = self.db.execute(_OPEN_LOGIN, {"ws": ws.id, "cid": client.client_id}).first()
        assurance = session_assurance(ws)
        acr, amr = assurance.acr_for(requested_acr), assurance.amr
        if row is not None:
            login_id, old_company, old_acr, old_amr = row
            if (old_company, old_acr, old_amr) != (company_id, acr, amr):
                self.db.execute(
                    _UPDATE_LOGIN,
                    {"lid": login_id, "c": company_id, "a": acr, "m": amr},
                )
            return login_id, acr
        device_id = self.db.scalars(
            select(LoginTransaction.device_id).where(
                LoginTransaction.web_session_id == ws.id,
                LoginTransaction.purpose == LoginPurpose.LOGIN.value,
            )
        ).first()
        login = OidcLogin(
            sid=secrets.token_urlsafe(24),
            client_id=client.client_id,
            person_id=ws.person_id,
            web_session_id=ws.id,
            device_id=device_id,
            company_id=company_id,
            auth_time=ws.created_at,
            acr=acr,
            amr=amr,
            created_at=self.clock.now(),
            logout_attempts=0,
        )
        self.db.add(login)
        self.db.flush()
        return login.id, acr

    def _issue_code(self, req: ValidatedRequest, ws: WebSession, company_id: int | None) -> str:
        now = self.clock.now()
        p = req.params
        login_id, acr = self._login_for(req.client, ws, company_id, wanted_acr(p)[0])
        code = secrets.token_urlsafe(32)
        challenge = p.get("code_challenge")
        self.db.execute(
            _INSERT_CODE,
            {
                "code_hash": sha256_hex(code),
                "client_id": req.client.client_id,
                "login_id": login_id,
                "redirect_uri": p["redirect_uri"],
                "scope": p["scope"],
                "nonce": p.get("nonce"),
                "code_challenge": challenge,
                "code_challenge_method": "S256" if challenge else None,
                "created_at": now,
                "expires_at": now + self.ctx.code_lifetime,
                "used_at": None,
            },
        )
        self.audit.record(
            AuditAction.OIDC_AUTHORIZED,
            company_id=company_id,
            actor_person_id=ws.person_id,
            subject_person_id=ws.person_id,
            client=req.client.client_id,
            scope=p["scope"],
            acr=acr,
        )
        out = {"code": code, "iss": self.issuer}
        if "state" in p:
            out["state"] = p["state"]
        return redirect_with(p["redirect_uri"], out)
