"""The OpenID Provider's rules: authorization requests, codes, tokens, UserInfo and logout.

Handlers in ``views.py`` parse HTTP and call one method here. Tokens are JWTs made and checked
with joserfc (explicit algorithm allow-list); codes and refresh tokens are random and stored
only as hashes; every single-use thing is claimed with a compare-and-set ``UPDATE``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import and_, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.db.base import table_of
from portti.errors import DomainError
from portti.i18n import _l
from portti.infra import metrics
from portti.infra.clock import Clock
from portti.oidc_provider.claims import (
    Assurance,
    CompanyGrant,
    assurance_of,
    companies_for,
    person_claims,
    person_ref,
    scope_of_login,
    subject_for,
)
from portti.oidc_provider.consent import ConsentService
from portti.oidc_provider.errors import AuthorizeError, BearerError, TokenError, UntrustedRedirect
from portti.oidc_provider.keys import (
    ACCESS_TOKEN_ALGORITHM,
    SigningKeys,
    registry_for,
    sign_compact,
)
from portti.oidc_provider.logins import end_client_logins
from portti.oidc_provider.models import (
    AuthorizationCode,
    AuthorizationRequest,
    OidcClient,
    OidcLogin,
    RefreshToken,
)
from portti.oidc_provider.session_bound import OFFLINE_ACCESS, SESSION_ENDED, session_alive
from portti.weblogin.models import LoginPurpose, LoginTransaction, WebSession

CODE_LIFETIME = timedelta(seconds=60)  # the default of settings.oidc_code_lifetime_seconds
REQUEST_LIFETIME = timedelta(minutes=10)
ACCESS_TOKEN_LIFETIME = timedelta(minutes=10)
ID_TOKEN_LIFETIME = timedelta(minutes=10)
REFRESH_TOKEN_LIFETIME = timedelta(days=30)
SCOPES = ("openid", "profile", "email", "companies", OFFLINE_ACCESS)
DEFAULT_SESSION_IDLE = timedelta(minutes=30)  # the default of settings.session_idle_minutes
PROMPTS = {"none", "login", "consent", "select_account"}
MAX_PARAM = 2000
# The token endpoint's statements, built once: every exchange runs them, and building and
# caching an ORM statement per request cost more than running it (benchmarks/oidc_token_cpu.py).
_INSERT_REFRESH = insert(table_of(RefreshToken))
_CLIENT = select(OidcClient).where(OidcClient.client_id == bindparam("client_id"))
_codes = table_of(AuthorizationCode)
_CLAIM_CODE = (
    update(_codes)
    .where(
        and_(
            _codes.c.code_hash == bindparam("h"),
            _codes.c.client_id == bindparam("cid"),
            _codes.c.used_at.is_(None),
        )
    )
    .values(used_at=bindparam("now"))
    .returning(
        _codes.c.login_id,
        _codes.c.redirect_uri,
        _codes.c.scope,
        _codes.c.nonce,
        _codes.c.code_challenge,
        _codes.c.expires_at,
    )
)
_CODE_STATE = select(_codes.c.client_id, _codes.c.login_id).where(
    _codes.c.code_hash == bindparam("h")
)
_logins = table_of(OidcLogin)
_LOGIN = select(
    _logins.c.id,
    _logins.c.sid,
    _logins.c.person_id,
    _logins.c.company_id,
    _logins.c.auth_time,
    _logins.c.acr,
    _logins.c.amr,
    _logins.c.ended_at,
).where(_logins.c.id == bindparam("id"))
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
class LoginRef:
    """What tokens are made of: a client login read with one plain statement."""

    id: int
    sid: str
    person_id: int
    company_id: int | None
    auth_time: datetime
    acr: str
    amr: list[str]
    ended_at: datetime | None


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest())
        .rstrip(b"=")
        .decode()
    )


class RefusedForClient(DomainError):
    """The person has no valid user rights in any company that uses this client."""

    keeps_writes = True

    status = 403
    code = "no_membership_for_client"
    title = _l("No user rights for this service")


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


@dataclass
class TokenResponse:
    body: dict[str, Any] = field(default_factory=dict)


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


def redirect_with(uri: str, params: dict[str, str]) -> str:
    sep = "&" if urlsplit(uri).query else "?"
    return uri + sep + urlencode(params)


class ProviderService:
    def __init__(
        self,
        db: Session,
        clock: Clock,
        audit: AuditLog,
        *,
        issuer: str,
        keys: SigningKeys,
        secret: bytes,
        code_lifetime: timedelta = CODE_LIFETIME,
        session_idle: timedelta = DEFAULT_SESSION_IDLE,
    ) -> None:
        self.code_lifetime = code_lifetime
        self.idle = session_idle
        self.db = db
        self.clock = clock
        self.audit = audit
        self.issuer = issuer
        self.keys = keys
        self.secret = secret

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/oidc/token"

    # -- clients --------------------------------------------------------------------------------

    def client(self, client_id: str | None) -> OidcClient | None:
        if not client_id or len(client_id) > 64:
            return None
        client = self.db.scalars(_CLIENT, {"client_id": client_id}).one_or_none()
        if client is None or client.disabled_at is not None:
            return None
        return client

    # -- the authorization request --------------------------------------------------------------

    def validate(self, raw: dict[str, str]) -> ValidatedRequest:
        """OIDC Core §3.1.2.2. The client and redirect URI first: until both are known good,
        errors are shown as a page, never sent anywhere."""
        if any(len(v) > MAX_PARAM for v in raw.values()):
            raise UntrustedRedirect(_l("The request is too long."))
        client = self.client(raw.get("client_id"))
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
        return self._error_url(req.params["redirect_uri"], req.params.get("state"), error)

    def _error_url(self, redirect_uri: str, state: str | None, error: AuthorizeError) -> str:
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
                "expires_at": now + self.code_lifetime,
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

    # -- the token endpoint --------------------------------------------------------------------

    def warm_keys(self, client: OidcClient | None) -> None:
        """Fetches the signing keys before the request writes anything: the key store makes
        (or rotates) a key in a transaction of its own, which on SQLite must not wait behind
        this request's write lock."""
        self.keys.active_signing_key(ACCESS_TOKEN_ALGORITHM)
        if client is not None:
            self.keys.active_signing_key(client.id_token_signed_response_alg)

    def exchange_code(
        self, client: OidcClient, *, code: str, redirect_uri: str, code_verifier: str | None
    ) -> dict[str, Any]:
        now = self.clock.now()
        code_hash = sha256_hex(code) if 0 < len(code) < 200 else ""
        # Claimed only by the client it was issued to: another client presenting it (a code
        # leaked to it) neither uses it up nor revokes anything.
        claimed = self.db.execute(
            _CLAIM_CODE, {"h": code_hash, "cid": client.client_id, "now": now}
        ).first()
        if claimed is None:
            known = self.db.execute(_CODE_STATE, {"h": code_hash}).first() if code_hash else None
            if known is None:
                self._refused(client, "unknown_code")
                raise TokenError("invalid_grant", "The code is not valid.")
            if known.client_id != client.client_id:
                self._refused(client, "foreign_code")
                raise TokenError("invalid_grant", "The code was issued to another client.")
            # RFC 6749 §4.1.2: a code used twice was stolen or replayed; what was issued for
            # it is revoked: its refresh tokens (and their rotations: one family), and the
            # login its access tokens name, which ends them at UserInfo and tells the client
            # by back-channel logout.
            self.db.execute(
                update(RefreshToken)
                .where(RefreshToken.family == code_hash, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            issued = self.db.scalars(
                select(RefreshToken.login_id).where(RefreshToken.family == code_hash).limit(1)
            ).first()
            if issued is not None:
                end_client_logins(self.db, now, reason="code_replayed", login_ids=[issued])
            self._refused(client, "code_replayed")
            raise TokenError("invalid_grant", "The code has already been used.")
        login_id, c_redirect, scope, nonce, challenge, expires_at = claimed
        if now >= expires_at:
            self._refused(client, "code_expired")
            raise TokenError("invalid_grant", "The code has expired.")
        if redirect_uri != c_redirect:
            self._refused(client, "redirect_uri_mismatch")
            raise TokenError(
                "invalid_grant", "redirect_uri differs from the authorization request."
            )
        if challenge is not None:
            if not code_verifier or not hmac.compare_digest(s256(code_verifier), challenge):
                self._refused(client, "pkce_mismatch")
                raise TokenError("invalid_grant", "The code_verifier does not match.")
        elif code_verifier:
            self._refused(client, "pkce_unexpected")
            raise TokenError("invalid_grant", "No code_challenge was sent for this code.")
        login = self._login_ref(login_id)
        if login is None or login.ended_at is not None:
            self._refused(client, "login_ended")
            raise TokenError("invalid_grant", "The login has ended.")
        return self._tokens(
            client, login, scope, nonce=nonce, family=code_hash, grant="authorization_code"
        )

    def _login_ref(self, login_id: int) -> LoginRef | None:
        row = self.db.execute(_LOGIN, {"id": login_id}).first()
        return LoginRef(*row) if row is not None else None

    def refresh(
        self, client: OidcClient, *, refresh_token: str, scope: str | None
    ) -> dict[str, Any]:
        now = self.clock.now()
        token_hash = sha256_hex(refresh_token) if 0 < len(refresh_token) < 200 else ""
        row = self.db.get(RefreshToken, token_hash) if token_hash else None
        if row is None or row.client_id != client.client_id:
            self._refused(client, "unknown_refresh_token")
            raise TokenError("invalid_grant", "The refresh token is not valid.")
        # The request is checked before the token is spent (SEC-17): a refused request leaves
        # the token usable, and a later good request with it is not taken for a reuse. A token
        # already spent goes on to the reuse check whatever was asked.
        granted = row.scope.split()
        unspent = row.used_at is None and row.revoked_at is None
        if unspent and scope is not None and not set(scope.split()) <= set(granted):
            self._refused(client, "scope_widened")
            raise TokenError("invalid_scope", "A refresh cannot widen the scope.")
        claimed = self.db.execute(
            update(RefreshToken)
            .where(
                RefreshToken.token_hash == token_hash,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked_at.is_(None),
            )
            .values(used_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if not claimed:
            if row.revoked_at is None:
                # Reuse of a rotated token: someone holds a copy. The family ends (RFC 9700 §4.14.2).
                self.db.execute(
                    update(RefreshToken)
                    .where(RefreshToken.family == row.family, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
                # Its access tokens end too, as on a code replay (SEC-27): the login they name
                # ends, which stops them at UserInfo and tells the client by back-channel logout.
                end_client_logins(
                    self.db, now, reason="refresh_token_reused", login_ids=[row.login_id]
                )
                self._refused(client, "refresh_token_reused")
            raise TokenError("invalid_grant", "The refresh token has already been used.")
        if now >= row.expires_at:
            self._refused(client, "refresh_token_expired")
            raise TokenError("invalid_grant", "The refresh token has expired.")
        login = self._login_ref(row.login_id)
        if login is None or login.ended_at is not None:
            self._refused(client, "login_ended")
            raise TokenError("invalid_grant", "The login has ended.")
        if OFFLINE_ACCESS not in granted and not session_alive(self.db, login.id, now, self.idle):
            # Without offline_access a refresh lives only as long as the Portti session (SEC-15);
            # the login ends now rather than at the next sweep (back-channel logout).
            end_client_logins(self.db, now, reason=SESSION_ENDED, login_ids=[login.id])
            self._refused(client, "session_ended")
            raise TokenError("invalid_grant", "The login session has ended.")
        if not companies_for(
            self.db, client, login.person_id, now, scope_of_login(self.db, login.id)
        ):
            self._refused(client, "no_membership")
            raise TokenError("invalid_grant", "The person no longer has user rights here.")
        return self._tokens(
            client, login, scope or row.scope, nonce=None, family=row.family, grant="refresh_token"
        )

    def _refused(self, client: OidcClient, reason: str) -> None:
        self.audit.record(AuditAction.OIDC_TOKEN_REFUSED, client=client.client_id, reason=reason)

    def _sign(
        self,
        client: OidcClient,
        claims: dict[str, Any],
        typ: str | None = None,
        alg: str | None = None,
    ) -> str:
        alg = alg or client.id_token_signed_response_alg
        return sign_compact(self.keys.active_signing_key(alg), alg, claims, typ=typ)

    def _tokens(
        self,
        client: OidcClient,
        login: LoginRef,
        scope: str,
        *,
        nonce: str | None,
        family: str,
        grant: str,
    ) -> dict[str, Any]:
        now = self.clock.now()
        person = person_ref(self.db, login.person_id)
        assert person is not None
        scopes = set(scope.split())
        sub = subject_for(client, person, self.secret)
        iat = int(now.timestamp())
        access_token = self._sign(
            client,
            {
                "iss": self.issuer,
                "sub": sub,
                "aud": self.issuer,
                "client_id": client.client_id,
                "scope": scope,
                "sid": login.sid,
                "iat": iat,
                "exp": iat + int(ACCESS_TOKEN_LIFETIME.total_seconds()),
                "jti": secrets.token_urlsafe(16),
            },
            typ="at+jwt",
            alg=ACCESS_TOKEN_ALGORITHM,
        )
        grants = (
            companies_for(self.db, client, login.person_id, now, scope_of_login(self.db, login.id))
            if "companies" in scopes
            else []
        )
        id_claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": client.client_id,
            "azp": client.client_id,
            "iat": iat,
            "exp": iat + int(ID_TOKEN_LIFETIME.total_seconds()),
            "auth_time": int(login.auth_time.timestamp()),
            "acr": login.acr,
            "amr": login.amr,
            "sid": login.sid,
            **person_claims(
                person,
                scopes,
                grants,
                company_id=login.company_id,
                company_selection=client.company_selection,
                one_company=client.company_ids is None,
            ),
        }
        if nonce is not None:
            id_claims["nonce"] = nonce
        refresh_token = secrets.token_urlsafe(32)
        # A plain INSERT (no unit of work): every exchange and refresh writes one.
        self.db.execute(
            _INSERT_REFRESH,
            {
                "token_hash": sha256_hex(refresh_token),
                "family": family,
                "client_id": client.client_id,
                "login_id": login.id,
                "scope": scope,
                "created_at": now,
                "expires_at": now + REFRESH_TOKEN_LIFETIME,
            },
        )
        self.audit.record(
            AuditAction.OIDC_TOKENS_ISSUED,
            company_id=login.company_id,
            subject_person_id=login.person_id,
            client=client.client_id,
            grant=grant,
        )
        metrics.OIDC_TOKENS.labels(grant).inc()
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
            "id_token": self._sign(client, id_claims),
            "refresh_token": refresh_token,
            "scope": scope,
        }

    # -- UserInfo ------------------------------------------------------------------------------

    def userinfo(self, access_token: str) -> dict[str, Any]:
        return self.userinfo_and_client(access_token)[0]

    def userinfo_and_client(self, access_token: str) -> tuple[dict[str, Any], OidcClient]:
        """The UserInfo claims, and the client the access token was issued to (its web origins
        may read them)."""
        try:
            token = jwt.decode(
                access_token,
                self.keys.verification_keys(),
                registry=registry_for(self.keys.algorithms),
            )
            if token.header.get("typ") != "at+jwt":
                raise BearerError("invalid_token", "Not an access token.")
            jwt.JWTClaimsRegistry(
                now=int(self.clock.now().timestamp()),
                leeway=0,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.issuer},
                exp={"essential": True},
                sid={"essential": True},
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise BearerError("invalid_token", "The access token is not valid.") from exc
        claims = token.claims
        login = self.db.scalars(
            select(OidcLogin).where(OidcLogin.sid == claims["sid"])
        ).one_or_none()
        if login is None or login.ended_at is not None:
            raise BearerError("invalid_token", "The login has ended.")
        client = self.client(claims.get("client_id"))
        person = person_ref(self.db, login.person_id)
        if client is None or person is None or client.client_id != login.client_id:
            raise BearerError("invalid_token", "The access token is not valid.")
        scopes = set(str(claims.get("scope", "")).split())
        now = self.clock.now()
        if OFFLINE_ACCESS not in scopes and not session_alive(self.db, login.id, now, self.idle):
            # SEC-15: the Portti session is over; the back-channel worker's sweep ends the login.
            raise BearerError("invalid_token", "The login session has ended.")
        grants = (
            companies_for(self.db, client, login.person_id, now, scope_of_login(self.db, login.id))
            if "companies" in scopes
            else []
        )
        claims = {
            "sub": subject_for(client, person, self.secret),
            **person_claims(
                person,
                scopes,
                grants,
                company_id=login.company_id,
                company_selection=client.company_selection,
                one_company=client.company_ids is None,
            ),
        }
        return claims, client

    # -- RP-initiated logout -------------------------------------------------------------------

    def id_token_hint(self, hint: str) -> dict[str, Any] | None:
        """The claims of an ID token we issued (it may have expired: OIDC RP-Initiated
        Logout §2), or None."""
        try:
            token = jwt.decode(
                hint, self.keys.verification_keys(), registry=registry_for(self.keys.algorithms)
            )
        except (JoseError, ValueError):
            return None
        # SEC-25: an ID token has no "typ" (or the generic "JWT"); an access token ("at+jwt"),
        # a logout token ("logout+jwt") or anything else typed is not an ID token.
        if token.header.get("typ", "JWT") != "JWT":
            return None
        if token.claims.get("iss") != self.issuer or not isinstance(token.claims.get("aud"), str):
            return None
        return dict(token.claims)

    def logout_redirect(
        self, client: OidcClient | None, post_logout_redirect_uri: str | None, state: str | None
    ) -> str | None:
        if not post_logout_redirect_uri:
            return None
        if client is None or post_logout_redirect_uri not in client.post_logout_redirect_uris:
            raise UntrustedRedirect(
                _l("This application asked to return to an address it has not registered.")
            )
        return redirect_with(post_logout_redirect_uri, {"state": state} if state else {})
