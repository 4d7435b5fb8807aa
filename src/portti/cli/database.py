"""The database: schema migrations, backups, the demo data and the purge of what expired."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from portti.cli.common import console, err_console, print_table, settings_or_exit, with_key_store
from portti.config import Mode


def migrate(
    check: bool = typer.Option(False, help="Only check that models and migrations agree."),
    to: str = typer.Option(
        "head", "--to", metavar="REV", help="Upgrade to this revision only (rolling deploys)."
    ),
    sql: bool = typer.Option(
        False, "--sql", help="Print the SQL instead of running it (PostgreSQL only)."
    ),
) -> None:
    """Bring the database schema up to date (Alembic)."""
    # Imported when the command runs: `portti --help` and every other command start without it.
    from portti.db import migrate as m

    settings = settings_or_exit()
    if check:
        m.check(settings.database_url)
        console.print("The schema matches the models.")
    elif sql:
        try:
            m.upgrade_sql(settings.database_url, to)
        except ValueError as e:
            console.print(f"[red]{e}[/red]")
            raise typer.Exit(2) from None
    else:
        m.upgrade(settings.database_url, to)
        if to == "head":
            with_key_store(settings, lambda store: store.ensure())
            console.print("The database is up to date.")
        else:
            console.print(f"The database is at {m.current_revision(settings.database_url)}.")


def demo(
    force: bool = typer.Option(
        False, "--force", help="Write the demo data even in production mode."
    ),
) -> None:
    """Write the demo data (once) and print how to log in as each demo person."""
    # Imported when the command runs: `portti --help` and every other command start without it.
    from portti.db.session import make_engine, make_session_factory
    from portti.demo import demo_logins, seed_demo
    from portti.infra.clock import SystemClock

    settings = settings_or_exit()
    if settings.mode is Mode.PRODUCTION and not force:
        # Demo people with made-up identity codes and Support rights do not belong in a
        # production database: set it up with `portti companies` and `portti support`.
        err_console.print(
            "[red]Error:[/red] PORTTI_MODE is production: `portti demo` would add made-up "
            "people, one of them Support. Set up a production database with `portti companies "
            "create` and `portti support add` (docs/operations.md); --force writes the demo "
            "data anyway.",
            soft_wrap=True,
        )
        raise typer.Exit(1)
    engine = make_engine(settings.database_url)
    created = seed_demo(make_session_factory(engine), SystemClock())
    engine.dispose()
    console.print("Demo data written." if created else "Demo data is there already.")
    table = Table(title="Demo logins at " + settings.base_url)
    for col in ("Person", "Log in with", "Can do"):
        table.add_column(col)
    for row in demo_logins():
        table.add_row(*row)
    print_table(table)


def backup(target: Path = typer.Argument(..., help="File to write the backup to.")) -> None:
    """Back up the database (SQLite online backup, or pg_dump for PostgreSQL)."""
    # Imported when the command runs: `portti --help` and every other command start without it.
    from portti.db.backup import backup as do_backup

    do_backup(settings_or_exit().database_url, target)
    console.print(f"Backup written to {target}")


def restore(
    source: Path = typer.Argument(..., help="A backup made by `portti backup`."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Restore the database from a backup, replacing what is there. Stop the service first."""
    # Imported when the command runs: `portti --help` and every other command start without it.
    from portti.db.backup import restore as do_restore

    if not yes:
        typer.confirm("This replaces the whole database. Continue?", abort=True)
    do_restore(settings_or_exit().database_url, source)
    console.print(f"Restored from {source}")


def purge() -> None:
    """Remove what expired or ended (login transactions, codes, challenges, OIDC flows and codes,
    refresh tokens, sessions, sent messages) and audit events past their retention, which are
    first written to PORTTI_AUDIT_EXPORT_DIR as JSON lines. `portti worker` runs the same purge
    every PORTTI_PURGE_INTERVAL_MINUTES."""
    # Imported when the command runs: `portti --help` and every other command start without it.
    from portti.db.session import make_engine
    from portti.infra.clock import SystemClock
    from portti.retention import purge_with

    settings = settings_or_exit()
    engine = make_engine(settings.database_url)
    try:
        report = purge_with(settings, engine, SystemClock().now())
    finally:
        engine.dispose()
    table = Table(title="Purged")
    table.add_column("Table")
    table.add_column("Rows removed", justify="right")
    for name, n in report.removed.items():
        table.add_row(name, str(n))
    print_table(table)
    if report.audit_exported_to:
        console.print(f"Audit events written to {report.audit_exported_to} before removal.")
    if report.audit_kept_because:
        console.print(f"The audit log was kept whole: {report.audit_kept_because}.")
