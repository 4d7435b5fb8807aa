"""What a person reads on the web pages and in e-mail, as a new user met it (UX-3 … UX-19): the
terms rendered and translated, plurals from the catalogue, the invitation's state once the app
is out of use, the audit log in words, languages named in the reader's language, Swedish and
Finnish that read as written by a native, the dev mailbox in Finnish time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portti import __version__
from portti.errors import RateLimited
from portti.i18n import localize, use_locale
from portti.invitations.models import Invitation, InvitationStatus
from portti.web.markdown import render_markdown
from support import factories as f
from support.activation import invite
from support.devices import bind, make_service, unlock
from support.web import force_login

HTML = {"accept": "text/html"}
ACCEPT = {"fi": "fi-FI,fi;q=0.9", "sv": "sv-SE,sv;q=0.9", "en": "en-GB,en"}


def get(client, path: str, language: str = "en") -> str:  # type: ignore[no-untyped-def]
    r = client.get(path, headers={**HTML, "accept-language": ACCEPT[language]})
    assert r.status_code == 200, (r.status_code, r.headers.get("location"))
    return r.text


# -- UX-3: the terms -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "heading", "clause"),
    [
        ("en", "Portti terms of service", "2. Your account is personal"),
        ("fi", "Portin käyttöehdot", "2. Tilisi on henkilökohtainen"),
        ("sv", "Portti – användarvillkor", "2. Ditt konto är personligt"),
    ],
)
def test_the_terms_page_is_rendered_and_in_the_readers_language(
    client, language, heading, clause
) -> None:  # UX-3 APP-3
    page = get(client, "/terms", language)
    assert f"<h1>{heading}</h1>" in page
    assert f"<h2>{clause}</h2>" in page
    terms = page[page.index('<article class="terms"') : page.index("</article>")]
    assert terms.count("<h2>") == 9 and terms.count("<p>") >= 10  # one clause, one paragraph
    assert "**" not in terms and "## " not in terms
    assert f"· Portti {__version__}</p>" in page  # the footer's version is the service's


def test_the_terms_page_keeps_the_company_in_the_header(client, world) -> None:  # UX-3 UX-16
    force_login(client, world.kh_a)
    assert client.get("/companies", headers=HTML).status_code == 303  # one company: chosen
    page = get(client, "/terms", "fi")
    header = page[page.index('<header class="top">') : page.index("</header>")]
    assert f"<summary>{world.client_a.name}</summary>" in header and "Valitse yritys" not in header


def test_the_app_gets_the_terms_in_its_language_under_the_same_version(
    client,
) -> None:  # UX-3 APP-3
    english = client.get("/app-api/v1/terms", headers={"accept-language": "en"}).json()
    finnish = client.get("/app-api/v1/terms", headers={"accept-language": "fi"}).json()
    swedish = client.get("/app-api/v1/terms", headers={"accept-language": "sv"}).json()
    assert english["version"] == finnish["version"] == swedish["version"]
    assert finnish["text"].startswith("# Portin käyttöehdot")
    assert swedish["text"].startswith("# Portti – användarvillkor")
    for terms in (english, finnish, swedish):
        # Blocks the app shows as headings and paragraphs, with no Markdown left in them.
        assert terms["text"].count("\n## ") == 9 and "**" not in terms["text"]


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("en", "Version {v}, in force from 1.11.2026."),
        ("fi", "Versio {v}, voimassa 1.11.2026 alkaen."),
        ("sv", "Version {v}, gäller från och med 2026-11-01."),
    ],
)
def test_the_web_and_the_app_show_the_same_terms_version_and_its_day(
    client, language, line
) -> None:  # UX-3 APP-3
    """The page names the version the app asks the person to accept, and the day it took
    effect, in the reader's way; the clauses are headed and no Markdown marker is left."""
    app_terms = client.get("/app-api/v1/terms", headers={"accept-language": language}).json()
    page = get(client, "/terms", language)
    version = app_terms["version"]
    shown = page[page.index('data-testid="terms-version">') :].split(">", 1)[1].split("<", 1)[0]
    assert shown == line.format(v=version), shown
    terms = page[page.index('<article class="terms"') : page.index("</article>")]
    assert terms.count("<h2>") == app_terms["text"].count("\n## ") == 9
    assert not re.search(r"\*\*|^#|\]\(|__", terms, re.M)


