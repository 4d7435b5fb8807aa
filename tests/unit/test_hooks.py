"""The hooks a lower floor fires and the subscribers ``wiring`` connects (docs/architecture.md,
"The floors")."""

from __future__ import annotations

from portti import hooks
from portti.invitations import subscribers as invitation_subscribers
from portti.oidc_provider import subscribers as login_subscribers
from portti.wiring import connect_hooks


def test_a_hook_runs_each_subscriber_once_and_adds_up_what_they_ended() -> None:
    hook: hooks.Hook[str] = hooks.Hook("test")
    seen: list[str] = []

    def ends_two(event: str) -> int:
        seen.append("two:" + event)
        return 2

    def ends_one(event: str) -> int:
        seen.append("one:" + event)
        return 1

    hook.connect(ends_two)
    hook.connect(ends_one)
    hook.connect(ends_two)  # connecting again changes nothing
    assert hook.fire("x") == 3
    assert seen == ["two:x", "one:x"]
    hook.disconnect(ends_two)
    assert hook.fire("y") == 1


def test_wiring_connects_what_ends_with_sessions_devices_memberships_and_companies() -> None:
    connect_hooks()
    connect_hooks()  # twice: still one subscriber each
    assert hooks.sessions_ended.subscribers == (login_subscribers.on_sessions_ended,)
    assert hooks.session_rotated.subscribers == (login_subscribers.on_session_rotated,)
    assert hooks.device_ended.subscribers == (login_subscribers.on_device_ended,)
    assert hooks.person_disowned.subscribers == (login_subscribers.on_person_disowned,)
    assert hooks.membership_ended.subscribers == (login_subscribers.on_membership_ended,)
    assert hooks.company_closed.subscribers == (invitation_subscribers.on_company_closed,)
    assert hooks.contact_changed.subscribers == (invitation_subscribers.on_contact_changed,)
