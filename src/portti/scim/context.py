"""What every SCIM operation works with: the company the request is bound to, who acts, and
the helpers shared by Users and Groups (versions, audit, the grant rules)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from portti.audit.models import AuditAction
from portti.audit.services import AuditLog
from portti.companies.actors import machine_grant
from portti.companies.models import Membership
from portti.companies.policy import AdminPolicy, local_today
from portti.companies.principal import MachinePrincipal
from portti.i18n import _l
from portti.infra.clock import Clock
from portti.infra.outbox import Outbox
from portti.scim.errors import AuditedRefusal, ResourceNotFound, VersionMismatch

if TYPE_CHECKING:
    from jinja2 import Environment


def version_of(resource: dict[str, Any]) -> str:
    """A weak ETag (RFC 7644 §3.14) computed from what the resource says: any change to it, by
    SCIM or by a user administrator's page, gives another version."""
    body = {k: v for k, v in resource.items() if k != "meta"}
    digest = hashlib.sha256(
        json.dumps(body, sort_keys=True, default=str, separators=(",", ":")).encode()
    ).hexdigest()
    return f'W/"{digest[:20]}"'


def check_if_match(if_match: str | None, current: str) -> None:
    """``If-Match`` with none of the given versions current: 412 (RFC 7644 §3.14)."""
    if if_match is None:
        return
    wanted = {v.strip() for v in if_match.split(",")}
    if "*" in wanted:
        return
    # Weak comparison (RFC 9110 §8.8.3.2): W/"x" and "x" name the same version.
    strip = {v.removeprefix("W/") for v in wanted}
    if current.removeprefix("W/") not in strip:
        raise VersionMismatch()


def parse_id(resource_id: str) -> int:
    if not resource_id.isascii() or not resource_id.isdigit() or len(resource_id) > 10:
        raise ResourceNotFound()
    value = int(resource_id)
    if not 1 <= value <= 2**31 - 1:
        raise ResourceNotFound()
    return value


class ScimContext:
    """One request's company, actor, clock and audit log."""

    def __init__(
        self,
        db: Session,
        clock: Clock,
        audit: AuditLog,
        company_id: int,
        actor: MachinePrincipal,
        base_url: str,
        *,
        outbox: Outbox | None = None,
        jinja: Environment | None = None,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.jinja = jinja
        self.clock = clock
        self.audit = audit
        self.actor = actor
        self.base_url = base_url.rstrip("/")
        self.policy = AdminPolicy(db, clock)
        # The companies the machine client was registered for, never the operator's nor a
        # closed one (refused alike whether or not the company exists); it gives the roles a
        # user administrator gives, never a main user of an office nor customer service (SEC-7).
        self.company, self.grant = machine_grant(db, actor, company_id, audit)

    def today(self) -> date:
        return local_today(self.company, self.clock.now())

    def yesterday(self) -> date:
        return self.today() - timedelta(days=1)

    def grantable_roles(self) -> set[str]:
        return self.policy.grantable_roles(self.grant, self.company)

    def require_membership_rights(self, m: Membership) -> None:
        """SEC-7: a member holding a role a user administrator cannot give is out of reach."""
        above = self.policy.outranking_roles(self.grant, self.company, m)
        if above:
            self.record(
                AuditAction.ACCESS_DENIED,
                subject_person_id=m.person_id,
                operation="scim_change",
                reason="member_outranks_admin",
            )
            raise AuditedRefusal(
                _l(
                    "This user holds roles a user administrator cannot give (%(roles)s); "
                    "SCIM cannot change or remove them.",
                    roles=", ".join(above),
                )
            )

    def may_change_person(self, person_id: int) -> bool:
        """SEC-1, SEC-7: personal details are shared by every company the person's rights reach;
        SCIM for this company changes them only when this is the only one."""
        reach = self.policy.reach_of(person_id)
        return not reach.everything and reach.companies <= {self.company.id}

    def record(
        self, action: AuditAction, *, subject_person_id: int | None = None, **details: Any
    ) -> None:
        self.audit.record(
            action,
            company_id=self.company.id,
            actor_person_id=None,
            subject_person_id=subject_person_id,
            machine=self.actor,
            via="scim",
            **details,
        )


@dataclass(frozen=True)
class Sender:
    """Who the contact-change notice names as having made the change: the machine client."""

    full_name: str
