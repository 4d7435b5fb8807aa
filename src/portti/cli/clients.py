"""``portti clients``: business applications that log people in through Portti (OpenID
clients), and machine clients (client credentials)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from portti.cli.common import console, settings_or_exit
from portti.errors import DomainError, field_message

if TYPE_CHECKING:
    from portti.config import Settings
    from portti.oidc_provider.clients import ClientService

clients = typer.Typer(
    help="Business applications that log people in through Portti (OpenID clients).",
    no_args_is_help=True,
)


@clients.command("register")
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
    # Imported when the command runs: `portti --help` and every other command start without it.
    from portti.oidc_provider.client_settings import ClientInput

    settings = settings_or_exit()
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
    data = _valid(ClientInput, fields)
    reg = _registered(settings, lambda clients: clients.register(data, actor_person_id=None))
    out = {
        **reg.model_dump(mode="json"),
        "issuer": settings.base_url.rstrip("/"),
        "discovery": settings.base_url.rstrip("/") + "/.well-known/openid-configuration",
    }
    _hand_out(out, json_out, reg.client_id)


@clients.command("register-machine")
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
    # Imported when the command runs: `portti --help` and every other command start without it.
    from portti.machines.registry import MachineClientInput, MachineClientService

    if all_companies == bool(company_id):
        typer.echo(
            "Give either --company-id (repeatable) for the companies it may act on, or "
            "--all-companies for every company" + (", not both." if all_companies else "."),
            err=True,
        )
        raise typer.Exit(2)
    settings = settings_or_exit()
    data = _valid(
        MachineClientInput,
        {
            "name": name,
            "scopes": scope,
            "companies": "all" if all_companies else company_id,
            "auth_method": auth_method,
            "jwks": json.loads(jwks_file.read_text()) if jwks_file else None,
        },
    )
    reg = _registered(
        settings,
        lambda clients: MachineClientService(clients).register(data, actor_person_id=None),
    )
    base = settings.base_url.rstrip("/")
    out = {**reg.model_dump(mode="json"), "token_endpoint": f"{base}/oidc/token", "api": base}
    _hand_out(out, json_out, reg.client_id)


M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")


def _valid(model: type[M], fields: dict[str, object]) -> M:
    """The registration's fields checked; each problem on a line of its own, exit status 2."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "client"
            typer.echo(f"{where}: {field_message(error['msg'])}", err=True)
        raise typer.Exit(2) from None


def _registered(settings: Settings, register: Callable[[ClientService], R]) -> R:
    """Runs ``register`` with the client service, as the command line (no person), and commits;
    a refusal is told in a line, exit status 2."""
    # Imported when the command runs: `portti --help` and every other command start without it.
    from portti.audit.services import AuditLog
    from portti.db.session import make_engine, make_session_factory
    from portti.infra.clock import SystemClock
    from portti.infra.secret_material import load as load_secret_material
    from portti.oidc_provider.clients import ClientService

    engine = make_engine(settings.database_url)
    clock = SystemClock()
    try:
        load_secret_material(make_session_factory(engine), settings.secret, clock)
        with make_session_factory(engine)() as db:
            try:
                result = register(ClientService(db, clock, AuditLog(db, clock), settings.secret))
            except DomainError as exc:
                typer.echo(str(exc), err=True)
                raise typer.Exit(2) from None
            db.commit()
            return result
    finally:
        engine.dispose()


def _hand_out(out: dict[str, object], json_out: Path | None, client_id: str) -> None:
    """The registration, with its secret: to a file only its owner reads, or to standard output."""
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(out, indent=2))
        json_out.chmod(0o600)
        console.print(f"Registered {client_id}; written to {json_out}")
    else:
        print(json.dumps(out, indent=2))
