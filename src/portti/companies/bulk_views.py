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
import json
import zlib
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.datastructures import FormData, UploadFile

from portti.companies.actors import Actor
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
from portti.companies.deps import CurrentActor, Members
from portti.companies.models import Company, Membership
from portti.companies.policy import AdminGrant
from portti.companies.views import page_context
from portti.errors import DomainError, ValidationFailed
from portti.i18n import _l, current_language, localize
from portti.infra.crypto import SecretBox
from portti.invitations.bulk import InviteOutcome, invite_all, progress
from portti.invitations.deps import Invitations
from portti.invitations.models import Invitation
from portti.invitations.services import InvitationService
from portti.web.csrf import verify_csrf
from portti.web.deps import Id, SettingsDep, Uow
from portti.web.render import NO_STORE, render
from portti.weblogin.models import WebSession
from portti.weblogin.session_deps import CurrentSession

UPLOAD_VALIDITY = timedelta(minutes=30)
# How long the page after adding users may send its "Invite all" as one batch.
BATCH_VALIDITY = timedelta(hours=12)
# The progress page without a batch: the invitations of the last day.
RECENT = timedelta(days=1)
# Who could not be invited, named on the page after the sending (the rest counted).
MAX_NOT_INVITED_SHOWN = 50
# A multipart form field is at most 1 MiB (Starlette); the sealed file must fit in one.
MAX_SEALED_CHARS = 1_000_000
# The upload's whole request: the file and the form around it.
MAX_REQUEST_BYTES = MAX_FILE_BYTES + 64 * 1024


class UploadTooBig(DomainError):
    status = 413
    code = "upload_too_big"
    title = _l("The file is too big")
    message = _l(
        "The file is too big: at most %(size)s MB. Split it into smaller files.",
        size=MAX_FILE_BYTES // (1024 * 1024),
    )


class PreviewExpired(DomainError):
    status = 409
    code = "preview_expired"
    title = _l("The preview has expired")
    message = _l("The preview is too old or from another login. Upload the file again.")


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


async def posted_form(request: Request) -> FormData:
    """The posted form, read on the event loop: the handlers that take it are plain functions,
    run in the thread pool with their database work, as every route's is."""
    return await request.form()


PostedForm = Annotated[FormData, Depends(posted_form)]


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
def preview(
    request: Request,
    form: PostedForm,
    company_id: Id,
    ws: CurrentSession,
    actor: CurrentActor,
    members: Members,
    settings: SettingsDep,
) -> Response:
    company, grant = members.company_for_admin(ws.person_id, company_id)
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise BadFile(_l("Choose the file to upload."))
        data = upload.file.read(MAX_FILE_BYTES + 1)
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
def confirm(
    request: Request,
    form: PostedForm,
    company_id: Id,
    ws: CurrentSession,
    actor: CurrentActor,
    members: Members,
    settings: SettingsDep,
) -> Response:
    company, grant = members.company_for_admin(ws.person_id, company_id)
    token = form.get("upload")
    if not isinstance(token, str):
        raise PreviewExpired()
    now = int(members.clock.now().timestamp())
    data = open_upload(_box(settings), ws, company_id, now, token)
    users: UsersFile = read_users_file(data)
    checked = BulkAddService(members).add(actor, company_id, users)
    added = [r.membership for r in checked.rows if r.membership is not None]
    ctx = _preview_context(request, ws, company, grant, settings, members, checked)
    ctx.update(invite_context(company, added, {}, members.clock.now()))
    return render(request, "users/import_done.html", ctx, headers=NO_STORE)


def invite_context(
    company: Company, added: list[Membership], errors: dict[str, str], batch: datetime
) -> dict[str, Any]:
    return {
        "added": added,
        "to_invite": [m for m in added if needs_the_app(m)],
        "invite_errors": errors,
        "invite_language": company.default_language,
        # When the page with the form was made: one "Invite all" is the invitations sent since.
        "invite_batch": batch.isoformat(),
    }


def batch_start(value: object, now: datetime) -> datetime:
    """The start of one "Invite all" as its form tells it; a missing, future or stale one starts
    a new batch now. (Only what this admin sent since is followed or spared a second sending:
    a changed value can only make the admin's own form send again.)"""
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        at = None
    if at is None:
        return now
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at if now - BATCH_VALIDITY <= at <= now else now


def _invited_since(
    invitations: InvitationService, actor: Actor, company_id: int, ids: list[int], since: datetime
) -> set[int]:
    """The members among ``ids`` this admin has invited in this company since ``since``."""
    persons = {
        person_id: membership_id
        for person_id, membership_id in invitations.db.execute(
            select(Membership.person_id, Membership.id).where(
                Membership.id.in_(ids), Membership.company_id == company_id
            )
        )
    }
    if not persons:
        return set()
    sent = invitations.db.scalars(
        select(Invitation.person_id).where(
            Invitation.company_id == company_id,
            Invitation.inviter_person_id == actor.person_id,
            Invitation.sent_at >= since,
            Invitation.person_id.in_(list(persons)),
        )
    )
    return {persons[p] for p in sent}


