"""Writes docs/requirements.md: each requirement id, where the code is, and the tests that name it.

Tests name the ids they prove in a trailing comment on the ``def`` line (``# INV-3``). Run
``python scripts/requirements_map.py`` after adding tests; ``--check`` fails when the file is stale
or an id has no test (the suite runs the check).
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "requirements.md"
ID = re.compile(r"\b(ADM|INV|APP|WEB|OPS|SEC|I18N|OIDC|UX|PRV)-(\d+)\b")
DEF = re.compile(r"^\s*(?:async\s+)?def\s+(test_\w+)\(.*#(.*)$")

REQUIREMENTS: dict[str, tuple[str, str]] = {
    "ADM-1": (
        "“Users and roles” per company; search and keyset paging at 100,000 members",
        "`companies/services.py` (`MembershipService.list_members`), `companies/listing.py`, `companies/views.py`, `companies/api.py`, `benchmarks/users_list.py`",
    ),
    "ADM-2": (
        "Changes need a fresh strong authentication (step-up, 15 min): app or bank ID",
        "`companies/services.py` (`require_change_rights`), `strongauth/views.py` (`/step-up`), `qrlogin/views.py` (step-up by the app)",
    ),
    "ADM-3": (
        "Add-user wizard in the seed's order",
        "`web/templates/users/new.html`, `companies/views.py` (`add_user`), `companies/schemas.py` (`AddUserInput`)",
    ),
    "ADM-4": (
        "Finnish HETU or foreign identifier + issuing country, validated with python-stdnum",
        "`people/identity_numbers.py`, `people/countries.py`",
    ),
    "ADM-5": (
        "“Already a user?” by Portti ID; never merged; warned before commit",
        "`companies/services.py` (`add_user`), `companies/new_users.py`, `people/portti_id.py`, `web/templates/users/new.html`",
    ),
    "ADM-6": (
        "A person sees their own Portti ID; KH sees it and the foreign identifiers",
        "`weblogin/views.py` (`/settings`), `web/templates/users/detail.html`",
    ),
    "ADM-7": (
        "Roles, profiles, validity until further notice or a window; enforced at login",
        "`companies/models.py`, `companies/catalogue.py`, `companies/policy.py`, `weblogin/views.py` (company choice)",
    ),
    "ADM-8": (
        "Ending validity does not stop e-mail; communication settings and ledger roles do",
        "`companies/models.py` (`receives_email`, `Role.is_ledger`), `companies/services.py` (`change_membership`)",
    ),
    "ADM-9": (
        "KH own company, TPK the office's clients, Support all; denied across tenants",
        "`companies/policy.py` (`AdminPolicy`), used by every admin service",
    ),
    "ADM-10": (
        "Append-only audit log, per company and per person",
        "`audit/models.py`, `audit/services.py`, trigger in `db/migrations/versions/20261127_0001_initial_schema.py`",
    ),
    "INV-1": (
        "Only an allowed admin invites, after ticking “I have verified this person's identity”",
        "`invitations/services.py` (`invite`), `invitations/views.py`, `web/templates/invitations/invite.html`",
    ),
    "INV-2": (
        "English e-mail naming inviter and company with a 16-digit code; hashed, single use",
        "`invitations/services.py`, `web/templates/email/invitation.*`, `infra/crypto.py` (`CodeHasher`)",
    ),
    "INV-3": (
        "Valid 24 h; cancellable; a new one replaces the old",
        "`invitations/services.py` (`invite`, `cancel`, `_end_live_invitations`), `invitations/models.py`",
    ),
    "INV-4": (
        "Re-invite while contact details are unchanged; after a change only Support",
        "`invitations/services.py` (`reinvite_blocked`), `people/models.py` (`contact_version`)",
    ),
    "INV-5": (
        "6-digit SMS code; at most 2 new codes; wrong guesses limited",
        "`invitations/services.py` (`confirm_phone`, `resend_sms_code`), `infra/ratelimit.py`",
    ),
    "INV-6": (
        "“Didn't the invitee get the confirmation code?” after the sign-up code; 12 h; extends",
        "`invitations/services.py` (`issue_admin_code`), `invitations/views.py`, `web/templates/invitations/confirmation_code.html`",
    ),
    "INV-7": (
        "Transactional outbox with retries; nothing lost when a gateway is down",
        "`infra/outbox.py`, `infra/mail.py`, `infra/sms.py`, `infra/devmailbox.py`, `invitations/messages.py`",
    ),
    "APP-1": (
        "Activation with a sign-up code, step by step",
        "`invitations/app_api.py`, `devices/app_api.py`, `activation/services.py`",
    ),
    "APP-2": (
        "Account: create (e-mail verified, password, TOTP) or log in to an existing one",
        "`accounts/services.py`, `accounts/passwords.py`",
    ),
    "APP-3": (
        "Versioned terms; acceptance recorded",
        "`accounts/terms/`, `accounts/services.py` (`accept_terms`)",
    ),
    "APP-4": (
        "Device key pair made on the device; signature on every approval; PIN tries limited",
        "`devices/keys.py`, `devices/approval.py` (`verify`), `devices/pins.py`, `docs/architecture.md`",
    ),
    "APP-5": (
        "Unlock with PIN or biometrics",
        "`devices/app_sessions.py` (`unlock`), `devices/approval.py` (biometric key), `portti_app/client.py`",
    ),
    "APP-6": (
        "Lock ends the app session",
        "`devices/app_sessions.py` (`lock`), `devices/app_api.py`",
    ),
    "APP-7": (
        "Log out; re-activate with the account",
        "`devices/revocation.py` (`logout`), `activation/services.py` (`start_with_account`)",
    ),
    "APP-8": (
        "Log out from all devices; re-activation needs a new invitation",
        "`devices/revocation.py` (`logout_everywhere`), `accounts/models.py` (`requires_invitation`)",
    ),
    "APP-9": (
        "Finnish users activate with bank ID",
        "`activation/services.py` (`ActivationService`: bank-ID hand-off), "
        "`strongauth/callback.py` (`LoginCallback`)",
    ),
    "APP-10": ("A reference app client walks every step", "`src/portti_app/` (`portti-app`)"),
    "WEB-1": (
        "QR that changes every second (time-based MAC); outcome by server push",
        "`qrlogin/` (`frames.py`, `state.py`), `qrlogin/views.py`, `infra/events/`",
    ),
    "WEB-2": (
        "The app shows what asks, confirms with PIN/biometrics; only that browser logs in",
        "`qrlogin/app_api.py`, `qrlogin/approvals.py`",
    ),
    "WEB-3": (
        "Company choice; memberships out of validity not offered",
        "`weblogin/views.py` (`company_choices`)",
    ),
    "WEB-4": (
        "Bank ID / mobile certificate / EE, NO, SE ID cards through OIDC; built-in test provider",
        "`strongauth/oidc/`, `strongauth/stand_in_provider.py`, `strongauth/stand_in_views.py`, `strongauth/services.py`, `strongauth/callback.py`, `strongauth/views.py`",
    ),
    "WEB-5": (
        "Sessions listed and revocable by their owner; admins can end a person's sessions",
        "`weblogin/sessions.py`, `weblogin/views.py`, `companies/views.py` (`end_sessions`), `devices/views.py`",
    ),
    "OPS-1": (
        "`make run` with demo data and a dev mailbox; `make test`",
        "`Makefile`, `demo.py`, `infra/devmailbox.py`",
    ),
    "OPS-2": (
        "PostgreSQL + Redis, several instances, approvals and waits on different instances",
        "`db/session.py`, `infra/events/`, `infra/ratelimit.py`, `infra/outbox.py` (SKIP LOCKED)",
    ),
    "OPS-3": (
        "Migrations; backup and restore documented and tested",
        "`db/migrations/`, `db/migrate.py`, `db/backup.py`, `docs/operations.md`",
    ),
    "OPS-4": (
        "Clear errors that change nothing; secrets never in logs, responses or the DB in clear",
        "`web/errors.py`, `errors.py`, `infra/crypto.py`, every service's validation",
    ),
    "OPS-13": (
        "The root secret from the environment or a file, refused when weak, rotated without re-onboarding",
        "`config.py` (`SecretRing`, `secret_key_file`, `secret_strength_bits`), `infra/crypto.py`, `infra/secret_material.py`, `cli/` (`secrets rotate`)",
    ),
    "OPS-14": (
        "Expired and ended rows purged on a schedule; audit retention with export before pruning",
        "`retention.py`, `cli/` (`purge`, `worker`), `db/migrations/versions/20261207_0020_audit_retention.py`",
    ),
    "OPS-10": (
        "Day-one set-up from the command line: companies, office links, the first Support; idempotent, audited; `portti demo` refuses production",
        "`companies/bootstrap.py`, `cli/` (`companies create`, `companies link-office`, `support add`, `demo`)",
    ),
    "OPS-11": (
        "`/healthz` (no database), `/readyz` (database, schema at head, keys, Redis; 503 naming the part), Prometheus `/metrics` for configured networks or a token, multi-process",
        "`web/health.py`, `infra/metrics.py`, `web/access.py`, counters in `qrlogin/`, `infra/outbox.py`, `infra/ratelimit.py`, `oidc_provider/`, `invitations/services.py`",
    ),
    "OPS-12": (
        "One structured line per request (route template, status, duration, request id, client network), JSON lines, tracebacks as one record; every setting documented, wrong ones named",
        "`infra/logging.py`, `web/access.py`, `config.py` (`load_settings`), `cli/`, `asgi.py`, `docs/operations.md`",
    ),
    "OPS-15": (
        "Trusted proxies by network; X-Forwarded-For/-Proto/-Host and X-Request-ID only from them; backups 0600",
        "`web/proxy.py`, `config.py` (`parse_networks`), `web/deps.py` (`client_ip`), `db/backup.py`",
    ),
    "OPS-16": (
        'One instance degrades instead of failing: saturated → 503 fast, database down → 503, no "database is locked"',
        "`web/admission.py`, `web/errors.py` (`service_unavailable`), `db/session.py` (pool settings, `BEGIN IMMEDIATE`), `web/deps.py`, `config.py`, `benchmarks/capacity.py`, `infra/events/` (`RedisEventBus`), `infra/ratelimit.py` (memory while Redis is down), `web/drain.py`, `qrlogin/views.py` (`qr_events`), `cli/` (`serve`), `docs/operations.md`",
    ),
    "I18N-1": (
        "Every page, e-mail, SMS, problem message and the app in Finnish, Swedish and English",
        "`i18n.py`, `locale/`, `web/middleware.py` (`LocaleMiddleware`), `weblogin/language_views.py`, `invitations/messages.py`, `scripts/i18n_check.py`",
    ),
    "UX-1": (
        "The authenticator QR on the account step shows (an SVG document); its key never wraps inside a group",
        "`accounts/services.py` (`standalone_svg`), `mobile/static/app.js` (`screenTotp`), `mobile/static/app.css`",
    ),
    "UX-2": (
        "No event object shown as a message: a button's action gets no click event",
        "`mobile/static/app.js` (`button`)",
    ),
    "UX-4": (
        "Codes are typed as shown (spaces, dashes, pasted); the server reads the digits too",
        "`mobile/static/app.js` (`codeField`, `digitsOf`), `infra/codes.py` (`clean_digits`)",
    ),
    "UX-9": (
        "A forgotten PIN leads to re-activation; the wait after wrong PINs counts down with the button disabled",
        "`mobile/static/app.js` (`countdown`, `screenForgotPin`, `screenActivateAgain`)",
    ),
    "UX-10": (
        "Every error screen of the app has a way forward (a button)",
        "`mobile/static/app.js` (`screenProblem`, `screenActivationEnded`, `handleGlobal`)",
    ),
    "UX-11": (
        "Biometrics: the app says why they are off (IP address, no HTTPS, no authenticator); the choice above Next",
        "`mobile/static/webauthn.js` (`unavailableReason`), `mobile/static/app.js` (`screenConfirmPin`), `README.md`",
    ),
    "UX-12": (
        "The app's texts follow how the person activated (bank ID or invitation)",
        "`mobile/static/app.js` (`state.device.method`), `mobile/static/texts.js`",
    ),
    "UX-14": (
        "The app's approval names the business application that asked (`client_name`); Portti's login page names the business application a login is for",
        "`oidc_provider/parked.py`, `qrlogin/app_api.py` (`approval_out`), `qrlogin/schemas.py`, `mobile/static/app.js` (`approvalTitle`), `oidc_provider/parked.py`, `weblogin/views.py` (`login_page`), `web/templates/login.html`",
    ),
    "UX-15": (
        "One word for one thing in the app: the SMS code is the confirmation code; the account login screen is not named after its button",
        "`mobile/static/texts.js`",
    ),
    "UX-17": (
        "The approval's browser and place in the phone's language; languages named in the reader's language; the test identity provider's page translated",
        "`qrlogin/app_api.py` (`browser_for_reader`, `place_for_reader`), `qrlogin/requester.py`, `i18n.py` (`language_name`), `strongauth/stand_in_views.py`, `web/templates/test_idp/authorize.html`",
    ),
    "UX-19": (
        "“This wasn't me” says what happened; answers do not linger; the invited address pre-filled; a cancelled code's possible reasons; the dev mailbox shows Finnish time, the reader's way",
        "`mobile/static/app.js` (`screenRefused`, `screenAccount`), `invitations/app_api.py`, `invitations/errors.py` (`InvitationInvalid`), `web/templates/dev/mailbox.html`, `web/templates/dev/message.html`",
    ),
    "UX-22": (
        "Every app screen in fi, sv and en at phone and desktop width: no stray text, foreign text, broken image, overflow, console error or axe violation; a browser walk through every web page in three languages at phone and desktop width fails on console errors, stray text, broken images, overflow, another language and serious accessibility problems",
        "`tests/e2e/test_app_screens_guard.py`, `tests/e2e/test_web_pages_walk.py`, `tests/support/leaks.py`",
    ),
    "UX-23": (
        "The app's words are true of what the person has: a camera failure in words, typing the code named as the login page names its button; a forbidden PIN refused at first entry, a way back from confirming; whom to ask once no new code can be sent; each choice says whom it is for; the login screen names only what the phone has; the terms name the app's buttons; the login page says the app has the code, read or typed; a replacing device keeps who invited",
        "`mobile/static/app.js` (`screenScan`, `pinTooSimple`, `screenPhoneCode`, `choice`, `screenUnlock`), `mobile/static/texts.js`, `invitations/services.py` (`_wrong_code_next_step`), `accounts/terms/`, `web/templates/weblogin/`, `devices/binding.py` (`_carry_companies`)",
    ),
    "OIDC-1": (
        "CORS for single-page apps: discovery and JWKS to anyone; token, UserInfo and revocation to the client's web origins",
        "`oidc_provider/cors.py`, `oidc_provider/views/`, `oidc_provider/revocation.py`, `oidc_provider/clients.py` (`web_origins`)",
    ),
    "OIDC-2": (
        "A public client with PKCE S256 needs no nonce",
        "`oidc_provider/authorize.py` (`validate`)",
    ),
    "OIDC-3": (
        "Discovery lists no empty UserInfo signing algorithms",
        "`oidc_provider/views/` (`discovery`)",
    ),
    "OIDC-7": (
        "Allowed scopes, ID token algorithm, first-party flag and web origins in the CLI, API and UI",
        "`oidc_provider/clients.py` (`ClientInput`), `oidc_provider/admin.py`, `cli/` (`clients register`), `web/templates/oidc/admin_list.html`",
    ),
    "OIDC-4": (
        "Consent: third-party applications ask once, naming the claims; remembered, listed and revocable; prompt=consent asks",
        "`oidc_provider/consent.py`, `oidc_provider/authorize.py` (`decide`), `oidc_provider/views/` (`/oidc/consent`, `/settings/applications/…/revoke`), `web/templates/oidc/consent.html`, `web/templates/settings.html`",
    ),
    "OIDC-5": (
        "The broker's level of assurance reaches applications as acr (FTN, eIDAS); amr from RFC 8176",
        "`oidc_provider/claims.py` (`assurance_of`, `Assurance`), `weblogin/sessions.py` (`login_acr`, `login_amr`), `strongauth/callback.py`",
    ),
    "OIDC-6": (
        "Client companies a TPK administers through an accounting office appear in the company claims with the office role and `via`",
        "`oidc_provider/claims.py` (`companies_for`, `CompanyGrant.via`), `web/templates/oidc/choose_company.html`",
    ),
    "OIDC-8": (
        "A login that cannot be started (PAR refused, broker unreachable, TLS failure) is audited and logged with its cause",
        "`strongauth/services.py` (`_start_failed`, `record_failure`), `strongauth/oidc/request.py` (`_push`), `strongauth/discovery.py`, `infra/tls.py` (`transport_failure`)",
    ),
    "OIDC-9": (
        "A key rotation reaches every instance at once over the event bus; the active key first in the JWKS",
        "`keys/services.py` (`follow_rotations`, `announce_rotation`, `published`), `app.py` (lifespan), `cli/` (`keys rotate`)",
    ),
    "OIDC-10": (
        "Outgoing HTTPS trusts `PORTTI_CA_BUNDLE` (the OS store, or extra CAs) for brokers behind an internal CA",
        "`infra/tls.py` (`ssl_context`), `config.py` (`ca_bundle`), `app.py`, `cli/`",
    ),
    "PRV-1": (
        "Machine clients (client credentials) registered by Support act on the JSON API within their scopes and companies, audited as themselves",
        "`companies/principal.py` (`MachinePrincipal`), `machines/` (`tokens.py`, `deps.py`, `registry.py`, `admin.py`), `oidc_provider/views/` (`token`: client_credentials), `companies/api.py` (`api_actor`), `companies/actors.py` (`machine_grant`), `audit/services.py` (`machine=`), `cli/` (`clients register-machine`)",
    ),
    "PRV-2": (
        "Business software creates, renames and closes companies (idempotent by its external id), links accounting offices and names the first user administrator through the API",
        "`provisioning/companies.py` (`ProvisioningService`), `provisioning/schemas.py`, `provisioning/api.py`, `invitations/services.py` (`invite` by a machine, `cancel_company_invitations`), `examples/business_app.py`",
    ),
    "UX-8": (
        "The admin sees a member's devices and removes a lost phone (step-up, audited, the person told)",
        "`devices/admin.py`, `devices/admin_api.py`, `devices/views.py`, `web/templates/users/_devices.html`, `devices/notices.py` (`devices_removed`)",
    ),
    "UX-3": (
        "The terms rendered (headings, paragraphs; no Markdown shown) and translated into Finnish and Swedish, on the web and in the app",
        "`accounts/terms/<version>[.<lang>].md`, `accounts/services.py` (`current_terms_text`), `accounts/views.py`, `web/markdown.py`, `devices/app_api.py` (`get_terms`)",
    ),
    "UX-5": (
        "Counts written with each language's plural forms, from the catalogue",
        "`errors.py` (`RateLimited`), `devices/errors.py`, `web/templates/step_up.html`, `web/templates/email/verify_email.*`, `i18n.py` (`app_texts`: counting pairs), `mobile/static/texts.js` (`t`)",
    ),
    "UX-6": (
        'Basic settings name each session as the app does ("Chrome on Linux", translated); buttons\' names start with their visible label',
        "`qrlogin/requester.py` (`browser_summary`), `templating.py` (`browser`), `web/templates/settings.html`",
    ),
    "UX-7": (
        "The invitation e-mail gives the app's address and a QR code of it (an inline image), and no sign-in link",
        "`invitations/messages.py` (`app_qr_png`), `infra/mail.py` (`build_message`: data: images as inline parts), `web/templates/email/invitation.*`",
    ),
    "UX-13": (
        "The invitation's status says when the app is no longer in use (logged out from all devices)",
        "`invitations/views.py` (`app_ended_at`), `web/templates/invitations/_panel.html`",
    ),
    "UX-16": (
        "The audit log tells event details in words, dates the reader's way on one line; the step-up page names the company; no heading that repeats its button",
        "`audit/labels.py` (`DETAIL_LABELS`), `templating.py` (`event_details`), `web/templates/_events.html`, `strongauth/views.py` (`step_up_page`)",
    ),
    "UX-18": (
        "Finnish and Swedish that read as a native writes them: whole sentences for provider buttons, a reviewed catalogue",
        "`strongauth/labels.py`, `locale/fi/`, `locale/sv/`",
    ),
    "UX-20": (
        "No page wider than a phone: tables become cards at 390 px",
        "`web/static/app.css` (`table.stack`, `table.events`), `web/static/test_idp.css`",
    ),
    "UX-21": (
        "The example business application: a title and a language on every page, role names, Finnish, Swedish and English",
        "`examples/business_app.py`",
    ),
    "PRV-3": (
        "SCIM 2.0 service provider per company (path-bound): Users with validity and the Portti extension, Groups = roles, filters, pages, ETags, RFC 7644 errors; linked only as the add-user wizard links, never merged",
        "`scim/` (`api.py`, `users.py`, `user_resources.py`, `groups.py`, `filters.py`, `resources.py`), `docs/scim.md`, `benchmarks/scim.py`",
    ),
    "PRV-4": (
        "Many users at once from a CSV file: a preview of every row's errors, nothing written before “Add N users”, then “Invite all who need the app”",
        "`companies/csv_file.py`, `companies/bulk.py` (`BulkAddService`), `companies/bulk_views.py`, `invitations/bulk.py`, `web/templates/users/import*.html`, `benchmarks/csv_bulk.py`",
    ),
}

# The findings of the outside security review (docs/security.md): each has a test that attacks it.
FINDINGS: dict[str, tuple[str, str]] = {
    "SEC-1": (
        "Cross-tenant takeover through person-wide contact details and invitations",
        "`companies/policy.py` (`AdminPolicy`), `companies/services.py`, `invitations/services.py`",
    ),
    "SEC-2": (
        "A cancelled, superseded or expired invitation ends its activation at every later step",
        "`invitations/services.py`, `devices/app_api.py`, `activation/services.py`",
    ),
    "SEC-3": (
        "Changing a person's e-mail or phone cancels their open invitation",
        "`companies/services.py`, `invitations/services.py`",
    ),
    "SEC-4": (
        "“This wasn't me” also ends the web sessions that device approved",
        "`devices/revocation.py` (`not_me`), `weblogin/sessions.py`",
    ),
    "SEC-5": (
        "Sign-up code limits per code and per client network, no global lock-out",
        "`invitations/app_api.py`, `infra/ratelimit.py`",
    ),
    "SEC-6": (
        "Step-up is fresh: max_age=0, prompt=login, auth_time and acr checked",
        "`strongauth/oidc/assurance.py`, `strongauth/oidc/request.py`, `strongauth/services.py`, `strongauth/stand_in_provider.py`",
    ),
    "SEC-7": (
        "Ending sessions, removing and editing members follow the grant hierarchy and need step-up",
        "`companies/policy.py`, `companies/services.py`",
    ),
    "SEC-8": (
        "No account enumeration on login lock-out; lock-out per address and client",
        "`accounts/services.py`",
    ),
    "SEC-9": (
        "Device challenges rate-limited and capped per device",
        "`devices/app_api.py`, `devices/challenges.py`",
    ),
    "SEC-10": (
        "Bounded integer parameters; the OpenAPI fuzzed with 0 responses ≥ 500",
        "`web/deps.py` (`Id`, `IdQuery`), `web/openapi.py`, `tests/contract/`",
    ),
    "SEC-11": (
        "Session token rotated on step-up; `__Host-` cookies under https",
        "`weblogin/sessions.py` (`record_step_up`), `web/cookies.py`",
    ),
    "SEC-12": (
        "An employee's company menu offers only what they may open",
        "`web/templates/base.html`, `companies/policy.py`",
    ),
    "SEC-13": (
        "QR relay: the typed code goes stale in 30 s; the app shows the browser's country and origin",
        "`qrlogin/codes.py`, `qrlogin/requester.py`, `weblogin/geo.py`, `qrlogin/app_api.py`",
    ),
    "SEC-16": (
        "A login asked for on a look-alike site cannot be approved; one from a page without an address needs a deliberate yes",
        "`qrlogin/approvals.py` (`approve`), `weblogin/errors.py` (`OriginMismatch`), `mobile/static/app.js` (`screenApproval`), `portti_app/cli.py` (`answer_request`)",
    ),
    "SEC-32": (
        "Production refuses a secret key with less than 32 bytes of randomness",
        "`config.py` (`secret_strength_bits`, `MIN_SECRET_BITS`)",
    ),
    "SEC-15": (
        "Refresh tokens outlive the Portti session only with offline_access; expired sessions end client logins",
        "`oidc_provider/session_bound.py`, `oidc_provider/grants.py` (`refresh`), `oidc_provider/userinfo.py`, `oidc_provider/backchannel.py`",
    ),
    "SEC-17": (
        "A refused refresh request does not spend the refresh token",
        "`oidc_provider/grants.py` (`refresh`)",
    ),
    "SEC-18": (
        "A pairwise client's redirect URIs are on one host: no shared sector",
        "`oidc_provider/clients.py` (`ClientInput`), `oidc_provider/claims.py` (`subject_for`)",
    ),
    "SEC-19": (
        "private_key_jwt assertions: one audience, at most five minutes, single use",
        "`oidc_provider/clients.py` (`_check_assertion`)",
    ),
    "SEC-21": (
        "Failed client authentication rate-limited per client id and network (429, Retry-After)",
        "`oidc_provider/client_auth_limits.py`, `oidc_provider/views/` (`token`), `infra/ratelimit.py`",
    ),
    "SEC-23": (
        "Client addresses without user info, wildcards, fragments or plain http off loopback",
        "`oidc_provider/clients.py` (`check_uri`, `check_origin`), `cli/`, `oidc_provider/admin.py`",
    ),
    "SEC-27": (
        "A reused refresh token also ends its family's access tokens (the login ends)",
        "`oidc_provider/grants.py` (`refresh`), `oidc_provider/logins.py`",
    ),
    "SEC-29": (
        "No credential, token or query string of an outgoing request (SMS gateway, identity provider, back-channel) reaches a log",
        "`infra/logging.py` (`redact_urls`, httpx loggers at WARNING), `web/health.py` (readiness messages)",
    ),
    "SEC-30": (
        "`Strict-Transport-Security` on every response when the base URL is https",
        "`web/response_headers.py`",
    ),
    "SEC-31": (
        "`Cache-Control: no-store` on every authenticated response (pages, `/api/v1`, `/app-api/v1`)",
        "`web/response_headers.py`",
    ),
    "SEC-22": (
        "A requested acr (acr_values or an essential claim) is enforced, never stated over a weaker login",
        "`oidc_provider/authorize.py` (`decide`, `wanted_acr`), `oidc_provider/claims.py` (`Assurance.satisfies`)",
    ),
    "SEC-24": (
        "An application open to every company learns one company per login, never another tenant's roles",
        "`oidc_provider/authorize.py` (`picks_one_company`), `oidc_provider/claims.py` (`person_claims`)",
    ),
    "SEC-25": (
        "Keys per purpose (op, rp); `typ` checked on every token read; sealed private parts bound to their row",
        "`keys/services.py`, `keys/sealing.py`, `keys/models.py`, `oidc_provider/keys.py`, `oidc_provider/end_session.py` (`id_token_hint`), migration 0014",
    ),
    "SEC-28": (
        "A pending bank-ID login's nonce and PKCE verifier sealed under a key only the state opens",
        "`strongauth/services.py` (`_flow_box`, `_open_flow`), `strongauth/models.py`, migration 0014",
    ),
    "SEC-14": (
        "An app activated by one company's invitation does not carry its person into a company that linked them later",
        "`devices/reach.py`, `devices/binding.py`, `companies/policy.py` (`limit_to_login`), `web/deps.py`, `qrlogin/browser.py`, `oidc_provider/claims.py`, `devices/admin.py`",
    ),
    "SEC-20": (
        "The OpenAPI passes schemathesis `--checks all`: Allow headers, declared answers, schemas as strict as the server",
        "`web/openapi.py`, `companies/schemas.py`, `tests/contract/test_openapi_fuzz.py`",
    ),
    "SEC-26": (
        "Every app-API bearer route refuses a token it never issued with a 401 problem",
        "`devices/app_sessions.py` (`lock`), `devices/app_api.py`",
    ),
}


def tests_by_id() -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        rel = path.relative_to(ROOT).as_posix()
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            m = DEF.match(line)
            comment = m.group(2) if m else None
            name = m.group(1) if m else None
            if m is None:
                # a def split over several lines: the comment sits on the line with "):"
                start = re.match(r"^\s*(?:async\s+)?def\s+(test_\w+)\(", line)
                if not start:
                    continue
                name = start.group(1)
                for follow in lines[i : i + 12]:
                    if "#" in follow and re.search(r"\)\s*(->[^:]*)?:\s*#", follow):
                        comment = follow.split("#", 1)[1]
                        break
            if not comment:
                continue
            for prefix, num in ID.findall(comment):
                found[f"{prefix}-{num}"].append(f"`{rel}::{name}`")
    return found


def render() -> str:
    found = tests_by_id()
    out = [
        "# Requirements → code → tests",
        "",
        "Each requirement of `shared/spec/requirements.md`, where it lives (paths under `src/portti/`",
        "unless given), and the tests that name it. Generated by `scripts/requirements_map.py` from the",
        "tests' trailing `# ID` comments; the suite fails when this file is stale.",
        "",
    ]
    for rid, (summary, code) in REQUIREMENTS.items():
        out += section(rid, summary, code, found.get(rid, []))
    out += [
        "# Security findings → code → tests",
        "",
        "Each finding of the outside security review ([security.md](security.md)) and the tests that",
        "perform its attack and show it fails.",
        "",
    ]
    for rid, (summary, code) in FINDINGS.items():
        out += section(rid, summary, code, found.get(rid, []))
    return "\n".join(out)


def section(rid: str, summary: str, code: str, tests: list[str]) -> list[str]:
    lines = [f"## {rid}: {summary}", "", f"- Code: {code}", f"- Tests ({len(tests)}):"]
    lines += [f"  - {t}" for t in tests] or ["  - none yet"]
    lines.append("")
    return lines


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        missing = [
            rid
            for rid in [*REQUIREMENTS, *FINDINGS]
            if f"## {rid}:" in text
            and "- none yet" in text.split(f"## {rid}:", 1)[1].split("## ", 1)[0]
        ]
        stale = not DOC.exists() or DOC.read_text(encoding="utf-8") != text
        if missing:
            print("requirements without a test:", ", ".join(missing))
        if stale:
            print("docs/requirements.md is stale: run python scripts/requirements_map.py")
        return 1 if (missing or stale) else 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
