"""Typed, synchronous hooks: a lower floor announces what ended, a higher floor acts on it.

A domain never imports the domains above it (docs/architecture.md). When something ends that
others hang on (a session, a device, a membership, a company, a person's contact details), the
domain fires one of the hooks below; whoever cares subscribes. Subscribers run at once, in the
caller's thread and database transaction (the event carries the session), so what they do
commits or rolls back with the change that caused it. ``portti.wiring`` connects every
subscriber in one place; each subscriber returns how many things it ended."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class SessionsEnded:
    """Web sessions ended: the given ones, or (``person_id``) every one of a person but
    ``except_web_session_id``."""

    db: Session
    at: datetime
    reason: str
    web_session_ids: Collection[str] | None = None
    person_id: int | None = None
    except_web_session_id: str | None = None


@dataclass(frozen=True, slots=True)
class SessionRotated:
    """A web session continues under a new id (its id changed when the person stepped up)."""

    db: Session
    old_id: str
    new_id: str


@dataclass(frozen=True, slots=True)
class DeviceEnded:
    """An app was removed, locked or replaced: what it approved ends with it."""

    db: Session
    at: datetime
    reason: str
    device_id: int


@dataclass(frozen=True, slots=True)
class PersonDisowned:
    """The person says someone else acted as them ("This wasn't me"): every login ends."""

    db: Session
    at: datetime
    reason: str
    person_id: int


@dataclass(frozen=True, slots=True)
class MembershipEnded:
    """A person's membership of a company ended, was removed, or is not valid today."""

    db: Session
    at: datetime
    reason: str
    person_id: int
    company_id: int


@dataclass(frozen=True, slots=True)
class CompanyClosed:
    """A company was closed: what was still open for it ends (its memberships end first, each
    with its own :class:`MembershipEnded`)."""

    db: Session
    audit: Any  # the caller's audit log: what a subscriber records joins its trail
    at: datetime
    company_id: int
    audit_actor: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ContactChanged:
    """A person's e-mail address or phone number changed: what was sent to the old ones ends."""

    db: Session
    audit: Any  # the caller's audit log: what a subscriber records joins its trail
    at: datetime
    person_id: int
    audit_actor: Mapping[str, Any] = field(default_factory=dict)


E = TypeVar("E")
Subscriber = Callable[[E], int]


class Hook(Generic[E]):
    """One kind of announcement and its subscribers, called in the order they connected."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._subscribers: list[Subscriber[E]] = []

    def connect(self, subscriber: Subscriber[E]) -> None:
        """Connects ``subscriber`` once; connecting it again changes nothing."""
        if subscriber not in self._subscribers:
            self._subscribers.append(subscriber)

    def disconnect(self, subscriber: Subscriber[E]) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)

    @property
    def subscribers(self) -> tuple[Subscriber[E], ...]:
        return tuple(self._subscribers)

    def fire(self, event: E) -> int:
        """Runs every subscriber with ``event``; returns how many things they ended in all."""
        return sum(subscriber(event) for subscriber in self._subscribers)


sessions_ended: Hook[SessionsEnded] = Hook("sessions_ended")
session_rotated: Hook[SessionRotated] = Hook("session_rotated")
device_ended: Hook[DeviceEnded] = Hook("device_ended")
person_disowned: Hook[PersonDisowned] = Hook("person_disowned")
membership_ended: Hook[MembershipEnded] = Hook("membership_ended")
company_closed: Hook[CompanyClosed] = Hook("company_closed")
contact_changed: Hook[ContactChanged] = Hook("contact_changed")

ALL: tuple[Hook[Any], ...] = (
    sessions_ended,
    session_rotated,
    device_ended,
    person_disowned,
    membership_ended,
    company_closed,
    contact_changed,
)
