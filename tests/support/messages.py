"""Reading queued e-mail and SMS in tests (bodies are sealed in the outbox)."""

from __future__ import annotations

import json
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from portti.infra.outbox import OutboxMessage, body_context, outbox_box


def queued(
    db: Session, secret: bytes, *, channel: str, to: str | None = None
) -> list[dict[str, str]]:
    db.expire_all()
    q = select(OutboxMessage).where(OutboxMessage.channel == channel).order_by(OutboxMessage.id)
    if to is not None:
        q = q.where(OutboxMessage.recipient == to)
    box = outbox_box(secret)
    out = []
    for m in db.scalars(q):
        body = (
            json.loads(box.open(m.sealed_body, context=body_context(m.id))) if m.sealed_body else {}
        )
        out.append({"to": m.recipient, "subject": m.subject or "", "kind": m.kind, **body})
    return out


def signup_code_in(text: str) -> str:
    m = re.search(r"\b(\d{4} \d{4} \d{4} \d{4})\b", text)
    assert m, "no sign-up code in the message"
    return m.group(1).replace(" ", "")


def sms_code_in(text: str) -> str:
    m = re.search(r"\b(\d{6})\b", text)
    assert m, "no confirmation code in the SMS"
    return m.group(1)
