"""Notices: the e-mails and SMS that tell people what happened to them, rendered from
``web/templates/email`` and queued in the outbox (``infra.outbox``) in the caller's transaction,
so a notice is sent exactly when the change it speaks of is committed.

Each domain writes its own notices (what happened, the links, who is told) through one
``Notifier``; what they share is here: the language (:func:`recipient_language`). A notice is
read by its recipient, not by whoever caused it, so it follows the recipient's own setting
(``persons.language``), else the default language of their company, else English — never the
language of the request that happened to send it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jinja2 import Environment
from sqlalchemy.orm import Session

from portti.companies.models import Company
from portti.companies.queries import first_company_language
from portti.i18n import DEFAULT, current_choice, supported, use_locale
from portti.infra.outbox import Outbox
from portti.people.models import Person


def recipient_language(
    db: Session, person: Person | None, *, company: Company | None = None, own_request: bool = False
) -> str:
    """The language of an e-mail or SMS to ``person``: their own setting; else, when the mail
    answers their own request, the language their browser named; else the default of
    ``company`` or of the company they joined first; else English."""
    if person is not None and (lang := supported(person.language)):
        return lang
    choice = current_choice()
    if own_request and choice is not None and choice.explicit:
        return choice.language
    default = company.default_language if company is not None else None
    if default is None and person is not None and person.id is not None:
        default = first_company_language(db, person.id)
    return supported(default) or DEFAULT


def render_email(jinja: Environment, template: str, ctx: dict[str, Any]) -> tuple[str, str]:
    """The plain-text and HTML bodies of ``email/<template>``, in the current language."""
    text = jinja.get_template(f"email/{template}.txt").render(ctx)
    html = jinja.get_template(f"email/{template}.html").render(ctx)
    return text, html


class Notifier:
    """Speaks to one recipient at a time: ``in_language_of`` sets their language for the
    wording (subject, dates, templates), ``email`` renders ``email/<template>.txt`` and
    ``.html`` and queues the message."""

    def __init__(self, db: Session, outbox: Outbox, jinja: Environment) -> None:
        self.db = db
        self.outbox = outbox
        self.jinja = jinja

    @contextmanager
    def in_language_of(
        self,
        person: Person | None,
        *,
        company: Company | None = None,
        own_request: bool = False,
    ) -> Iterator[str]:
        language = recipient_language(self.db, person, company=company, own_request=own_request)
        with use_locale(language) as lang:
            yield lang

    def render(self, template: str, ctx: dict[str, Any]) -> tuple[str, str]:
        """The plain-text and HTML bodies of ``email/<template>``."""
        return render_email(self.jinja, template, ctx)

    def email(
        self,
        template: str,
        ctx: dict[str, Any],
        *,
        to: str,
        subject: str,
        kind: str,
        company_id: int | None = None,
        person_id: int | None = None,
    ) -> None:
        text, html = self.render(template, ctx)
        self.outbox.email(
            to=to,
            subject=subject,
            text=text,
            html=html,
            kind=kind,
            company_id=company_id,
            person_id=person_id,
        )