def test_the_terms_renderer_escapes_everything_it_does_not_render() -> None:  # UX-3
    html = render_markdown('# A <b>\n\nText **bold** <script>alert(1)</script>\n\n- one\n- "two"')
    assert str(html) == (
        "<h1>A &lt;b&gt;</h1>\n"
        "<p>Text <strong>bold</strong> &lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
        "<ul><li>one</li><li>&#34;two&#34;</li></ul>"
    )


# -- UX-5: plurals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "one", "many"),
    [
        ("en", "Try again in 1 second.", "Try again in 30 seconds."),
        ("sv", "Försök igen om 1 sekund.", "Försök igen om 30 sekunder."),
        ("fi", "Yritä uudelleen 1 sekunnin kuluttua.", "Yritä uudelleen 30 sekunnin kuluttua."),
    ],
)
def test_counts_are_written_with_the_languages_plural_forms(language, one, many) -> None:  # UX-5
    assert one in localize(RateLimited(retry_after=1).message, language)
    assert many in localize(RateLimited(retry_after=30).message, language)


def test_the_step_up_page_counts_its_minutes_in_the_readers_language(
    client, world
) -> None:  # UX-5 UX-16
    force_login(client, world.kh_a)
    client.get(f"/c/{world.client_a.id}/users", headers=HTML)  # the company chosen
    swedish = get(client, "/step-up", "sv")
    assert "Den är giltig i 15 minuter." in swedish
    finnish = get(client, "/step-up", "fi")
    assert "Se on voimassa 15 minuuttia." in finnish


# -- UX-13: the invitation once the app is out of use ------------------------------------------


def test_the_invitation_says_the_app_is_no_longer_in_use_after_log_out_everywhere(
    app, client, db, world, clock
) -> None:  # UX-13 APP-8
    force_login(client, world.kh_a, stepped_up=True)
    company_id, membership_id = world.client_a.id, world.employee_a_membership.id
    assert invite(client, company_id, membership_id).status_code == 201
    inv = db.scalars(select(Invitation)).one()
    service = make_service(db, app)
    clock.advance(timedelta(seconds=60))
    _, phone, _ = bind(service, db, world.employee_a, clock)
    inv.status, inv.activated_at = InvitationStatus.ACTIVATED.value, clock.now()
    db.commit()
    panel = f"/c/{company_id}/users/{membership_id}/invitation-panel"

    before = get(client, panel)
    assert '<strong data-testid="invitation-status">Activated</strong>' in before

    _, token = unlock(service, phone)
    service.revocation.logout_everywhere(token)
    db.commit()
    after = get(client, panel)
    assert '<strong data-testid="invitation-status">No longer in use</strong>' in after
    assert "logged out of the app on every device" in after and "needs a new invitation" in after
    swedish = get(client, panel, "sv")
    assert '<strong data-testid="invitation-status">Inte längre i bruk</strong>' in swedish


