"""``portti secrets``: Portti's root secret (PORTTI_SECRET_KEY)."""

from __future__ import annotations

import typer
from rich.table import Table

from portti.cli.common import console, print_table, settings_or_exit

secrets = typer.Typer(help="Portti's root secret (PORTTI_SECRET_KEY).", no_args_is_help=True)


@secrets.command("rotate")
def secrets_rotate() -> None:
    """Seal again under PORTTI_SECRET_KEY whatever a previous secret (PORTTI_PREVIOUS_SECRET_KEYS)
    sealed: Portti's own keys, TOTP seeds, queued messages and the keys that outlive a rotation.
    Run it after every instance runs with the new secret and the previous one; idempotent."""
    # Imported when the command runs: `portti --help` and every other command start without it.
    # portti.schema: every table, for the sealed columns' metadata.
    import portti.schema  # noqa: F401
    from portti.db.session import make_engine, make_session_factory
    from portti.infra.clock import SystemClock
    from portti.infra.secret_material import SecretMaterialError, load, reseal_all

    settings = settings_or_exit()
    ring = settings.secret
    engine = make_engine(settings.database_url)
    try:
        factory = make_session_factory(engine)
        try:
            load(factory, ring, SystemClock())
            changed = reseal_all(factory, ring)
        except SecretMaterialError as e:
            console.print(f"[red]{e}[/red]")
            raise typer.Exit(2) from None
    finally:
        engine.dispose()
    table = Table(title="Sealed again under the current secret")
    table.add_column("Table")
    table.add_column("Rows", justify="right")
    for name, n in changed.items():
        table.add_row(name, str(n))
    print_table(table)
    if ring.previous:
        console.print(
            "Everything sealed is now under the current secret. Remove "
            "PORTTI_PREVIOUS_SECRET_KEYS once the codes made before the rotation have expired "
            "(a day: an invitation's sign-up code lives 24 hours; see docs/operations.md)."
        )
    else:
        console.print("No previous secret is configured: nothing was under another one.")
