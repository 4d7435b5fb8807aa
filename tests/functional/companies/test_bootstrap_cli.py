"""Day-one set-up from the command line (OPS-10): `portti companies create`, `portti companies
link-office` and `portti support add` against a real database, each idempotent and audited with
the command line as the actor; `portti demo` refuses production mode."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from datetime import date

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from portti.audit.models import AuditEvent
from portti.cli import cli
from portti.companies.models import Company, CompanyKind, Membership
from portti.people.identity_numbers import make_hetu
from portti.people.models import Person
from support.web import HTML, login

runner = CliRunner()
HETU = make_hetu(date(1979, 4, 1), 321)


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {
        "PORTTI_MODE": "test",
        "PORTTI_DATABASE_URL": database_url,
        "PORTTI_SECRET_KEY": "test-secret-key-" + "x" * 32,
    }


def run(env: dict[str, str], *args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, list(args), env=env, input=stdin)


def company_args(name: str, bid: str, *extra: str) -> list[str]:
    return ["companies", "create", "--name", name, "--business-id", bid, *extra]


def count(db, model) -> int:  # type: ignore[no-untyped-def]
    db.expire_all()
    return int(db.scalar(select(func.count()).select_from(model)))


def test_companies_create_is_idempotent_and_audited_with_the_cli_as_actor(env, db):  # OPS-10
    r = run(env, *company_args("Kahvila Aalto Oy", "2345678-0", "--language", "sv"))
    assert r.exit_code == 0, r.output
    assert "Created Kahvila Aalto Oy (2345678-0)" in r.output
    company = db.scalar(select(Company).where(Company.business_id == "2345678-0"))
    assert company is not None
    assert (company.kind, company.default_language, company.timezone) == (
        "company",
        "sv",
        "Europe/Helsinki",
    )
    events = db.scalars(select(AuditEvent).where(AuditEvent.company_id == company.id)).all()
    assert [e.action for e in events] == ["company_created"]
    assert events[0].actor_person_id is None
    assert events[0].details["via"] == "cli" and events[0].details["os_user"]

    again = run(env, *company_args("Kahvila  Aalto Oy", "23456780", "--language", "sv"))
    assert again.exit_code == 0, again.output
    assert "exists already" in again.output and "nothing changed" in again.output
    assert count(db, Company) == 1
    assert count(db, AuditEvent) == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (company_args("X Oy", "2345678-9"), "check digit is wrong"),
        (company_args("X Oy", "12-34"), "is not a Finnish business ID"),
        (company_args("X Oy", "2345678-0", "--language", "de"), "not a language"),
        (company_args("X Oy", "2345678-0", "--timezone", "Mars/Olympus"), "not a time zone"),
        (company_args("X Oy", "2345678-0", "--kind", "bank"), "not a kind of company"),
        (company_args("   ", "2345678-0"), "1–200 characters"),
    ],
)
def test_companies_create_refuses_bad_input_and_changes_nothing(env, db, args, says):  # OPS-10
    r = run(env, *args)
    assert r.exit_code == 1, r.output
    assert "Error:" in r.output and says in r.output
    assert "Traceback" not in r.output
    assert count(db, Company) == 0
    assert count(db, AuditEvent) == 0


def test_companies_create_refuses_other_details_for_an_existing_business_id(env, db):  # OPS-10
    assert run(env, *company_args("Kahvila Aalto Oy", "2345678-0")).exit_code == 0
    r = run(env, *company_args("Kahvila Ranta Oy", "2345678-0"))
    assert r.exit_code == 1
    assert "exists already" in r.output and "'Kahvila Aalto Oy'" in r.output
    db.expire_all()
    assert db.scalar(select(Company.name)) == "Kahvila Aalto Oy"
    assert count(db, AuditEvent) == 1


def test_link_office_lets_the_office_serve_a_client_once(env, db):  # OPS-10
    assert (
        run(env, *company_args("Numerot Oy", "0112038-9", "--kind", "accounting_office")).exit_code
        == 0
    )
    assert run(env, *company_args("Kahvila Aalto Oy", "2345678-0")).exit_code == 0
    link = ["companies", "link-office", "--office", "0112038-9", "--client", "2345678-0"]
    r = run(env, *link)
    assert r.exit_code == 0, r.output
    assert "Numerot Oy now serves Kahvila Aalto Oy" in r.output
    cafe = db.scalar(select(Company).where(Company.business_id == "2345678-0"))
    assert cafe is not None and cafe.accounting_office is not None
    assert cafe.accounting_office.name == "Numerot Oy"
    linked = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "accounting_office_linked")
    ).all()
    assert {e.company_id for e in linked} == {cafe.id, cafe.accounting_office.id}

    again = run(env, *link)
    assert again.exit_code == 0 and "nothing changed" in again.output
    # Piped (not a terminal), the table is whole even at a terminal width of 60 columns.
    listed = run({**env, "COLUMNS": "60"}, "companies", "list")
    assert listed.exit_code == 0
    row = next(line for line in listed.output.splitlines() if "Kahvila Aalto Oy" in line)
    assert "2345678-0" in row and "Numerot Oy (0112038-9)" in row and "Europe/Helsinki" in row
    assert count(db, AuditEvent) == 4

    # The client is not an office, and another office needs --replace.
    wrong = run(env, "companies", "link-office", "--office", "2345678-0", "--client", "0112038-9")
    assert wrong.exit_code == 1 and "is not an accounting office" in wrong.output
    assert (
        run(env, *company_args("Toinen Oy", "1572860-0", "--kind", "accounting_office")).exit_code
        == 0
    )
    other = ["companies", "link-office", "--office", "1572860-0", "--client", "2345678-0"]
    refused = run(env, *other)
    assert refused.exit_code == 1 and "--replace" in refused.output
    assert run(env, *other, "--replace").exit_code == 0
    unknown = run(env, "companies", "link-office", "--office", "2345678-0", "--client", "0000000-0")
    assert unknown.exit_code == 1 and "No company has the business ID" in unknown.output


def test_support_add_makes_a_support_person_who_logs_in_by_bank_id(env, db, client):  # OPS-10
    refused = run(
        env, "support", "add", "--given-name", "Sanna", "--family-name", "Tuki", stdin=HETU + "\n"
    )
    assert refused.exit_code == 1 and "no operator company yet" in refused.output
    assert count(db, Person) == 0

    assert (
        run(env, *company_args("Portti Tuki Oy", "1572860-0", "--kind", "operator")).exit_code == 0
    )
    assert run(env, *company_args("Kahvila Aalto Oy", "2345678-0")).exit_code == 0
    add = ["support", "add", "--given-name", "Sanna", "--family-name", "Tuki"]
    r = run(env, *add, "--email", "sanna@example.com", stdin=HETU + "\n")
    assert r.exit_code == 0, r.output
    assert "Sanna Tuki" in r.output and "is now Support in Portti Tuki Oy" in r.output
    assert HETU not in r.output, "the identity code typed at the hidden prompt is echoed"
    person = db.scalar(select(Person))
    assert person is not None and person.email == "sanna@example.com"
    assert [(i.kind, i.value) for i in person.identifiers] == [("fi_hetu", HETU)]
    actions = db.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["person_created", "membership_added"]
    assert HETU not in repr(db.scalars(select(AuditEvent.details)).all())

    again = run(env, *add, stdin=HETU.lower() + "\n")
    assert again.exit_code == 0 and "is Support already: nothing changed" in again.output
    assert count(db, Membership) == 1 and count(db, AuditEvent) == 4

    # They log in by bank ID and, as Support, reach a company they are no member of.
    identity = {"given_name": "Sanna", "family_name": "Tuki", "country": "FI", "national_id": HETU}
    assert login(client, identity).status_code == 303
    cafe = db.scalar(select(Company).where(Company.business_id == "2345678-0"))
    assert cafe is not None
    page = client.get(f"/c/{cafe.id}/users", headers=HTML)
    assert page.status_code == 200, page.text


def test_support_add_refuses_a_bad_identity_code_without_echoing_it(env, db):  # OPS-10
    assert (
        run(env, *company_args("Portti Tuki Oy", "1572860-0", "--kind", "operator")).exit_code == 0
    )
    bad = HETU[:-1] + ("X" if HETU[-1] != "X" else "Y")
    r = run(env, "support", "add", "--given-name", "A", "--family-name", "B", stdin=bad + "\n")
    assert r.exit_code == 1
    assert "not a valid Finnish personal identity code" in r.output
    assert bad not in r.output
    assert count(db, Person) == 0 and count(db, AuditEvent) == 1


def test_a_second_operator_company_is_refused(env, db):  # OPS-10
    assert (
        run(env, *company_args("Portti Tuki Oy", "1572860-0", "--kind", "operator")).exit_code == 0
    )
    r = run(env, *company_args("Toinen Tuki Oy", "0112038-9", "--kind", "operator"))
    assert r.exit_code == 1 and "The operator company exists already" in r.output
    assert count(db, Company) == 1
    db.expire_all()
    assert db.scalar(select(Company.kind)) == CompanyKind.OPERATOR


def test_demo_refuses_production_mode_without_force(database_url, tmp_path):  # OPS-10
    env = {
        **os.environ,
        "PORTTI_MODE": "production",
        "PORTTI_DATABASE_URL": database_url,
        "PORTTI_SECRET_KEY": secrets.token_urlsafe(48),
        "PORTTI_BASE_URL": "https://portti.example",
        "PORTTI_MAIL_URL": "smtp://127.0.0.1:2525",
        "PORTTI_SMS_URL": "https://sms.example/send",
    }
    portti = [sys.executable, "-m", "portti.cli"]
    r = subprocess.run([*portti, "demo"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "PORTTI_MODE is production" in r.stderr and "--force" in r.stderr
    from portti.db.session import make_engine

    engine = make_engine(database_url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Company)) == 0
    r = subprocess.run(
        [*portti, "demo", "--force"], env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Company)) > 0
    engine.dispose()