# -- UX-16: the audit log in words -------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "roles", "existing"),
    [
        ("en", "Roles: Bookkeeper", "Existing Portti user: no"),
        ("fi", "Roolit: Kirjaaja", "Aiempi Portti-käyttäjä: ei"),
        ("sv", "Roller: Bokförare", "Befintlig Portti-användare: nej"),
    ],
)
def test_the_audit_log_tells_event_details_in_words_and_dates_the_readers_way(
    client, db, world, language, roles, existing
) -> None:  # UX-16 ADM-10
    from portti.audit.services import AuditLog
    from portti.infra.clock import SystemClock

    log = AuditLog(db, SystemClock())
    log.record(
        "membership_added",
        company_id=world.client_a.id,
        actor_person_id=world.kh_a.id,
        subject_person_id=world.employee_a.id,
        roles=["bookkeeper"],
        profiles=[],
        linked_existing_person=False,
        valid_from=None,
        valid_until="2027-03-31",
        via="user_admin",
        invitation_id=41,
    )
    db.commit()
    force_login(client, world.kh_a)
    page = get(client, f"/c/{world.client_a.id}/audit", language)
    events = page[page.index('<table class="events">') : page.index("</table>")]
    assert f"<li>{roles}</li>" in events and f"<li>{existing}</li>" in events
    for code in ("linked_existing_person", "bookkeeper", "user_admin", "invitation_id", "False"):
        assert code not in events
    assert "['" not in events
    with use_locale(language):
        from portti.i18n import fmt_date

        assert fmt_date(datetime(2027, 3, 31, tzinfo=UTC).date()) in events
    # Moments to the minute, in Finnish time, never an ISO string with microseconds.
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d+", events)
    assert '<time class="nowrap"' in events


def test_the_step_up_page_names_the_company_and_its_heading_is_not_its_button(
    client, app, db, settings, clock, world
) -> None:  # UX-16 ADM-2
    from support.qr import phone_of

    phone_of(app, db, settings, clock, world.kh_a)  # the app is offered to one who has it
    force_login(client, world.kh_a)
    assert client.get("/companies", headers=HTML).status_code == 303  # one company: chosen
    page = get(client, "/step-up", "sv")
    header = page[page.index('<header class="top">') : page.index("</header>")]
    assert f"<summary>{world.client_a.name}</summary>" in header and "Välj företag" not in header
    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", page)
    buttons = re.findall(r"<button[^>]*>\s*(.*?)\s*</button>", page, re.S)
    assert "Autentisera med Portti-appen" in buttons
    assert "Autentisera med Portti-appen" not in headings


# -- UX-17, UX-18: languages and the words around names ----------------------------------------


@pytest.mark.parametrize(
    ("language", "log_in", "authenticate"),
    [
        (
            "sv",
            "Logga in med finska bankkoder eller mobilcertifikat",
            "Autentisera med finska bankkoder eller mobilcertifikat",
        ),
        (
            "fi",
            "Kirjaudu suomalaisilla pankkitunnuksilla tai mobiilivarmenteella",
            "Tunnistaudu suomalaisilla pankkitunnuksilla tai mobiilivarmenteella",
        ),
        ("en", "Log in with an Estonian ID card", "Authenticate with a Swedish ID card"),
    ],
)
def test_identity_provider_buttons_read_as_whole_sentences(
    client, db, world, language, log_in, authenticate
) -> None:  # UX-18 WEB-4
    login_page = get(client, "/login", language)
    assert f'<button type="submit">{log_in}</button>' in login_page
    assert "Kirjaudu: " not in login_page and "med Finska" not in login_page
    # The step-up offers the providers of the person's countries (UX-10): a Swede's is Swedish.
    admin = world.kh_a
    if "Swedish" in authenticate:
        admin = f.person(
            db, "Sven", "Svensson", identifier=("personal_number", "SE", "811218-9876")
        )
        f.member(db, admin, world.client_a, ["user_admin"])
        db.commit()
    force_login(client, admin)
    step_up = get(client, "/step-up", language)
    assert f'<button type="submit">{authenticate}</button>' in step_up
    assert "Estniskt" not in step_up and "Tunnistaudu: " not in step_up


def test_the_invitation_names_its_language_in_the_readers_language(
    client, db, world
) -> None:  # UX-17
    force_login(client, world.kh_a, stepped_up=True)
    company_id, membership_id = world.client_a.id, world.employee_a_membership.id
    assert invite(client, company_id, membership_id).status_code == 201
    panel = f"/c/{company_id}/users/{membership_id}/invitation-panel"
    assert ", på engelska." in get(client, panel, "sv")
    assert "Kieli: englanti." in get(client, panel, "fi")
    assert ", in English." in get(client, panel, "en")


