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
    to: str = typer.Option(
        "head", "--to", metavar="REV", help="Upgrade to this revision only (rolling deploys)."
    ),
    sql: bool = typer.Option(
        False, "--sql", help="Print the SQL instead of running it (PostgreSQL only)."
    ),
) -> None:
    """Bring the database schema up to date (Alembic)."""
    from portti.db import migrate as m

    settings = Settings()
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
            _with_key_store(settings, lambda store: store.ensure())
            console.print("The database is up to date.")
        else:
            console.print(f"The database is at {m.current_revision(settings.database_url)}.")


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
        for col in ("Algorithm", "Generation", "Key id", "Active from", "Published"):
            table.add_column(col)
        for alg in sorted({k.alg for k in store._all()}):
            for k in store.generations(alg):
                table.add_row(
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
) -> None:
    """Make the next key: published now, used after PORTTI_KEYS_PREPUBLISH_HOURS."""
    settings = Settings()

    def rotate(store: Any) -> None:
        from portti.keys.services import ENCRYPTION_ALGORITHMS, SIGNING_ALGORITHMS

        store.ensure()
        for name in alg or [*SIGNING_ALGORITHMS, *ENCRYPTION_ALGORITHMS]:
            key = store.rotate(name, immediately=immediately)
            console.print(
                f"{name}: key {key.kid} (generation {key.generation}) "
                f"active from {key.active_from.isoformat(timespec='seconds')}"
            )

    _with_key_store(settings, rotate)


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
    scope: list[str] = typer.Option(
        [],
        help="A scope it may ask for (openid is always allowed); repeatable. Default: openid "
        "profile email companies. offline_access: refresh tokens that outlive the session.",
    ),
    id_token_alg: str = typer.Option("RS256", help="ID token signing: RS256, PS256 or ES256."),
    first_party: bool = typer.Option(
        False, help="Portti's own application: people are not asked for consent."
    ),
    web_origin: list[str] = typer.Option(
        [], help="Origin of its single-page app allowed by CORS (https://app.example); repeatable."
    ),
    json_out: Path | None = typer.Option(
        None, help="Write the registration (with the secret) to this file instead of printing."
    ),
) -> None:
    """Register an application; its secret is shown (or written) this once."""
    import json

    from pydantic import ValidationError

    from portti.audit.services import AuditLog
    from portti.db.session import make_engine, make_session_factory
    from portti.infra.clock import SystemClock
    from portti.infra.secret_material import load as load_secret_material
    from portti.oidc_provider.clients import ClientInput, ClientService

    settings = Settings()
    fields: dict[str, object] = {
        "name": name,
        "redirect_uris": redirect_uri,
        "post_logout_redirect_uris": post_logout_redirect_uri,
        "backchannel_logout_uri": backchannel_logout_uri,
        "auth_method": auth_method,
        "jwks": json.loads(jwks_file.read_text()) if jwks_file else None,
        "company_ids": company_id or None,
        "company_selection": company_selection,
        "subject_type": subject_type,
        "id_token_signed_response_alg": id_token_alg,
        "first_party": first_party,
        "web_origins": web_origin,
    }
    if scope:
        fields["allowed_scopes"] = ["openid", *[s for s in scope if s != "openid"]]
    try:
        data = ClientInput.model_validate(fields)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "client"
            typer.echo(f"{where}: {error['msg']}", err=True)
        raise typer.Exit(2) from None
    engine = make_engine(settings.database_url)
    clock = SystemClock()
    try:
        load_secret_material(make_session_factory(engine), settings.secret, clock)
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


secrets_cli = typer.Typer(help="Portti's root secret (PORTTI_SECRET_KEY).", no_args_is_help=True)
cli.add_typer(secrets_cli, name="secrets")


@secrets_cli.command("rotate")
def secrets_rotate() -> None:
    """Seal again under PORTTI_SECRET_KEY whatever a previous secret (PORTTI_PREVIOUS_SECRET_KEYS)
    sealed: Portti's own keys, TOTP seeds, queued messages and the keys that outlive a rotation.
    Run it after every instance runs with the new secret and the previous one; idempotent."""
    import portti.db.models  # noqa: F401  (every table, for the sealed columns' metadata)
    from portti.db.session import make_engine, make_session_factory
    from portti.infra.clock import SystemClock
    from portti.infra.secret_material import SecretMaterialError, load, reseal_all

    settings = Settings()
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
    console.print(table)
    if ring.previous:
        console.print(
            "Everything sealed is now under the current secret. Remove "
            "PORTTI_PREVIOUS_SECRET_KEYS once the codes made before the rotation have expired "
            "(an invitation's sign-up code lives 14 days; see docs/operations.md)."
        )
    else:
        console.print("No previous secret is configured: nothing was under another one.")


@cli.command()
def purge() -> None:
    """Remove what expired or ended (login transactions, codes, challenges, OIDC flows and codes,
    refresh tokens, sessions, sent messages) and audit events past their retention, which are
    first written to PORTTI_AUDIT_EXPORT_DIR as JSON lines. `portti worker` runs the same purge
    every PORTTI_PURGE_INTERVAL_MINUTES."""
    from portti.db.session import make_engine
    from portti.infra.clock import SystemClock
    from portti.retention import purge_with

    settings = Settings()
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
    console.print(table)
    if report.audit_exported_to:
        console.print(f"Audit events written to {report.audit_exported_to} before removal.")
    if report.audit_kept_because:
        console.print(f"The audit log was kept whole: {report.audit_kept_because}.")


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
    from portti.infra.secret_material import load as load_secret_material
    from portti.keys.services import key_store_for
    from portti.oidc_provider.backchannel import BackChannelLogout
    from portti.oidc_provider.keys import KeyStoreSigningKeys
    from portti.retention import run_purges

    settings = Settings()
    configure_logging(settings.log_level)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    clock = SystemClock()
    load_secret_material(factory, settings.secret, clock)
    outbox_worker = build_worker(settings, factory, clock)
    # OpenID back-channel logout tokens (and the ended-membership sweep) go with the outbox:
    # with PORTTI_OUTBOX_IN_PROCESS=false the app runs neither.
    logout_http = httpx.Client(timeout=5.0, follow_redirects=False)
    logouts = BackChannelLogout(
        factory,
        clock,
        KeyStoreSigningKeys(key_store_for(settings, factory, clock)),
        issuer=settings.base_url.rstrip("/"),
        secret=settings.secret,
        http=logout_http,
        sweep_every=timedelta(seconds=settings.oidc_membership_sweep_seconds),
        session_idle=timedelta(minutes=settings.session_idle_minutes),
    )

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await asyncio.gather(
            outbox_worker.run_forever(stop),
            logouts.run_forever(stop),
            run_purges(settings, engine, clock, stop),
        )

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
