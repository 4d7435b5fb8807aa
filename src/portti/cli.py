"""The ``portti`` command: serve, migrate, seed demo data, run the outbox worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog
import typer
from rich.console import Console
from rich.table import Table

from portti.config import Settings, SettingsError, load_settings
from portti.errors import field_message
from portti.wiring import connect_hooks

cli = typer.Typer(
    help="Portti: onboarding and login for people without a national e-ID.", no_args_is_help=True
)
console = Console()
err_console = Console(stderr=True)


def print_table(table: Table) -> None:
    """A table at the terminal's width now (COLUMNS), not at import; piped or redirected, whole
    (a script or a file gets every cell, where a terminal's 80 columns would cut them short)."""
    import sys

    Console(width=None if sys.stdout.isatty() else 10_000).print(table)


def _settings() -> Settings:
    """The settings, or each wrong one named on stderr and exit status 2."""
    try:
        return load_settings()
    except SettingsError as exc:
        err_console.print("[red]Portti cannot start: wrong settings[/red]", soft_wrap=True)
        for line in str(exc).splitlines():
            err_console.print(f"  {line}", soft_wrap=True, markup=False)
        raise typer.Exit(2) from None


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

    settings = _settings()
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
    settings = _settings()

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
    settings = _settings()

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

    settings = _settings()
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
            typer.echo(f"{where}: {field_message(error['msg'])}", err=True)
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


@clients_cli.command("register-machine")
def clients_register_machine(
    name: str = typer.Option(..., help="The business software's name (the audit log shows it)."),
    scope: list[str] = typer.Option(
        ...,
        help="What it may do; repeatable: companies:write, members:read, members:write, scim.",
    ),
    company_id: list[int] = typer.Option([], help="A company it may act on; repeatable."),
    all_companies: bool = typer.Option(
        False, help="Every company, and it may create companies (instead of --company-id)."
    ),
    auth_method: str = typer.Option(
        "client_secret_basic", help="client_secret_basic or private_key_jwt."
    ),
    jwks_file: Path | None = typer.Option(
        None, help="The client's public JWK set (private_key_jwt)."
    ),
    json_out: Path | None = typer.Option(
        None, help="Write the registration (with the secret) to this file instead of printing."
    ),
) -> None:
    """Register a machine client (client credentials, PRV-1); its secret is shown (or written)
    this once."""
    import json

    from pydantic import ValidationError

    from portti.audit.services import AuditLog
    from portti.db.session import make_engine, make_session_factory
    from portti.errors import DomainError
    from portti.infra.clock import SystemClock
    from portti.infra.secret_material import load as load_secret_material
    from portti.machines.registry import MachineClientInput, MachineClientService
    from portti.oidc_provider.clients import ClientService

    if all_companies == bool(company_id):
        typer.echo(
            "Give either --company-id (repeatable) for the companies it may act on, or "
            "--all-companies for every company" + (", not both." if all_companies else "."),
            err=True,
        )
        raise typer.Exit(2)
    settings = _settings()
    try:
        data = MachineClientInput.model_validate(
            {
                "name": name,
                "scopes": scope,
                "companies": "all" if all_companies else company_id,
                "auth_method": auth_method,
                "jwks": json.loads(jwks_file.read_text()) if jwks_file else None,
            }
        )
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "client"
            typer.echo(f"{where}: {field_message(error['msg'])}", err=True)
        raise typer.Exit(2) from None
    engine = make_engine(settings.database_url)
    clock = SystemClock()
    try:
        load_secret_material(make_session_factory(engine), settings.secret, clock)
        with make_session_factory(engine)() as db:
            clients = ClientService(db, clock, AuditLog(db, clock), settings.secret)
            try:
                reg = MachineClientService(clients).register(data, actor_person_id=None)
            except DomainError as exc:
                typer.echo(str(exc), err=True)
                raise typer.Exit(2) from None
            db.commit()
    finally:
        engine.dispose()
    base = settings.base_url.rstrip("/")
    out = {**reg.model_dump(mode="json"), "token_endpoint": f"{base}/oidc/token", "api": base}
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(out, indent=2))
        json_out.chmod(0o600)
        console.print(f"Registered {reg.client_id}; written to {json_out}")
    else:
        print(json.dumps(out, indent=2))


companies_cli = typer.Typer(
    help="Companies, accounting offices and the operator company (day-one set-up).",
    no_args_is_help=True,
)
cli.add_typer(companies_cli, name="companies")
support_cli = typer.Typer(help="Support people (the operator's staff).", no_args_is_help=True)
cli.add_typer(support_cli, name="support")


def _bootstrap(work: Any) -> None:
    """Runs one set-up operation in a transaction and prints what it did; a refusal is one
    readable line on stderr and exit status 1, with nothing changed."""
    from portti.audit.services import AuditLog
    from portti.companies.bootstrap import Bootstrap, BootstrapError
    from portti.db.session import make_engine, make_session_factory
    from portti.infra.clock import SystemClock

    settings = _settings()
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


@companies_cli.command("create")
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


@companies_cli.command("list")
def companies_list() -> None:
    """Show every company: id, name, business ID, kind, its accounting office, language, zone."""
    from sqlalchemy import select

    from portti.companies.models import Company
    from portti.db.session import make_engine, make_session_factory

    settings = _settings()
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


