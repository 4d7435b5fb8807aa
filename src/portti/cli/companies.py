"""``portti companies`` and ``portti support``: the day-one set-up of companies, accounting
offices, the operator and its Support people."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from portti.cli.common import console, err_console, print_table, settings_or_exit

companies = typer.Typer(
    help="Companies, accounting offices and the operator company (day-one set-up).",
    no_args_is_help=True,
)
support = typer.Typer(help="Support people (the operator's staff).", no_args_is_help=True)


def _bootstrap(work: Any) -> None:
    """Runs one set-up operation in a transaction and prints what it did; a refusal is one
    readable line on stderr and exit status 1, with nothing changed."""
    # Imported when the command runs: `portti --help` and every other command start without it.
    from portti.audit.services import AuditLog
    from portti.companies.bootstrap import Bootstrap, BootstrapError
    from portti.db.session import make_engine, make_session_factory
    from portti.infra.clock import SystemClock

    settings = settings_or_exit()
    engine = make_engine(settings.database_url)
    clock = SystemClock()
    try:
        with make_session_factory(engine)() as db:
            try:
                result = work(Bootstrap(db, clock, AuditLog(db, clock)))
            except BootstrapError as exc:
                db.rollback()
                err_console.print(f"[red]Error:[/red] {exc}", soft_wrap=True)
                raise typer.Exit(1) from None
            db.commit()
    finally:
        engine.dispose()
    console.print(result.message, soft_wrap=True)


@companies.command("create")
def companies_create(
    name: str = typer.Option(..., help="The company's name."),
    business_id: str = typer.Option(..., help="Finnish business ID (Y-tunnus), e.g. 2345678-0."),
    kind: str = typer.Option(
        "company", help="company, accounting_office, or operator (the service operator)."
    ),
    language: str = typer.Option("fi", help="Default language of its pages: fi, sv or en."),
    timezone: str = typer.Option("Europe/Helsinki", help="Its time zone (IANA name)."),
) -> None:
    """Create a company; with the same details again, nothing changes."""
    # Imported when the command runs: `portti --help` and every other command start without it.
    from portti.companies.bootstrap import BootstrapError
    from portti.companies.models import CompanyKind

    def create(b: Any) -> Any:
        try:
            company_kind = CompanyKind(kind)
        except ValueError:
            raise BootstrapError(
                f"{kind!r} is not a kind of company: company, accounting_office or operator"
            ) from None
        return b.create_company(
            name=name,
            business_id=business_id,
            kind=company_kind,
            language=language,
            timezone=timezone,
        )

    _bootstrap(create)


@companies.command("list")
def companies_list() -> None:
    """Show every company: id, name, business ID, kind, its accounting office, language, zone."""
    # Imported when the command runs: `portti --help` and every other command start without it.
    from sqlalchemy import select

    from portti.companies.models import Company
    from portti.db.session import make_engine, make_session_factory

    settings = settings_or_exit()
    engine = make_engine(settings.database_url)
    table = Table(title="Companies")
    for col in ("Id", "Name", "Business ID", "Kind", "Accounting office", "Language", "Time zone"):
        table.add_column(col)
    try:
        with make_session_factory(engine)() as db:
            for c in db.scalars(select(Company).order_by(Company.name, Company.id)):
                office = c.accounting_office
                table.add_row(
                    str(c.id),
                    c.name,
                    c.business_id or "",
                    c.kind,
                    f"{office.name} ({office.business_id})" if office else "",
                    c.default_language,
                    c.timezone,
                )
    finally:
        engine.dispose()
    print_table(table)


@companies.command("link-office")
def companies_link_office(
    office: str = typer.Option(..., help="The accounting office's business ID."),
    client: str = typer.Option(..., help="The client company's business ID."),
    replace: bool = typer.Option(False, help="Move a client another office serves."),
) -> None:
    """Let an accounting office serve a client company (its TPK users administer it)."""
    _bootstrap(lambda b: b.link_office(office=office, client=client, replace=replace))


@support.command("add")
def support_add(
    given_name: str = typer.Option(..., help="Given name."),
    family_name: str = typer.Option(..., help="Family name."),
    hetu: str = typer.Option(
        ...,
        prompt="Finnish personal identity code",
        hide_input=True,
        help="Finnish personal identity code; asked for (or read from standard input) when "
        "not given, so that it stays out of the shell history.",
    ),
    email: str | None = typer.Option(None, help="E-mail address."),
    operator: str | None = typer.Option(
        None, help="The operator company's business ID (needed only when unclear)."
    ),
) -> None:
    """Make a person Support (every company): they then log in with Finnish bank ID."""
    _bootstrap(
        lambda b: b.add_support(
            hetu=hetu,
            given_name=given_name,
            family_name=family_name,
            email=email,
            operator=operator,
        )
    )
