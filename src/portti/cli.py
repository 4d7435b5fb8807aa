"""The ``portti`` command: serve, migrate, seed demo data, run the outbox worker."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from portti.config import Settings

cli = typer.Typer(
    help="Portti: onboarding and login for people without a national e-ID.", no_args_is_help=True
)
console = Console()


@cli.command()
def migrate(
    check: bool = typer.Option(False, help="Only check that models and migrations agree."),
) -> None:
    """Bring the database schema up to date (Alembic)."""
    from portti.db import migrate as m

    settings = Settings()
    if check:
        m.check(settings.database_url)
        console.print("The schema matches the models.")
    else:
        m.upgrade(settings.database_url)
        console.print("The database is up to date.")


@cli.command()
def demo() -> None:
    """Write the demo data (once) and print how to log in as each demo person."""
    from portti.db.session import make_engine, make_session_factory
    from portti.demo import demo_logins, seed_demo
    from portti.infra.clock import SystemClock

    settings = Settings()
    engine = make_engine(settings.database_url)
    created = seed_demo(make_session_factory(engine), SystemClock())
    engine.dispose()
    console.print("Demo data written." if created else "Demo data is there already.")
    table = Table(title="Demo logins at " + settings.base_url)
    for col in ("Person", "Log in with", "Can do"):
        table.add_column(col)
    for row in demo_logins():
        table.add_row(*row)
    console.print(table)


@cli.command()
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1),
) -> None:
    """Serve the web UI and the APIs with uvicorn."""
    import uvicorn

    Settings()  # fail early on bad settings
    uvicorn.run(
        "portti.asgi:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,
        log_level="warning",
        access_log=False,
    )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
