"""A company's users list (ADM-1): pages in name order, searched by a name's beginning or
exactly by Portti ID or e-mail address, and each member's status today."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.orm import Session

from portti.companies.models import Membership
from portti.companies.schemas import MemberStatus
from portti.errors import ValidationFailed
from portti.i18n import _l
from portti.people.models import Person
from portti.people.phones import InvalidEmail, normalise_email
from portti.people.portti_id import InvalidPorttiId, normalise_portti_id

PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    items: Sequence[Membership]
    next_cursor: str | None


def sort_name_of(given_name: str, family_name: str) -> str:
    return f"{family_name} {given_name}".casefold()[:201]


def encode_cursor(sort_name: str, membership_id: int) -> str:
    raw = json.dumps([sort_name, membership_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        sort_name, membership_id = json.loads(raw)
        if (
            not isinstance(sort_name, str)
            or not isinstance(membership_id, int)
            or isinstance(membership_id, bool)
        ):
            raise ValueError
    except (ValueError, TypeError) as exc:  # TypeError: JSON that is not a pair at all
        raise ValidationFailed(
            {"cursor": _l("The page link is broken; start from the first page.")}
        ) from exc
    return sort_name, membership_id


def member_status(m: Membership, today: date) -> MemberStatus:
    if m.valid_from is not None and today < m.valid_from:
        return MemberStatus.UPCOMING
    if m.valid_until is not None and today > m.valid_until:
        return MemberStatus.ENDED
    return MemberStatus.ACTIVE


def members_page(
    db: Session,
    company_id: int,
    today: date,
    *,
    query: str = "",
    status: MemberStatus = MemberStatus.ALL,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> Page:
    """One page of the company's members in name order, after ``cursor``."""
    conditions = [Membership.company_id == company_id]
    if status is MemberStatus.ACTIVE:
        conditions += [
            or_(Membership.valid_from.is_(None), Membership.valid_from <= today),
            or_(Membership.valid_until.is_(None), Membership.valid_until >= today),
        ]
    elif status is MemberStatus.UPCOMING:
        conditions.append(Membership.valid_from > today)
    elif status is MemberStatus.ENDED:
        conditions.append(Membership.valid_until < today)
    if cursor:
        after = decode_cursor(cursor)
        conditions.append(tuple_(Membership.sort_name, Membership.id) > tuple_(*after))
    query = " ".join(query.split())
    q = select(Membership)
    if query:
        prefix = query.casefold()
        # The prefix is written as a range so that the (company, sort_name, id) index
        # serves it, in page order.
        by_name = and_(Membership.sort_name >= prefix, Membership.sort_name < prefix + "\U0010ffff")
        person_ids = exactly_matching_person_ids(db, query)
        if not person_ids:
            q = q.where(*conditions, by_name)
        else:
            # "name range OR person" in one query makes the planner walk the whole company
            # in name order (SQLite keeps no statistics unless ANALYZE runs): 80-130 ms at
            # 100,000 members. Two index searches for the ids, then one load, take < 1 ms.
            ids = set(
                db.scalars(
                    select(Membership.id)
                    .where(*conditions, by_name)
                    .order_by(Membership.sort_name, Membership.id)
                    .limit(limit + 1)
                )
            )
            ids.update(
                db.scalars(
                    select(Membership.id).where(*conditions, Membership.person_id.in_(person_ids))
                )
            )
            q = q.where(Membership.id.in_(sorted(ids)))
    else:
        q = q.where(*conditions)
    rows = db.scalars(q.order_by(Membership.sort_name, Membership.id).limit(limit + 1)).all()
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1].sort_name, items[-1].id) if len(rows) > limit else None
    return Page(items, next_cursor)


def exactly_matching_person_ids(db: Session, query: str) -> list[int]:
    """The persons a search names exactly: by Portti ID, or by e-mail address."""
    try:
        pid = normalise_portti_id(query)
    except InvalidPorttiId:
        pid = None
    if pid is not None:
        match = Person.portti_id == pid
    elif "@" in query:
        # Addresses are stored as normalise_email leaves them (domain in lower case, local
        # part as given): match that form and the all-lower-case one, both by the index.
        emails = {query.lower()}
        with contextlib.suppress(InvalidEmail):
            emails.add(normalise_email(query))
        match = Person.email.in_(sorted(emails))
    else:
        return []
    return list(db.scalars(select(Person.id).where(match)))
