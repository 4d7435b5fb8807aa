"""Clients' logins that rested on a membership whose end date has passed end too.

An administrator who ends or removes a membership ends the logins at once
(``companies.services``). A membership with an end date set in advance ends with time, when
nobody acts; this sweep, run by the back-channel logout worker every
``oidc_membership_sweep_seconds``, finds the open client logins of persons whose membership in a
company of that client ended since the login began, and ends them like any other: their
access and refresh tokens stop working at once, and each client that registered a back-channel
logout URI gets a logout token.

Which logins: one for the company whose membership ended (a client with company selection), or
one whose claims listed all the person's companies (no selection) when any of them ended — the
same rule as an administrator's change. A membership's dates are whole days in its company's
time zone, as everywhere else. It is stateless: each run looks at memberships that ended within
``LOOKBACK`` (a worker stopped for weeks still catches up) and whose login began while the
membership was valid, so a login made after the end is not touched, and an ended login is not
seen again."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.companies.models import Company, Membership
from portti.infra.clock import Clock
from portti.oidc_provider.logins import end_client_logins
from portti.oidc_provider.models import OidcClient, OidcLogin

# Longer than a refresh token lives (30 days): a login not swept by then has no usable token.
LOOKBACK = timedelta(days=31)
REASON = "membership_ended"


def end_logins_of_ended_memberships(db: Session, clock: Clock) -> int:
    """Ends the open client logins whose membership has ended; returns how many."""
    now = clock.now()
    utc_today = now.date()
    # A company's "today" is at most a day ahead of UTC's: a membership valid until D has
    # ended somewhere only if D < UTC today + 1.
    rows = db.execute(
        select(
            OidcLogin.id,
            OidcLogin.person_id,
            OidcLogin.client_id,
            OidcLogin.company_id,
            OidcLogin.created_at,
            OidcClient.company_ids,
            Membership.company_id,
            Membership.valid_from,
            Membership.valid_until,
            Company.timezone,
        )
        .join(Membership, Membership.person_id == OidcLogin.person_id)
        .join(Company, Company.id == Membership.company_id)
        .join(OidcClient, OidcClient.client_id == OidcLogin.client_id)
        .where(
            OidcLogin.ended_at.is_(None),
            Membership.valid_until.is_not(None),
            Membership.valid_until <= utc_today,
            Membership.valid_until >= utc_today - LOOKBACK,
        )
    ).all()
    ended: dict[int, tuple[int, str, int]] = {}
    for (
        login_id,
        person_id,
        client_id,
        login_company,
        login_created,
        allowed,
        company_id,
        valid_from,
        valid_until,
        tz,
    ) in rows:
        assert valid_until is not None  # selected so
        zone = ZoneInfo(tz)
        if now.astimezone(zone).date() <= valid_until:
            continue  # still valid today where the company is
        began = login_created.astimezone(zone).date()
        if began > valid_until or (valid_from is not None and began < valid_from):
            continue  # the login did not rest on this membership
        if allowed is not None and company_id not in allowed:
            continue  # the client is not used in that company
        if login_company is not None and login_company != company_id:
            continue  # the login is for another of the person's companies
        ended.setdefault(login_id, (person_id, client_id, company_id))
    if not ended:
        return 0
    count = end_client_logins(db, now, reason=REASON, login_ids=list(ended))
    audit = AuditLog(db, clock)
    for person_id, client_id, company_id in ended.values():
        audit.record(
            AuditAction.OIDC_LOGOUT,
            company_id=company_id,
            subject_person_id=person_id,
            client=client_id,
            reason=REASON,
        )
    return count
