"""What ends at business applications when something ends in Portti, in one place.

Each subscriber answers a hook of ``portti.hooks`` (connected by ``portti.wiring``) by ending
the clients' logins that rested on what ended; the logins' back-channel logout tokens are queued
in the same transaction (``logins.py``)."""

from __future__ import annotations

from portti import hooks
from portti.oidc_provider.logins import end_client_logins, move_client_logins


def on_sessions_ended(event: hooks.SessionsEnded) -> int:
    """The logins made in the sessions that ended (a person's sessions: all of them but one)."""
    return end_client_logins(
        event.db,
        event.at,
        reason=event.reason,
        web_session_ids=event.web_session_ids,
        person_id=event.person_id,
        except_web_session_id=event.except_web_session_id,
    )


def on_session_rotated(event: hooks.SessionRotated) -> int:
    """A session under a new id keeps its logins: ending the new session ends them."""
    move_client_logins(event.db, event.old_id, event.new_id)
    return 0


def on_device_ended(event: hooks.DeviceEnded) -> int:
    """Logins approved with the app end with it."""
    return end_client_logins(event.db, event.at, reason=event.reason, device_id=event.device_id)


def on_person_disowned(event: hooks.PersonDisowned) -> int:
    """Someone else acted as the person: every login of theirs ends."""
    return end_client_logins(event.db, event.at, reason=event.reason, person_id=event.person_id)


def on_membership_ended(event: hooks.MembershipEnded) -> int:
    """Logins for that company (or listing every company of the person) end."""
    return end_client_logins(
        event.db,
        event.at,
        reason=event.reason,
        person_id=event.person_id,
        company_id=event.company_id,
    )


def connect() -> None:
    hooks.sessions_ended.connect(on_sessions_ended)
    hooks.session_rotated.connect(on_session_rotated)
    hooks.device_ended.connect(on_device_ended)
    hooks.person_disowned.connect(on_person_disowned)
    hooks.membership_ended.connect(on_membership_ended)
