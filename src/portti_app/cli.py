"""``portti-app``: the Portti app's steps on the command line, one subcommand per step.

Every value the app would ask for is prompted for (PINs and passwords hidden) and can also be
given as an option, for scripts and tests::

    portti-app --state ~/.anna signup-code "1234 5678 9012 3456"
    portti-app --state ~/.anna confirm-phone 123456
    portti-app --state ~/.anna create-account anna@example.com
    …
    portti-app --state ~/.anna create-pin --pin 482913 --confirm-pin 482913

A refusal prints what the server said and what to do next, and exits with status 1.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from portti_app.client import DEFAULT_SERVER, KEY_ALGS, AppClient, AppError

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

ACTIVATE = "1. Activate with a sign-up code"
USE = "2. Use the app"
AGAIN = "3. Activate with your account or Finnish bank ID"
INFO = "4. This installation"

app = typer.Typer(
    name="portti-app",
    help="The Portti app on the command line: activate it with a sign-up code from an "
    "invitation, your account or Finnish bank ID, then unlock, lock and log out. "
    "The steps are listed in the order the app shows them.",
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

# What to run after the server's next step.
NEXT_COMMAND = {
    "confirm_phone": "confirm-phone CODE  (the 6 digits from the SMS; resend-code if none came)",
    "account": "create-account EMAIL, or log-in-account if you already have an account",
    "verify_email": "verify-email CODE  (the 6 digits from the e-mail)",
    "password": "set-password",
    "totp": "enrol-totp, then confirm-totp CODE",
    "terms": "terms, then accept-terms",
    "device": "create-pin",
    "done": "unlock",
}


@dataclass
class Options:
    state: Path | None
    server: str | None


@app.callback()
def main_options(
    ctx: typer.Context,
    state: Annotated[
        Path | None,
        typer.Option(
            "--state",
            envvar="PORTTI_APP_STATE",
            metavar="DIR",
            help="\\[required] The app's state directory (device keys, tokens). Created if "
            "missing. One directory = one app installation.",
            show_default=False,
        ),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar="PORTTI_APP_SERVER",
            metavar="URL",
            help=f"The Portti server. Default: the one the state directory was activated "
            f"against, else {DEFAULT_SERVER}.",
            show_default=False,
        ),
    ] = None,
) -> None:
    ctx.obj = Options(state=state, server=server)


# -- helpers ----------------------------------------------------------------------------------


def fail(error: AppError) -> None:
    title = (error.title or "").rstrip(".")
    if not title or error.detail.lower().startswith(title.lower()):
        head = f"[bold red]✗[/] {escape(error.detail)}"  # the detail says it already
    else:
        head = f"[bold red]✗ {escape(title)}:[/] {escape(error.detail)}"
    err.print(f"{head} [dim]({error.code})[/]")
    for item in error.errors:
        if isinstance(item, dict) and item.get("message"):
            field = str(item.get("field") or "")
            err.print(f"  • {escape(field)}: {escape(str(item['message']))}")
    if error.retry_after:
        err.print(f"  Try again in {error.retry_after} seconds.")
    if error.next_step:
        err.print(f"[bold]→ What to do:[/] {escape(error.next_step)}")


@contextmanager
def client(ctx: typer.Context) -> Iterator[AppClient]:
    """The app for the command's ``--state``; an ``AppError`` ends the command with status 1."""
    opts: Options = ctx.obj
    if opts.state is None:
        err.print("[bold red]✗[/] Give the app's state directory with --state DIR.")
        raise typer.Exit(2)
    try:
        with AppClient(opts.server, opts.state) as c:
            yield c
    except AppError as error:
        fail(error)
        raise typer.Exit(1) from None


def say(text: str) -> None:
    out.print(text)


def next_hint(step: object) -> None:
    if isinstance(step, str) and step in NEXT_COMMAND:
        say(f"[bold]Next:[/] portti-app {escape(NEXT_COMMAND[step])}")