# -- UX-19: the dev mailbox in Finnish time ----------------------------------------------------


def test_the_dev_mailbox_shows_when_a_message_was_sent_in_finnish_time(
    client, settings
) -> None:  # UX-19 OPS-1
    from portti.i18n import fmt_datetime
    from portti.infra.clock import SystemClock
    from portti.infra.devmailbox import make_dev_mailbox

    box = make_dev_mailbox(settings, client.app.state.runtime.session_factory, SystemClock())
    box.record(channel="email", recipient="aada@example.fi", subject="Hei", text="Hi", html=None)
    [message] = box.latest(limit=1)
    listing = get(client, "/dev/mailbox")
    one = get(client, f"/dev/mailbox/{message.id}")
    helsinki = fmt_datetime(message.created_at.astimezone(UTC), "en")
    utc = message.created_at.astimezone(UTC).strftime("%H:%M")
    for page in (listing, one):
        assert " UTC" not in page and "Sent (Finnish time)" in page
        assert helsinki in page
    assert helsinki.split()[-1] != utc  # Finnish time is two or three hours ahead of UTC


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("sv", "Ange en giltig e-postadress."),
        ("fi", "Anna kelvollinen sähköpostiosoite."),
        ("en", "Enter a valid e-mail address."),
    ],
)
def test_a_wrong_e_mail_address_is_explained_in_the_readers_language(
    language, message
) -> None:  # UX-18 OPS-4
    """The address checker's own explanations are English only ("must have an @-sign"): the
    reader gets the catalogue's sentence instead (found by the page walk in a Swedish form)."""
    from portti.people.phones import InvalidEmail, normalise_email

    with pytest.raises(InvalidEmail) as caught:
        normalise_email("not-an-address")
    assert localize(caught.value.message, language) == message


@pytest.mark.parametrize(
    ("language", "one", "many"),
    [
        ("en", "1 try left before", "2 tries left before"),
        ("fi", "Jäljellä on 1 yritys ennen", "Jäljellä on 2 yritystä ennen"),
        ("sv", "1 försök återstår", "2 försök återstår"),
    ],
)
def test_pin_tries_left_are_counted_with_plural_forms(language, one, many) -> None:  # UX-5
    from portti.devices.errors import PinWrong

    assert one in localize(PinWrong(tries_left=1, retry_after=None).message, language)
    assert many in localize(PinWrong(tries_left=2, retry_after=30).message, language)


def test_security_events_tell_browser_ip_and_who_was_told_in_the_readers_words(
    client, db, world
) -> None:  # UX-8 UX-16
    from portti.audit.services import AuditLog
    from portti.infra.clock import SystemClock

    log = AuditLog(db, SystemClock())
    who = world.employee_a
    log.record(
        "login_rejected_in_app",
        actor_person_id=who.id,
        subject_person_id=who.id,
        purpose="login",
        browser="Chrome on Linux",
        ip="127.0.0.1",
    )
    log.record(
        "device_bound",
        actor_person_id=who.id,
        subject_person_id=who.id,
        name="Linux",
        platform="Linux",
        biometrics=False,
        notified=1,
    )
    db.commit()
    force_login(client, world.kh_a)
    page = get(client, f"/c/{world.client_a.id}/users/{world.employee_a_membership.id}", "sv")
    section = page[page.index('data-testid="security-events"') :]
    section = section[: section.index("</section>")]
    assert "<li>Webbläsare: Chrome på Linux</li>" in section
    assert "<li>IP-adress: 127.0.0.1</li>" in section
    assert "<li>Personer som fick veta: 1</li>" in section
    assert " on " not in section and "ip:" not in section
