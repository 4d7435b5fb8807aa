"""HTML routes of "Add users from a file" (PRV-4): the upload page and its template, the preview,
the adding, and inviting those who need the app.

Between the preview and "Add N users" the upload is kept by the page itself, sealed: the confirm
form carries the file compressed and encrypted with AES-GCM under a key derived from the root
secret, bound to the admin's web session and the company, stamped with its time. The browser can
neither read nor change it, another session or company cannot use it, and it is refused after
``UPLOAD_VALIDITY``. Nothing is taken from it on trust: the confirm reads the file again and
checks every row again against the database as it is then. No table, no purge.
"""

from __future__ import annotations

import base64
import zlib
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from portti.companies.bulk import BulkAddService, Checked, needs_the_app
from portti.companies.csv_file import (
    COLUMNS,
    MAX_FILE_BYTES,
    MAX_ROWS,
    REQUIRED,
    BadFile,
    UsersFile,
    read_users_file,
    template_csv,
)
from portti.companies.models import Company, Membership
from portti.companies.policy import AdminGrant
from portti.companies.views import page_context
from portti.errors import DomainError, ValidationFailed
from portti.i18n import _l, current_language, localize
from portti.infra.crypto import SecretBox
from portti.invitations.bulk import invite_all, progress
from portti.invitations.deps import Invitations, wake_outbox
from portti.web.csrf import verify_csrf
from portti.web.deps import CurrentActor, CurrentSession, Id, Members, SettingsDep, Uow
from portti.web.render import NO_STORE, render
from portti.weblogin.models import WebSession

UPLOAD_VALIDITY = timedelta(minutes=30)
# A multipart form field is at most 1 MiB (Starlette); the sealed file must fit in one.
MAX_SEALED_CHARS = 1_000_000
# The upload's whole request: the file and the form around it.
MAX_REQUEST_BYTES = MAX_FILE_BYTES + 64 * 1024


class UploadTooBig(DomainError):
    status = 413
    code = "upload_too_big"
    title = _l("The file is too big")

    def __init__(self) -> None:
        super().__init__(
            _l(
                "The file is too big: at most %(size)s MB. Split it into smaller files.",
                size=MAX_FILE_BYTES // (1024 * 1024),
            )
        )


class PreviewExpired(DomainError):
    status = 409
    code = "preview_expired"
    title = _l("The preview has expired")

    def __init__(self) -> None:
        super().__init__(
            _l("The preview is too old or from another login. Upload the file again."),
        )


async def limit_upload(request: Request) -> None:
    """Refuses an oversized upload from its Content-Length, before the form is read."""
    if request.method == "POST":
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_REQUEST_BYTES:
            raise UploadTooBig()


router = APIRouter(
    prefix="/c/{company_id}/users/import",
    dependencies=[Depends(limit_upload), Depends(verify_csrf)],
    include_in_schema=False,
)


def _box(settings: SettingsDep) -> SecretBox:
    return SecretBox(settings.secret, "csv-upload")


def _context(ws: WebSession, company_id: int) -> str:
    return f"{ws.id}|{company_id}"


def seal_upload(box: SecretBox, ws: WebSession, company_id: int, at: int, data: bytes) -> str:
    packed = base64.b64encode(zlib.compress(data, 6)).decode()
    return box.seal(f"{at}|{packed}", context=_context(ws, company_id))


def open_upload(box: SecretBox, ws: WebSession, company_id: int, now: int, token: str) -> bytes:
    try:
        at, packed = box.open(token, context=_context(ws, company_id)).split("|", 1)
        if not 0 <= now - int(at) <= UPLOAD_VALIDITY.total_seconds():
            raise PreviewExpired()
        return zlib.decompress(base64.b64decode(packed), bufsize=MAX_FILE_BYTES)
    except (InvalidTag, ValueError, zlib.error) as exc:
        raise PreviewExpired() from exc


def upload_context(
    request: Request,
    ws: WebSession,
    company: Company,
    grant: AdminGrant,
    settings: SettingsDep,
    members: Members,
    error: str | None = None,
) -> dict[str, Any]:
    bulk = BulkAddService(members)
    return {
        **page_context(request, ws, company, grant, settings, members),
        "columns": COLUMNS,
        "required": REQUIRED,
        "roles": members.available_roles(grant, company),
        "role_names": bulk.template_roles(grant, company),
        "max_rows": MAX_ROWS,
        "max_mb": MAX_FILE_BYTES // (1024 * 1024),
        "error": error,
    }


@router.get("", response_class=HTMLResponse)
def upload_page(
    request: Request, company_id: Id, ws: CurrentSession, members: Members, settings: SettingsDep
) -> Response:
    company, grant = members.company_for_admin(ws.person_id, company_id)
    ctx = upload_context(request, ws, company, grant, settings, members)
    if not ctx["stepped_up"]:
        return RedirectResponse(f"/step-up?next=/c/{company_id}/users/import", 303)
    return render(request, "users/import.html", ctx)


@router.get("/template.csv")
def download_template(company_id: Id, ws: CurrentSession, members: Members) -> Response:
    company, grant = members.company_for_admin(ws.person_id, company_id)
    names = BulkAddService(members).template_roles(grant, company)
    return Response(
        template_csv(names, current_language()).encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="portti-users.csv"', **NO_STORE},
    )