def ask(value: str | None, prompt: str, *, hide: bool = False, confirm: str | None = None) -> str:
    if value is not None:
        return value
    if confirm:
        return str(typer.prompt(prompt, hide_input=hide, confirmation_prompt=confirm))
    return str(typer.prompt(prompt, hide_input=hide))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def command(
    panel: str, help_text: str, name: str | None = None
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return app.command(name=name, help=help_text, rich_help_panel=panel)


EmailOpt = Annotated[str | None, typer.Option("--email", help="Your account's e-mail address.")]
PasswordOpt = Annotated[
    str | None, typer.Option("--password", help="Your account's password (else prompted).")
]
TotpOpt = Annotated[
    str | None,
    typer.Option("--totp", help="The code your authenticator app shows (else prompted)."),
]


# -- 1. activation with a sign-up code (APP-1 … APP-4) ----------------------------------------


@command(ACTIVATE, "“I have a sign-up code”: enter the 16 digits from the invitation e-mail.")
def signup_code(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="The 16-digit sign-up code; spaces are fine.")],
) -> None:
    with client(ctx) as c:
        info = c.redeem_signup_code(code)
        say(
            f"[green]✓[/] {escape(info['inviter_name'])} invited you to "
            f"[bold]{escape(info['company_name'])}[/]."
        )
        say(
            f"A 6-digit verification code was sent by SMS to {escape(info['phone_hint'])}. "
            f"The invitation is valid until {escape(str(info['expires_at']))}."
        )
        next_hint("confirm_phone")


@command(ACTIVATE, "Enter the 6-digit verification code received by SMS.")
def confirm_phone(
    ctx: typer.Context, code: Annotated[str, typer.Argument(help="The 6 digits from the SMS.")]
) -> None:
    with client(ctx) as c:
        answer = c.confirm_phone(code)
        say("[green]✓[/] Your phone number is confirmed.")
        next_hint(answer.get("step"))


@command(ACTIVATE, "“Resend code?”: ask for a new SMS code (at most two times).")
def resend_code(ctx: typer.Context) -> None:
    with client(ctx) as c:
        answer = c.resend_code()
        say(f"[green]✓[/] A new code was sent. New codes left: {answer.get('resends_left')}.")


@command(ACTIVATE, "No account yet? Create one: your e-mail address gets a confirmation code.")
def create_account(
    ctx: typer.Context, email: Annotated[str, typer.Argument(help="Your e-mail address.")]
) -> None:
    with client(ctx) as c:
        answer = c.create_account(email)
        say(f"[green]✓[/] A 6-digit code was sent to {escape(email)}.")
        next_hint(answer.get("step"))


@command(ACTIVATE, "Enter the 6-digit code from the e-mail to confirm your address.")
def verify_email(
    ctx: typer.Context, code: Annotated[str, typer.Argument(help="The 6 digits from the e-mail.")]
) -> None:
    with client(ctx) as c:
        answer = c.verify_email(code)
        say("[green]✓[/] Your e-mail address is confirmed.")
        next_hint(answer.get("step"))


@command(ACTIVATE, "Choose your account's password (at least 12 characters; asked twice).")
def set_password(ctx: typer.Context, password: PasswordOpt = None) -> None:
    with client(ctx) as c:
        c.require_activation()
        chosen = ask(password, "Password", hide=True, confirm="Type the password again")
        answer = c.set_password(chosen)
        say("[green]✓[/] Your account is created.")
        next_hint(answer.get("step"))


@command(ACTIVATE, "Set up your authenticator app (e.g. Google Authenticator): shows the QR code.")
def enrol_totp(ctx: typer.Context) -> None:
    with client(ctx) as c:
        enrolment = c.start_totp()
        uri = enrolment["otpauth_uri"]
        say("Scan this QR code with your authenticator app:")
        try:
            import segno
        except ImportError:  # pragma: no cover - segno comes with Portti
            pass
        else:
            segno.make(uri, error="m").terminal(out=sys.stdout, compact=True)
            sys.stdout.flush()
        say(f"Or add it by hand. Secret: [bold]{escape(enrolment['secret'])}[/]")
        say(f"otpauth URI: {escape(uri)}")
        say("[bold]Next:[/] portti-app confirm-totp CODE  (the code your authenticator shows)")


