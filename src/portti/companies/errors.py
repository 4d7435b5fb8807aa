"""Refusals of the grant hierarchy (SEC-1, SEC-7): stable codes the clients switch on."""

from __future__ import annotations

from portti.errors import Conflict, Forbidden
from portti.i18n import _l


class PersonNeedsSupport(Forbidden):
    """A person-wide change (personal details, an invitation, ending sessions) asked by an admin
    who does not administer every company the person's rights reach, or of a person whose
    rights have ended everywhere the admin looks (SEC-1, SEC-7)."""

    keeps_writes = True

    code = "person_needs_support"
    title = _l("Only customer service can do this for this person")
    message = _l(
        "This person's details and app login are shared with companies you do not "
        "administer, or their user rights are not valid. Only customer service can change "
        "their personal details, invite them or end their sessions."
    )
    next_step = _l("Contact customer service.")


class MemberOutranksAdmin(Forbidden):
    """The member holds a role the admin could not give (a main user at the accounting office,
    customer service): only someone who could give it may change or remove them (SEC-7)."""

    keeps_writes = True

    code = "member_outranks_admin"
    title = _l("This user holds rights you cannot give")
    next_step = _l("Ask customer service, or a main user of the accounting office.")

    def __init__(self, roles: list[str]) -> None:
        super().__init__(
            _l(
                "This user holds roles you cannot give (%(roles)s), so you cannot change their "
                "roles or remove them.",
                roles=", ".join(roles),
            )
        )


class CompanyClosed(Conflict):
    """A closed company (PRV-2) keeps its users' history and audit trail; nothing changes in it."""

    code = "company_closed"
    title = _l("The company is closed")
    message = _l("The company is closed: it cannot be changed any more.")