def _progress_url(company_id: int, since: datetime, not_invited: str | None) -> str:
    query = {"since": since.isoformat()}
    if not_invited:
        query["n"] = not_invited
    return f"/c/{company_id}/users/import/invitations?{urlencode(query)}"


def seal_not_invited(
    box: SecretBox, ws: WebSession, company_id: int, outcomes: list[InviteOutcome]
) -> str | None:
    """Who could not be invited and why, for the page after the redirect (sealed like an upload:
    the link works only in this login and company)."""
    skipped = [[o.name, o.reason or ""] for o in outcomes if not o.invited]
    if not skipped:
        return None
    shown = skipped[:MAX_NOT_INVITED_SHOWN]
    packed = json.dumps({"rows": shown, "more": len(skipped) - len(shown)})
    data = base64.urlsafe_b64encode(zlib.compress(packed.encode(), 6)).decode()
    return box.seal(data, context=_context(ws, company_id))


def open_not_invited(
    box: SecretBox, ws: WebSession, company_id: int, token: str
) -> tuple[list[tuple[str, str]], int]:
    try:
        data = box.open(token, context=_context(ws, company_id))
        packed = json.loads(zlib.decompress(base64.urlsafe_b64decode(data), bufsize=1 << 20))
        rows = [(str(name), str(reason)) for name, reason in packed["rows"]]
        return rows, int(packed["more"])
    except (InvalidTag, ValueError, TypeError, KeyError, zlib.error):
        return [], 0


@router.get("/invite")
def invite_form_again(company_id: Id, ws: CurrentSession, members: Members) -> Response:
    """The address the invitations are posted to, opened (a bookmark, a reload after going
    back): the form is on the page of the upload."""
    members.company_for_admin(ws.person_id, company_id)
    return RedirectResponse(f"/c/{company_id}/users/import", 303)


@router.post("/invite", response_class=HTMLResponse)
def invite(
    request: Request,
    form: PostedForm,
    company_id: Id,
    ws: CurrentSession,
    actor: CurrentActor,
    members: Members,
    settings: SettingsDep,
    invitations: Invitations,
    uow: Uow,
) -> Response:
    company, grant = members.company_for_admin(ws.person_id, company_id)
    ids = [int(v) for v in form.getlist("m") if isinstance(v, str) and v.isdigit()][:MAX_ROWS]
    language = str(form.get("language") or company.default_language)
    since = batch_start(form.get("batch"), members.clock.now())
    # The same form posted again (a reload, a second click): who got an invitation from it
    # keeps it; sending again would make the first code stop working.
    already = _invited_since(invitations, actor, company_id, ids, since)
    try:
        outcomes = invite_all(
            invitations,
            actor,
            company_id,
            [i for i in ids if i not in already],
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
            **invite_context(company, chosen, exc.errors, since),
            "invite_language": language,
        }
        return render(request, "users/import_invite.html", ctx, status=422)
    not_invited = seal_not_invited(_box(settings), ws, company_id, outcomes)
    # POST-redirect-GET: the page after is the progress, which a reload only reads again.
    return RedirectResponse(_progress_url(company_id, since, not_invited), 303)


@router.get("/invitations", response_class=HTMLResponse)
def invitation_progress(
    request: Request,
    company_id: Id,
    ws: CurrentSession,
    actor: CurrentActor,
    members: Members,
    settings: SettingsDep,
    invitations: Invitations,
) -> Response:
    """The delivery of the invitations of one "Invite all": the page, and its part that follows
    the delivery (htmx). Without ``since``: what this admin sent in the last day."""
    assert actor.person_id is not None  # a page: the actor is the logged-in person
    invitations.policy.require_admin(actor.person_id, company_id)
    given = request.query_params.get("since")
    try:
        since = datetime.fromisoformat(given) if given else members.clock.now() - RECENT
    except ValueError as exc:
        raise ValidationFailed({"since": _l("The page link is broken.")}) from exc
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    ctx: dict[str, Any] = {
        "company_id": company_id,
        "since": since.isoformat(),
        "progress": progress(invitations, actor, company_id, since),
    }
    if request.headers.get("hx-request") == "true":
        return render(request, "users/_import_progress.html", ctx, headers=NO_STORE)
    company, grant = members.company_for_admin(ws.person_id, company_id)
    token = request.query_params.get("n")
    not_invited, more = (
        open_not_invited(_box(settings), ws, company_id, token) if token else ([], 0)
    )
    ctx.update(
        page_context(request, ws, company, grant, settings, members),
        not_invited=not_invited,
        not_invited_more=more,
        recent=not given,
    )
    return render(request, "users/import_invitations.html", ctx, headers=NO_STORE)