def _preview_context(
    request: Request,
    ws: WebSession,
    company: Company,
    grant: AdminGrant,
    settings: SettingsDep,
    members: Members,
    checked: Checked,
) -> dict[str, Any]:
    return {
        **page_context(request, ws, company, grant, settings, members),
        "checked": checked,
        "role_names": {r.code: r.name for r in members.available_roles(grant, company)},
    }


@router.post("", response_class=HTMLResponse)
async def preview(
    request: Request,
    company_id: Id,
    ws: CurrentSession,
    actor: CurrentActor,
    members: Members,
    settings: SettingsDep,
) -> Response:
    company, grant = members.company_for_admin(ws.person_id, company_id)
    form = await request.form()
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise BadFile(_l("Choose the file to upload."))
        data = await upload.read(MAX_FILE_BYTES + 1)
        users = read_users_file(data)
        checked = BulkAddService(members).preview(actor, company_id, users)
        sealed = seal_upload(
            _box(settings), ws, company_id, int(members.clock.now().timestamp()), data
        )
        if len(sealed) > MAX_SEALED_CHARS:
            raise BadFile(_l("The file is too big to add at once. Split it into smaller files."))
    except BadFile as exc:
        ctx = upload_context(
            request, ws, company, grant, settings, members, str(localize(exc.errors["file"]))
        )
        return render(request, "users/import.html", ctx, status=422)
    ctx = _preview_context(request, ws, company, grant, settings, members, checked)
    ctx["sealed"] = sealed
    return render(request, "users/import_preview.html", ctx, headers=NO_STORE)


@router.post("/confirm", response_class=HTMLResponse)
async def confirm(
    request: Request,
    company_id: Id,
    ws: CurrentSession,
    actor: CurrentActor,
    members: Members,
    settings: SettingsDep,
) -> Response:
    company, grant = members.company_for_admin(ws.person_id, company_id)
    form = await request.form()
    token = form.get("upload")
    if not isinstance(token, str):
        raise PreviewExpired()
    now = int(members.clock.now().timestamp())
    data = open_upload(_box(settings), ws, company_id, now, token)
    users: UsersFile = read_users_file(data)
    checked = BulkAddService(members).add(actor, company_id, users)
    added = [r.membership for r in checked.rows if r.membership is not None]
    ctx = _preview_context(request, ws, company, grant, settings, members, checked)
    ctx.update(invite_context(company, added, {}))
    return render(request, "users/import_done.html", ctx, headers=NO_STORE)


def invite_context(
    company: Company, added: list[Membership], errors: dict[str, str]
) -> dict[str, Any]:
    return {
        "added": added,
        "to_invite": [m for m in added if needs_the_app(m)],
        "invite_errors": errors,
        "invite_language": company.default_language,
    }


@router.post("/invite", response_class=HTMLResponse)
async def invite(
    request: Request,
    company_id: Id,
    ws: CurrentSession,
    actor: CurrentActor,
    members: Members,
    settings: SettingsDep,
    invitations: Invitations,
    uow: Uow,
) -> Response:
    company, grant = members.company_for_admin(ws.person_id, company_id)
    form = await request.form()
    ids = [int(v) for v in form.getlist("m") if isinstance(v, str) and v.isdigit()][:MAX_ROWS]
    language = str(form.get("language") or company.default_language)
    since = members.clock.now()
    try:
        outcomes = invite_all(
            invitations,
            actor,
            company_id,
            ids,
            identity_verified=form.get("identity_verified") == "yes",
            language=language,
        )
    except ValidationFailed as exc:
        uow.refused(exc)
        chosen = [
            m
            for m in (members.db.get(Membership, i) for i in ids)
            if m is not None and m.company_id == company_id
        ]
        ctx = {
            **page_context(request, ws, company, grant, settings, members),
            **invite_context(company, chosen, exc.errors),
            "invite_language": language,
        }
        return render(request, "users/import_invite.html", ctx, status=422)
    uow.after_commit(partial(wake_outbox, request))
    return render(
        request,
        "users/import_invitations.html",
        {
            **page_context(request, ws, company, grant, settings, members),
            "outcomes": outcomes,
            "since": since.isoformat(),
            "progress": progress(invitations, actor, company_id, since),
        },
    )


@router.get("/invitations", response_class=HTMLResponse)
def invitation_progress(
    request: Request, company_id: Id, actor: CurrentActor, invitations: Invitations
) -> Response:
    """The delivery of the invitations of one "Invite all", for the page to follow (htmx)."""
    assert actor.person_id is not None  # a page: the actor is the logged-in person
    invitations.policy.require_admin(actor.person_id, company_id)
    try:
        since = datetime.fromisoformat(request.query_params.get("since", ""))
    except ValueError as exc:
        raise ValidationFailed({"since": _l("The page link is broken.")}) from exc
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return render(
        request,
        "users/_import_progress.html",
        {
            "company_id": company_id,
            "since": since.isoformat(),
            "progress": progress(invitations, actor, company_id, since),
        },
    )
