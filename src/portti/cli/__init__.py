"""The ``portti`` command: serve, migrate, seed demo data, run the outbox worker, and the
operator's tasks (keys, secrets, clients, companies, Support people). One module per group of
commands; this one puts them together."""

from __future__ import annotations

import typer

from portti.cli import clients, companies, database, keys, root_secret, server
from portti.cli.common import err_console

cli = typer.Typer(
    help="Portti: onboarding and login for people without a national e-ID.", no_args_is_help=True
)
cli.command()(database.migrate)
cli.add_typer(keys.keys, name="keys")
cli.add_typer(clients.clients, name="clients")
cli.add_typer(companies.companies, name="companies")
cli.add_typer(companies.support, name="support")
cli.command()(database.demo)
cli.command()(database.backup)
cli.command()(database.restore)
cli.add_typer(root_secret.secrets, name="secrets")
cli.command()(database.purge)
cli.command()(server.serve)
cli.command()(server.worker)


def main() -> None:
    # Imported when a command runs, as the commands' own are: `portti --help` starts at once.
    from portti.infra.secret_material import SecretMaterialError
    from portti.wiring import connect_hooks

    connect_hooks()
    try:
        cli()
    except SecretMaterialError as exc:
        # A wrong or missing secret is a setting, told in one line (no traceback).
        err_console.print(f"Portti cannot start: {exc}", soft_wrap=True, markup=False)
        raise SystemExit(2) from None
