"""The dev mailbox pages (OPS-1): e-mail and SMS the dev transports kept, in demo and test mode.

``GET /dev/mailbox`` lists them, ``GET /dev/mailbox/{id}`` shows one e-mail with its text body,
and ``GET /dev/mailbox.json`` gives the same with bodies to scripts and the reference app client
(which reads its SMS code there). ``create_app`` mounts this router only when ``settings.demo``;
each route checks the mode again, so production answers 404 whatever the wiring.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from markupsafe import Markup, escape

from portti.infra.devmailbox import DevMailbox, OpenedDevMessage, make_dev_mailbox
from portti.web.deps import ClockDep, Id, SettingsDep
from portti.web.kit import kit
from portti.web.render import render


def demo_only(settings: SettingsDep) -> None:
    if not settings.demo:
        raise HTTPException(status_code=404, detail="There is no such page.")


router = APIRouter(prefix="/dev", dependencies=[Depends(demo_only)], include_in_schema=False)


def get_dev_mailbox(request: Request, settings: SettingsDep, clock: ClockDep) -> DevMailbox:
    return make_dev_mailbox(settings, kit(request).session_factory, clock)


Mailbox = Annotated[DevMailbox, Depends(get_dev_mailbox)]

DATA_IMAGE = re.compile(
    r'src="(data:image/(?:png|gif|jpeg);base64,[A-Za-z0-9+/=]+)"[^>]*?alt="([^"]*)"'
)
URL_RE = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def linkify(text: str) -> Markup:
    """The text, escaped, with its web addresses as links (invitation and activation links)."""
    out: list[str] = []
    last = 0
    for m in URL_RE.finditer(text):
        out.append(escape(text[last : m.start()]))
        url = escape(m.group(0))
        out.append(Markup('<a href="{0}">{0}</a>').format(url))
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def as_json(m: OpenedDevMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "channel": m.channel,
        "to": m.recipient,
        "subject": m.subject,
        "kind": m.kind,
        "created_at": m.created_at.isoformat(),
        "text": m.text,
        "html": m.html,
    }


@router.get("/mailbox")
def mailbox_page(request: Request, mailbox: Mailbox, settings: SettingsDep) -> Response:
    return render(
        request,
        "dev/mailbox.html",
        {"messages": mailbox.latest(limit=200), "mode": settings.mode.value},
    )


@router.get("/mailbox.json")
def mailbox_json(
    mailbox: Mailbox,
    to: str | None = None,
    channel: Literal["email", "sms"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JSONResponse:
    """Newest first, with bodies: ``?to=`` and ``?channel=`` narrow it down."""
    messages = mailbox.latest(channel=channel, recipient=to, limit=limit)
    return JSONResponse([as_json(m) for m in messages])


@router.get("/mailbox/{message_id}")
def message_page(request: Request, mailbox: Mailbox, message_id: Id) -> Response:
    message = mailbox.get(message_id)
    if message is None:
        raise HTTPException(status_code=404, detail="There is no such message.")
    return render(
        request,
        "dev/message.html",
        {
            "message": message,
            "text_body": linkify(message.text),
            # The HTML part's images (the app's QR code), as a mail client shows them inline.
            "images": DATA_IMAGE.findall(message.html or ""),
        },
    )
