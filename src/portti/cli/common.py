"""What the commands share: the consoles, tables, the settings and the key store."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from portti.config import Settings, SettingsError, load_settings

console = Console()
err_console = Console(stderr=True)


def print_table(table: Table) -> None:
    """A table at the terminal's width now (COLUMNS), not at import; piped or redirected, whole
    (a script or a file gets every cell, where a terminal's 80 columns would cut them short)."""
    Console(width=None if sys.stdout.isatty() else 10_000).print(table)


def settings_or_exit() -> Settings:
    """The settings, or each wrong one named on stderr and exit status 2."""
    try:
        return load_settings()
    except SettingsError as exc:
        err_console.print("[red]Portti cannot start: wrong settings[/red]", soft_wrap=True)
        for line in str(exc).splitlines():
            err_console.print(f"  {line}", soft_wrap=True, markup=False)
        raise typer.Exit(2) from None


def with_key_store(settings: Settings, work: Any) -> Any:
    # Imported when the command runs: `portti --help` and every other command start without it.
    from portti.db.session import make_engine, make_session_factory
    from portti.infra.clock import SystemClock
    from portti.keys.services import key_store_for

    engine = make_engine(settings.database_url)
    try:
        return work(key_store_for(settings, make_session_factory(engine), SystemClock()))
    finally:
        engine.dispose()