@command(ACTIVATE, "Enter the security code your authenticator app shows now.")
def confirm_totp(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="The 6 digits from the authenticator app.")],
) -> None:
    with client(ctx) as c:
        answer = c.confirm_totp(code)
        say("[green]✓[/] Your authenticator app is set up.")
        next_hint(answer.get("step"))


@command(ACTIVATE, "“Log in with your account”: e-mail, password and authenticator code.")
def log_in_account(
    ctx: typer.Context, email: EmailOpt = None, password: PasswordOpt = None, totp: TotpOpt = None
) -> None:
    with client(ctx) as c:
        answer = c.log_in_to_existing_account(
            ask(email, "E-mail address"),
            ask(password, "Password", hide=True),
            ask(totp, "Security code from your authenticator app"),
        )
        say("[green]✓[/] Logged in with your account.")
        next_hint(answer.get("step"))


@command(ACTIVATE, "Show the terms and conditions.")
def terms(ctx: typer.Context) -> None:
    with client(ctx) as c:
        current = c.terms()
        say(f"[bold]Terms and conditions, version {escape(current['version'])}[/]\n")
        out.print(current["text"], markup=False)
        if c.state.activation_token and c.state.step == "terms":
            say("[bold]Next:[/] portti-app accept-terms")


@command(ACTIVATE, "Accept the terms and conditions.")
def accept_terms(
    ctx: typer.Context,
    version: Annotated[
        str | None,
        typer.Option("--version", help="The version you read (default: the current one)."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Accept without asking.")] = False,
) -> None:
    with client(ctx) as c:
        if version is None:
            version = str(c.terms()["version"])
        if not yes and not typer.confirm(f"Do you accept the terms and conditions ({version})?"):
            raise typer.Exit(1)
        answer = c.accept_terms(version)
        say(f"[green]✓[/] You accepted the terms, version {escape(version)}.")
        next_hint(answer.get("step"))


@command(ACTIVATE, "Create a personal PIN code, then confirm the PIN: this binds the device.")
def create_pin(
    ctx: typer.Context,
    pin: Annotated[str | None, typer.Option("--pin", help="The new PIN (else prompted).")] = None,
    confirm_pin: Annotated[
        str | None,
        typer.Option("--confirm-pin", help="The PIN again (default with --pin: the same)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="The device's name in your device list.")
    ] = None,
    biometrics: Annotated[
        bool,
        typer.Option(
            "--biometrics",
            help="Also turn on fingerprint / Face ID (simulated: a second key pair).",
        ),
    ] = False,
    key_alg: Annotated[
        str, typer.Option("--key-alg", help="The device key: Ed25519 or ES256.")
    ] = "Ed25519",
) -> None:
    with client(ctx) as c:
        if key_alg not in KEY_ALGS:
            raise AppError(0, "key_alg_unknown", "The key algorithm must be Ed25519 or ES256.")
        c.require_activation()
        chosen = ask(pin, "Create a PIN code (6 digits)", hide=True)
        again = confirm_pin if confirm_pin is not None else (chosen if pin is not None else None)
        again = ask(again, "Confirm the PIN", hide=True)
        if again != chosen:
            raise AppError(
                0, "pin_mismatch", "The PINs do not match.", next_step="Create the PIN again."
            )
        device_name = name or f"portti-app on {socket.gethostname()}"
        answer = c.bind_device(device_name, chosen, key_alg=key_alg, biometrics=biometrics)
        person = answer.get("person") or {}
        say(
            f"[green]✓ Done.[/] This app is activated for {escape(person.get('given_name', ''))} "
            f"{escape(person.get('family_name', ''))} (Portti ID "
            f"{escape(person.get('portti_id', ''))}). Device id: {escape(answer['device_id'])}."
        )
        say("You can now log in on a computer with the app, and in the app with your PIN.")
        next_hint("done")


# -- 2. the activated app (APP-5 … APP-8) -----------------------------------------------------


@command(USE, "Log in to the app with your PIN, or with fingerprint / Face ID (--biometric).")
def unlock(
    ctx: typer.Context,
    pin: Annotated[str | None, typer.Option("--pin", help="Your PIN (else prompted).")] = None,
    biometric: Annotated[
        bool,
        typer.Option(
            "--biometric", help="Use biometrics: stands for the fingerprint / Face ID check."
        ),
    ] = False,
) -> None:
    with client(ctx) as c:
        c.require_device()
        answer = c.unlock(None if biometric else ask(pin, "PIN", hide=True), biometric=biometric)
        say(f"[green]✓[/] Unlocked (until {escape(str(answer.get('expires_at')))}, while in use).")


@command(USE, "Lock: end the session; log back in with PIN, fingerprint or Face ID.")
def lock(ctx: typer.Context) -> None:
    with client(ctx) as c:
        c.lock()
        say("[green]✓[/] Locked.")


@command(
    USE,
    "Log out: remove this app's activation. Activate again with your account "
    "(reactivate) or Finnish bank ID.",
    name="log-out",
)
def log_out(ctx: typer.Context) -> None:
    with client(ctx) as c:
        c.logout()
        say("[green]✓[/] Logged out. This app is no longer activated.")
        say("[bold]Next:[/] portti-app reactivate  (“Two-factor authentication already done”)")


@command(
    USE,
    "Log out from all devices: the app on every device and your web sessions end; "
    "activating again needs a new invitation.",
    name="log-out-everywhere",
)
def log_out_everywhere(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    with client(ctx) as c:
        if not yes and not typer.confirm(
            "Log out from all devices? Activating the app again will need a new invitation "
            "from your company's user administrator."
        ):
            raise typer.Exit(1)
        answer = c.logout_everywhere()
        say(f"[green]✓[/] Logged out from all devices ({answer.get('devices_ended')} ended).")
        say("Activating the app again needs a new invitation from your user administrator.")


# -- 3. activate again -------------------------------------------------------------------------


@command(
    AGAIN,
    "“Two-factor authentication already done”: activate again with your account's e-mail, "
    "password and authenticator code; then create a PIN.",
)
def reactivate(
    ctx: typer.Context, email: EmailOpt = None, password: PasswordOpt = None, totp: TotpOpt = None
) -> None:
    with client(ctx) as c:
        answer = c.reactivate_with_account(
            ask(email, "E-mail address"),
            ask(password, "Password", hide=True),
            ask(totp, "Security code from your authenticator app"),
        )
        say("[green]✓[/] Logged in with your account.")
        next_hint(answer.get("step"))


@command(AGAIN, "Finnish bank ID instead of an invitation: prints the address to open.")
def bank_id(
    ctx: typer.Context,
    provider: Annotated[str, typer.Option("--provider", help="The identity provider.")] = "fi_bank",
) -> None:
    with client(ctx) as c:
        url = c.start_bank_id(provider)
        say("Open this address in a browser and identify yourself:")
        out.print(url, markup=False, soft_wrap=True)
        say(
            "The browser then opens portti-app://activation?handoff=…: run "
            "[bold]portti-app bank-id-finish[/] with that address (or the handoff code)."
        )


@command(AGAIN, "Finish the bank ID activation with the handoff the browser came back with.")
def bank_id_finish(
    ctx: typer.Context,
    handoff: Annotated[
        str, typer.Argument(help="portti-app://activation?handoff=… or the handoff code.")
    ],
) -> None:
    with client(ctx) as c:
        answer = c.finish_bank_id(handoff)
        person = answer.get("person") or {}
        say(
            f"[green]✓[/] Identified as {escape(person.get('given_name', ''))} "
            f"{escape(person.get('family_name', ''))}."
        )
        next_hint(answer.get("step"))


# -- 4. information -----------------------------------------------------------------------------


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@command(INFO, "What this installation is: activated, locked or unlocked, and for whom.")
def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    with client(ctx) as c:
        info = c.status()
        if as_json:
            print_json(info)
            return
        table = Table(show_header=False, box=None)
        for key, value in info.items():
            if value is None or value is False or value == {}:
                continue
            if isinstance(value, dict):
                value = ", ".join(f"{k}: {v}" for k, v in value.items())
            table.add_row(f"[bold]{key.replace('_', ' ')}[/]", escape(str(value)))
        out.print(table)
        next_hint(info.get("next_step"))


@command(INFO, "Who you are in Portti: your Portti ID, companies and devices (needs unlock).")
def me(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    with client(ctx) as c:
        info = c.me()
        if as_json:
            print_json(info)
            return
        person = info["person"]
        say(
            f"[bold]{escape(person['given_name'])} {escape(person['family_name'])}[/], "
            f"Portti ID {escape(person['portti_id'])}"
        )
        companies = Table(title="Companies")
        companies.add_column("Company")
        companies.add_column("Can log in")
        for m in info["companies"]:
            companies.add_row(escape(m["company_name"]), "yes" if m["valid"] else "no")
        out.print(companies)
        devices = Table(title="Devices")
        for column in ("Name", "Status", "Since", "Last used", ""):
            devices.add_column(column)
        for d in info["devices"]:
            devices.add_row(
                escape(d["name"]),
                d["status"],
                str(d["created_at"])[:16],
                str(d["last_used_at"] or "")[:16],
                "this device" if d["this_device"] else "",
            )
        out.print(devices)


# -- 5. log in on a computer (WEB-2, ADM-2) -----------------------------------------------------

WEB = "5. Log in on a computer"
NumberOpt = Annotated[
    int | None,
    typer.Option("--number", help="The number the login page shows (else prompted)."),
]
PinOpt = Annotated[str | None, typer.Option("--pin", help="Your PIN (else prompted).")]
BiometricOpt = Annotated[
    bool,
    typer.Option("--biometric", help="Use biometrics: stands for the fingerprint / Face ID check."),
]
UnknownSiteOpt = Annotated[
    bool,
    typer.Option(
        "--i-opened-the-site",
        help="For a login whose page did not say its address: you opened the service's own "
        "login page yourself (else asked; without a terminal, the login is not approved).",
    ),
]


def foreign_site(asking: dict[str, Any]) -> bool:
    """SEC-16: asked for on another site than the service's own: it cannot be approved."""
    return not asking.get("origin_matches", True) and bool(asking.get("origin"))


def unknown_site(asking: dict[str, Any]) -> bool:
    """SEC-16: the page that asked did not say its address: approving needs a deliberate yes."""
    return not asking.get("origin_matches", True) and not asking.get("origin")


def relay_warning(asking: dict[str, Any]) -> str | None:
    """The warning for a login asked for on another site than the service's own (a phishing
    site relaying the login, SEC-13); None when the sites match."""
    if asking.get("origin_matches", True):
        return None
    service = asking.get("service_origin") or "the service's own address"
    where = asking.get("origin") or "a page that did not say its address"
    return (
        f"This login was asked for on {where}, not on {service}. If you did not open {service} "
        "yourself, someone may be trying to log in as you: choose “This wasn't me”."
    )


def show_request(asking: dict[str, Any]) -> None:
    what = "Authenticate to add users" if asking.get("purpose") == "step_up" else "Log in"
    table = Table(show_header=False, box=None, title=f"{what} — is this you?")
    service = asking.get("service", "")
    if asking.get("client_name"):
        service = f"{asking['client_name']} ({service})"  # UX-14: the application that asked
    for label, value in (
        ("Service", service),
        ("Site", asking.get("origin") or "unknown"),
        ("Browser", asking.get("browser", "")),
        ("Country", asking.get("place", "")),
        ("Time", asking.get("requested_at", "")),
    ):
        table.add_row(f"[bold]{label}[/]", escape(str(value)))
    out.print(table)
    warning = relay_warning(asking)
    if warning is not None:
        out.print(f"[bold red]⚠ {escape(warning)}[/]")


def answer_request(
    c: AppClient,
    asking: dict[str, Any],
    number: int | None,
    pin: str | None,
    biometric: bool,
    opened_the_site: bool = False,
) -> None:
    """Pick the number the login page shows and confirm, or say "This wasn't me". A login asked
    for on another site is never approved, and one from a page that gave no address only after
    the person says they opened the service's page themselves (SEC-16)."""
    if foreign_site(asking):
        c.reject_login(asking["approval_id"])
        err.print(
            "[bold red]✗ Not approved:[/] a login asked for on another site cannot be approved. "
            "It was refused (“This wasn't me”); tell your company's user administrator."
        )
        raise typer.Exit(1)
    if unknown_site(asking) and not opened_the_site:
        site = asking.get("service_origin") or "the service's own address"
        if number is not None or not sys.stdin.isatty():
            err.print(
                f"[bold red]✗ Not approved:[/] the page that asked did not say its address. Only "
                f"if you opened {escape(site)} yourself, answer again with --i-opened-the-site."
            )
            raise typer.Exit(1)
        if not typer.confirm(f"Did you open {site} yourself and start this login?"):
            c.reject_login(asking["approval_id"])
            say("[yellow]✓ Refused.[/] The login page says the login was refused in the app.")
            return
    numbers = [int(n) for n in asking["numbers"]]
    choice: str
    if number is not None:
        choice = str(number)
    else:
        shown = ", ".join(str(n) for n in numbers)
        choice = str(
            typer.prompt(f"Which number does the login page show? ({shown}; or 'no' if not you)")
        )
    if choice.strip().lower() in {"no", "n", "not me"}:
        c.reject_login(asking["approval_id"])
        say("[yellow]✓ Refused.[/] The login page says the login was refused in the app.")
        return
    challenge = asking.get("challenge") or {}
    c.approve_login(
        asking["approval_id"],
        int(choice),
        None if biometric else ask(pin, "PIN", hide=True),
        biometric=biometric,
        nonce=challenge.get("nonce"),
    )
    say("[green]✓ Approved.[/] The browser that showed the code is now logged in.")


@command(WEB, "“Read QR code for web login”: give what the camera read, then confirm.", "scan-qr")
def scan_qr(
    ctx: typer.Context,
    payload: Annotated[str, typer.Argument(help="The QR code's text: portti1.…")],
    number: NumberOpt = None,
    pin: PinOpt = None,
    biometric: BiometricOpt = False,
    reject: Annotated[bool, typer.Option("--reject", help="“This wasn't me”.")] = False,
    opened_the_site: UnknownSiteOpt = False,
) -> None:
    with client(ctx) as c:
        asking = c.scan_qr(payload)
        show_request(asking)
        if reject:
            c.reject_login(asking["approval_id"])
            say("[yellow]✓ Refused.[/]")
            return
        answer_request(c, asking, number, pin, biometric, opened_the_site)


@command(
    WEB,
    "The 8-character code the login page shows after “Type a code instead” (valid 30 seconds).",
)
def type_code(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="E.g. K7QM-3XZP.")],
    number: NumberOpt = None,
    pin: PinOpt = None,
    biometric: BiometricOpt = False,
    opened_the_site: UnknownSiteOpt = False,
) -> None:
    with client(ctx) as c:
        asking = c.enter_login_code(code)
        show_request(asking)
        answer_request(c, asking, number, pin, biometric, opened_the_site)


@command(WEB, "Requests waiting for you, e.g. “Authenticate to add users” from a browser.")
def approvals(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    with client(ctx) as c:
        waiting = c.pending_approvals()
        if as_json:
            print_json(waiting)
            return
        if not waiting:
            say("Nothing is waiting for you.")
        for asking in waiting:
            show_request(asking)
            say(f"  portti-app approve {escape(asking['approval_id'])}")


@command(WEB, "Approve a waiting request (see approvals) with the number and your PIN.")
def approve(
    ctx: typer.Context,
    approval_id: Annotated[str, typer.Argument(help="From `portti-app approvals`.")],
    number: NumberOpt = None,
    pin: PinOpt = None,
    biometric: BiometricOpt = False,
    opened_the_site: UnknownSiteOpt = False,
) -> None:
    with client(ctx) as c:
        asking = next((a for a in c.pending_approvals() if a["approval_id"] == approval_id), None)
        if asking is None:
            err.print("[bold red]✗[/] No such request is waiting for you.")
            raise typer.Exit(1)
        show_request(asking)
        answer_request(c, asking, number, pin, biometric, opened_the_site)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