@companies_cli.command("link-office")
def companies_link_office(
    office: str = typer.Option(..., help="The accounting office's business ID."),
    client: str = typer.Option(..., help="The client company's business ID."),
    replace: bool = typer.Option(False, help="Move a client another office serves."),
) -> None:
    """Let an accounting office serve a client company (its TPK users administer it)."""
    _bootstrap(lambda b: b.link_office(office=office, client=client, replace=replace))


@support_cli.command("add")
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


@cli.command()
def demo(
    force: bool = typer.Option(
        False, "--force", help="Write the demo data even in production mode."
    ),
) -> None:
    """Write the demo data (once) and print how to log in as each demo person."""
    from portti.config import Mode
    from portti.db.session import make_engine, make_session_factory
    from portti.demo import demo_logins, seed_demo
    from portti.infra.clock import SystemClock

    settings = _settings()
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


@cli.command()
def backup(target: Path = typer.Argument(..., help="File to write the backup to.")) -> None:
    """Back up the database (SQLite online backup, or pg_dump for PostgreSQL)."""
    from portti.db.backup import backup as do_backup

    do_backup(_settings().database_url, target)
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
    do_restore(_settings().database_url, source)
    console.print(f"Restored from {source}")


secrets_cli = typer.Typer(help="Portti's root secret (PORTTI_SECRET_KEY).", no_args_is_help=True)
cli.add_typer(secrets_cli, name="secrets")


@secrets_cli.command("rotate")
def secrets_rotate() -> None:
    """Seal again under PORTTI_SECRET_KEY whatever a previous secret (PORTTI_PREVIOUS_SECRET_KEYS)
    sealed: Portti's own keys, TOTP seeds, queued messages and the keys that outlive a rotation.
    Run it after every instance runs with the new secret and the previous one; idempotent."""
    import portti.schema  # noqa: F401  (every table, for the sealed columns' metadata)
    from portti.db.session import make_engine, make_session_factory
    from portti.infra.clock import SystemClock
    from portti.infra.secret_material import SecretMaterialError, load, reseal_all

    settings = _settings()
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


@cli.command()
def purge() -> None:
    """Remove what expired or ended (login transactions, codes, challenges, OIDC flows and codes,
    refresh tokens, sessions, sent messages) and audit events past their retention, which are
    first written to PORTTI_AUDIT_EXPORT_DIR as JSON lines. `portti worker` runs the same purge
    every PORTTI_PURGE_INTERVAL_MINUTES."""
    from portti.db.session import make_engine
    from portti.infra.clock import SystemClock
    from portti.retention import purge_with

    settings = _settings()
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


@cli.command()
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1),
) -> None:
    """Serve the web UI and the APIs with uvicorn."""
    import os

    import uvicorn

    settings = _settings()  # fail early on bad settings
    from portti.infra.logging import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    # The one line that says where to find it (uvicorn's own, at INFO, is left to warnings).
    structlog.get_logger("portti.serve").info(
        "serving",
        url=f"http://{host}:{port}",
        workers=workers,
        database=settings.database_url.split(":", 1)[0],
        mode=str(settings.mode),
    )
    multiproc = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc:
        # Counts of an earlier run would be added to this one's (prometheus-client's rule:
        # empty the directory before the processes start).
        directory = Path(multiproc)
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.db"):
            old.unlink()
    uvicorn.run(
        "portti.asgi:app",
        host=host,
        port=port,
        workers=workers,
        # Portti reads X-Forwarded-* itself, from PORTTI_TRUSTED_PROXIES (web/proxy.py), and
        # writes its own access line (web/access.py); uvicorn's records go through Portti's
        # log handler (log_config=None: uvicorn installs none of its own).
        proxy_headers=False,
        log_level="warning",
        access_log=False,
        log_config=None,
        # SIGTERM: stop accepting, let requests in flight finish this long (OPS-16).
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


@cli.command()
def worker(
    metrics_port: int | None = typer.Option(
        None, help="Serve this worker's Prometheus metrics on this port (GET /metrics)."
    ),
    metrics_host: str = typer.Option(
        "127.0.0.1", help="The address the metrics port listens on (not public by default)."
    ),
) -> None:
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

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    clock = SystemClock()
    load_secret_material(factory, settings.secret, clock)
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

    if metrics_port is not None:
        from prometheus_client import REGISTRY, start_http_server

        from portti.infra.metrics import OutboxCollector
        from portti.web.health import OutboxFacts

        # Its deliveries and back-channel logouts count here, not in the web processes.
        REGISTRY.register(OutboxCollector(OutboxFacts(engine, clock).read))
        start_http_server(metrics_port, addr=metrics_host)
        console.print(f"Metrics at http://{metrics_host}:{metrics_port}/metrics")
    console.print("Delivering the outbox; stop with Ctrl-C.")
    try:
        asyncio.run(run())
    finally:
        logout_http.close()
        engine.dispose()


def main() -> None:
    from portti.infra.secret_material import SecretMaterialError

    connect_hooks()
    try:
        cli()
    except SecretMaterialError as exc:
        # A wrong or missing secret is a setting, told in one line (no traceback).
        err_console.print(f"Portti cannot start: {exc}", soft_wrap=True, markup=False)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
