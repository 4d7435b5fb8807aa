"""``portti keys``: Portti's own signing and encryption keys."""

from __future__ import annotations

import asyncio
from typing import Any

import typer
from rich.table import Table

from portti.cli.common import console, print_table, settings_or_exit, with_key_store
from portti.config import Settings

keys = typer.Typer(help="Portti's own signing and encryption keys.", no_args_is_help=True)


@keys.command("list")
def keys_list() -> None:
    """Show each key: algorithm, generation, key id, when it became (or becomes) active."""
    settings = settings_or_exit()

    def show(store: Any) -> None:
        published = {k.kid for k in store.published()}
        table = Table(title="Portti's keys")
        for col in ("Purpose", "Algorithm", "Generation", "Key id", "Active from", "Published"):
            table.add_column(col)
        for purpose, alg in sorted({(k.purpose, k.alg) for k in store._all()}):
            for k in store.generations(alg, purpose):
                table.add_row(
                    purpose,
                    alg,
                    str(k.generation),
                    k.kid,
                    k.active_from.isoformat(timespec="seconds"),
                    "yes" if k.kid in published else "no",
                )
        print_table(table)

    with_key_store(settings, show)


@keys.command("rotate")
def keys_rotate(
    alg: list[str] = typer.Option(
        [], "--alg", help="Algorithm(s) to rotate (default: every one in use)."
    ),
    immediately: bool = typer.Option(
        False, help="Use the new key at once (a compromised key), without pre-publication."
    ),
    purpose: list[str] = typer.Option(
        [],
        "--purpose",
        help="op (the provider's tokens) and/or rp (assertions to brokers); default: both.",
    ),
) -> None:
    """Make the next key: published now, used after PORTTI_KEYS_PREPUBLISH_HOURS."""
    # Imported when the command runs: `portti --help` and every other command start without it.
    from portti.keys.services import PURPOSES

    settings = settings_or_exit()

    def rotate(store: Any) -> None:
        store.ensure()
        unknown = [p for p in purpose if p not in PURPOSES]
        if unknown:
            raise typer.BadParameter(f"unknown purpose {unknown[0]!r}: use op or rp")
        for key_purpose in purpose or list(PURPOSES):
            for name in alg or PURPOSES[key_purpose]:
                if name not in PURPOSES[key_purpose]:
                    continue
                key = store.rotate(name, immediately=immediately, purpose=key_purpose)
                console.print(
                    f"{key_purpose} {name}: key {key.kid} (generation {key.generation}) "
                    f"active from {key.active_from.isoformat(timespec='seconds')}"
                )

    with_key_store(settings, rotate)
    _announce_key_rotation(settings)


def _announce_key_rotation(settings: Settings) -> None:
    """Every running instance reads the keys again at once (OIDC-9), over the event bus."""
    # Imported when the command runs: `portti --help` and every other command start without it.
    from portti.infra.events import make_event_bus
    from portti.keys.services import announce_rotation

    if settings.event_bus_url.startswith("memory://"):
        console.print(
            "PORTTI_EVENT_BUS_URL is memory://: running servers read the keys again within "
            "30 seconds (restart them to use the new keys at once)."
        )
        return

    async def announce() -> None:
        events = make_event_bus(settings.event_bus_url, settings.database_url)
        await events.start()
        try:
            await announce_rotation(events)
        finally:
            await events.close()

    asyncio.run(announce())
    console.print("Running servers were told to read the keys again.")
