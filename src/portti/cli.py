"""The ``portti`` command: serve, migrate, seed demo data, run the outbox worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
        _with_key_store(settings, lambda store: store.ensure())
        console.print("The database is up to date.")


def _with_key_store(settings: Settings, work: Any) -> Any:
    from portti.db.session import make_engine, make_session_factory
    from portti.infra.clock import SystemClock
    from portti.keys.services import key_store_for

    engine = make_engine(settings.database_url)
    try:
        return work(key_store_for(settings, make_session_factory(engine), SystemClock()))
    finally:
        engine.dispose()


keys_cli = typer.Typer(help="Portti's own signing and encryption keys.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")


@keys_cli.command("list")
def keys_list() -> None:
    """Show each key: algorithm, generation, key id, when it became (or becomes) active."""
    settings = Settings()

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
        console.print(table)

    _with_key_store(settings, show)


@keys_cli.command("rotate")
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
    settings = Settings()

    def rotate(store: Any) -> None:
        from portti.keys.services import PURPOSES

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

    _with_key_store(settings, rotate)
    _announce_key_rotation(settings)


def _announce_key_rotation(settings: Settings) -> None:
    """Every running instance reads the keys again at once (OIDC-9), over the event bus."""
    import asyncio

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


clients_cli = typer.Typer(
    help="Business applications that log people in through Portti (OpenID clients).",
    no_args_is_help=True,
)
cli.add_typer(clients_cli, name="clients")


@clients_cli.command("register")
def clients_register(
    name: str = typer.Option(..., help="The application's name, shown to people."),
    redirect_uri: list[str] = typer.Option(..., help="Redirect URI (exact match); repeatable."),
    post_logout_redirect_uri: list[str] = typer.Option([], help="Where to return after logout."),
    backchannel_logout_uri: str | None = typer.Option(None, help="Back-channel logout URI."),
    auth_method: str = typer.Option(
        "client_secret_basic", help="client_secret_basic, private_key_jwt or none (public)."
    ),
    jwks_file: Path | None = typer.Option(
        None, help="The client's public JWK set (private_key_jwt)."
    ),
    company_id: list[int] = typer.Option([], help="Only these companies may use it; repeatable."),
    company_selection: bool = typer.Option(False, help="The person picks one company at login."),
    subject_type: str = typer.Option("public", help="public (the Portti ID) or pairwise."),
    json_out: Path | None = typer.Option(
        None, help="Write the registration (with the secret) to this file instead of printing."
    ),
) -> None:
    """Register an application; its secret is shown (or written) this once."""
    import json

    from portti.audit.services import AuditLog
    from portti.db.session import make_engine, make_session_factory
    from portti.infra.clock import SystemClock
    from portti.oidc_provider.clients import ClientInput, ClientService

    settings = Settings()
    data = ClientInput.model_validate(
        {
            "name": name,
            "redirect_uris": redirect_uri,
            "post_logout_redirect_uris": post_logout_redirect_uri,
            "backchannel_logout_uri": backchannel_logout_uri,
            "auth_method": auth_method,
            "jwks": json.loads(jwks_file.read_text()) if jwks_file else None,
            "company_ids": company_id or None,
            "company_selection": company_selection,
            "subject_type": subject_type,
        }
    )
    engine = make_engine(settings.database_url)
    clock = SystemClock()
    try:
        with make_session_factory(engine)() as db:
            reg = ClientService(db, clock, AuditLog(db, clock), settings.secret).register(
                data, actor_person_id=None
            )
            db.commit()
    finally:
        engine.dispose()
    out = {
        **reg.model_dump(mode="json"),
        "issuer": settings.base_url.rstrip("/"),
        "discovery": settings.base_url.rstrip("/") + "/.well-known/openid-configuration",
    }
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(out, indent=2))
        json_out.chmod(0o600)
        console.print(f"Registered {reg.client_id}; written to {json_out}")
    else:
        print(json.dumps(out, indent=2))


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
def backup(target: Path = typer.Argument(..., help="File to write the backup to.")) -> None:
    """Back up the database (SQLite online backup, or pg_dump for PostgreSQL)."""
    from portti.db.backup import backup as do_backup

    do_backup(Settings().database_url, target)
    console.print(f"Backup written to {target}")


@cli.command()
def restore(
    source: Path = typer.Argument(..., help="A backup made by `portti backup`."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Restore the database from a backup, replacing what is there. Stop the service first."""
    from portti.db.backup import restore as do_restore

    if not yes:
        typer.confirm("This replaces the whole database. Continue?", abort=True)
    do_restore(Settings().database_url, source)
    console.print(f"Restored from {source}")


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


@cli.command()
def worker() -> None:
    """Deliver queued e-mail and SMS (the outbox) and OpenID back-channel logout tokens until
    stopped with Ctrl-C or SIGTERM.

    Run it beside `portti serve` with PORTTI_OUTBOX_IN_PROCESS=false, or as extra capacity: any
    number of workers and app instances share the queue without sending a message twice.
    """
    import asyncio
    import signal
    from datetime import timedelta

    import httpx

    from portti.db.session import make_engine, make_session_factory
    from portti.infra.clock import SystemClock
    from portti.infra.logging import configure_logging
    from portti.infra.outbox import build_worker
    from portti.keys.services import key_store_for
    from portti.oidc_provider.backchannel import BackChannelLogout
    from portti.oidc_provider.keys import KeyStoreSigningKeys

    settings = Settings()
    configure_logging(settings.log_level)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    clock = SystemClock()
    outbox_worker = build_worker(settings, factory, clock)
    # OpenID back-channel logout tokens (and the ended-membership sweep) go with the outbox:
    # with PORTTI_OUTBOX_IN_PROCESS=false the app runs neither.
    from portti.infra.tls import ssl_context

    logout_http = httpx.Client(
        timeout=5.0, follow_redirects=False, verify=ssl_context(settings.ca_bundle)
    )
    logouts = BackChannelLogout(
        factory,
        clock,
        KeyStoreSigningKeys(key_store_for(settings, factory, clock)),
        issuer=settings.base_url.rstrip("/"),
        secret=settings.secret,
        http=logout_http,
        sweep_every=timedelta(seconds=settings.oidc_membership_sweep_seconds),
    )

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await asyncio.gather(outbox_worker.run_forever(stop), logouts.run_forever(stop))

    console.print("Delivering the outbox; stop with Ctrl-C.")
    try:
        asyncio.run(run())
    finally:
        logout_http.close()
        engine.dispose()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
