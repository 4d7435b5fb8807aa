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
        "`companies/services.py` (`MembershipService.list_members`), `companies/views.py`, `companies/api.py`, `benchmarks/users_list.py`",
    ),
    "ADM-2": (
        "Changes need a fresh strong authentication (step-up, 15 min): app or bank ID",
        "`companies/services.py` (`_require_change_rights`), `strongauth/views.py` (`/step-up`), `weblogin/qr_views.py` (step-up by the app)",
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
        "`companies/services.py` (`add_user`), `people/portti_id.py`, `web/templates/users/new.html`",
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
        "`invitations/app_api.py`, `devices/app_api.py`, `devices/activation.py`",
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
        "`devices/revocation.py` (`logout`), `devices/activation.py` (`start_with_account`)",
    ),
    "APP-8": (
        "Log out from all devices; re-activation needs a new invitation",
        "`devices/revocation.py` (`logout_everywhere`), `accounts/models.py` (`requires_invitation`)",
    ),
    "APP-9": (
        "Finnish users activate with bank ID",
        "`devices/activation.py` (`ActivationService`: bank-ID hand-off), "
        "`strongauth/services.py` (`finish_login`)",
    ),
    "APP-10": ("A reference app client walks every step", "`src/portti_app/` (`portti-app`)"),
    "WEB-1": (
        "QR that changes every second (time-based MAC); outcome by server push",
        "`weblogin/qr/` (`frames.py`, `state.py`), `weblogin/qr_views.py`, `infra/events.py`",
    ),
    "WEB-2": (
        "The app shows what asks, confirms with PIN/biometrics; only that browser logs in",
        "`weblogin/app_api.py`, `weblogin/qr/approvals.py`",
    ),
    "WEB-3": (
        "Company choice; memberships out of validity not offered",
        "`weblogin/views.py` (`company_choices`)",
    ),
    "WEB-4": (
        "Bank ID / mobile certificate / EE, NO, SE ID cards through OIDC; built-in test provider",
        "`strongauth/oidc.py`, `strongauth/test_idp.py`, `strongauth/services.py`, `strongauth/views.py`",
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
        "`db/session.py`, `infra/events.py`, `infra/ratelimit.py`, `infra/outbox.py` (SKIP LOCKED)",
    ),
    "OPS-3": (
        "Migrations; backup and restore documented and tested",
        "`db/migrations/`, `db/migrate.py`, `db/backup.py`, `docs/operations.md`",
    ),
    "OPS-4": (
        "Clear errors that change nothing; secrets never in logs, responses or the DB in clear",
        "`web/errors.py`, `errors.py`, `infra/crypto.py`, every service's validation",
    ),
    "I18N-1": (
        "Every page, e-mail, SMS, problem message and the app in Finnish, Swedish and English",
        "`i18n.py`, `locale/`, `web/middleware.py` (`LocaleMiddleware`), `web/language.py`, `invitations/messages.py`, `scripts/i18n_check.py`",
    ),
    "UX-3": (
        "The terms rendered (headings, paragraphs; no Markdown shown) and translated into Finnish and Swedish, on the web and in the app",
        "`accounts/terms/<version>[.<lang>].md`, `accounts/services.py` (`current_terms_text`), `accounts/views.py`, `web/markdown.py`, `devices/app_api.py` (`get_terms`)",
    ),
    "UX-5": (
        "Counts written with each language's plural forms, from the catalogue",
        "`errors.py` (`RateLimited`), `devices/errors.py`, `web/templates/step_up.html`, `web/templates/email/verify_email.*`",
    ),
    "UX-6": (
        'Basic settings name each session as the app does ("Chrome on Linux", translated); buttons\' names start with their visible label',
        "`weblogin/qr/requester.py` (`browser_summary`), `web/filters.py` (`browser`), `web/templates/settings.html`",
    ),
    "UX-7": (
        "The invitation e-mail gives the app's address and a QR code of it (an inline image), and no sign-in link",
        "`invitations/messages.py` (`app_qr_png`), `infra/mail.py` (`build_message`: data: images as inline parts), `web/templates/email/invitation.*`",
    ),
    "UX-13": (
        "The invitation's status says when the app is no longer in use (logged out from all devices)",
        "`invitations/views.py` (`app_ended_at`), `web/templates/invitations/_panel.html`",
    ),
    "UX-14": (
        "Portti's login page names the business application a login is for",
        "`oidc_provider/parked.py`, `weblogin/views.py` (`login_page`), `web/templates/login.html`",
    ),
    "UX-16": (
        "The audit log tells event details in words, dates the reader's way on one line; the step-up page names the company; no heading that repeats its button",
        "`audit/labels.py` (`DETAIL_LABELS`), `web/filters.py` (`event_details`), `web/templates/_events.html`, `strongauth/views.py` (`step_up_page`)",
    ),
    "UX-17": (
        "Languages named in the reader's language; the test identity provider's page translated",
        "`i18n.py` (`language_name`), `strongauth/test_idp.py`, `web/templates/test_idp/authorize.html`",
    ),
    "UX-18": (
        "Finnish and Swedish that read as a native writes them: whole sentences for provider buttons, a reviewed catalogue",
        "`strongauth/labels.py`, `locale/fi/`, `locale/sv/`",
    ),
    "UX-19": (
        "The dev mailbox shows Finnish time, the reader's way",
        "`web/templates/dev/mailbox.html`, `web/templates/dev/message.html`",
    ),
    "UX-20": (
        "No page wider than a phone: tables become cards at 390 px",
        "`web/static/app.css` (`table.stack`, `table.events`), `web/static/test_idp.css`",
    ),
    "UX-21": (
        "The example business application: a title and a language on every page, role names, Finnish, Swedish and English",
        "`examples/business_app.py`",
    ),
    "UX-22": (
        "A browser walk through every web page in three languages at phone and desktop width fails on console errors, stray text, broken images, overflow, another language and serious accessibility problems",
        "`tests/e2e/test_web_pages_walk.py`, `tests/support/leaks.py`",
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
        "`invitations/services.py`, `devices/app_api.py`, `devices/activation.py`",
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
        "`strongauth/oidc.py`, `strongauth/services.py`, `strongauth/test_idp.py`",
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
        "`weblogin/qr/codes.py`, `weblogin/qr/requester.py`, `weblogin/geo.py`, `weblogin/app_api.py`",
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
