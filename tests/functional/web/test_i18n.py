"""Finnish, Swedish and English (I18N-1): every page renders in each language with nothing left
in another, the language comes from the person's setting, the browser or the company, the
invitation goes out in the language the admin chose (over real SMTP), problem details and the
app's texts follow Accept-Language, and dates are written the reader's way."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from portti.companies.models import Company
from portti.i18n import SUPPORTED, fmt_date, fmt_datetime, translations, use_locale
from portti.invitations.models import Invitation
from portti.people.models import Person
from support.devices import bind, make_service
from support.leaks import LANGUAGES, leaks, visible
from support.messages import signup_code_in
from support.sinks import SmtpSink
from support.web import another_browser, csrf_from, force_login

ACCEPT = {"fi": "fi-FI,fi;q=0.9,en;q=0.5", "sv": "sv-SE,sv;q=0.9,en;q=0.5", "en": "en-GB,en"}


# -- the cast and the pages -------------------------------------------------------------------


@pytest.fixture
def scene(app, client, db, world, clock, settings):  # type: ignore[no-untyped-def]
    """KH of client A, stepped up, with an open invitation for an employee and a device."""
    world.employee_a.email = "eero@example.fi"
    world.employee_a.phone = "+358401234567"
    db.commit()
    service = make_service(db, app)
    _, _, not_me = bind(service, db, world.kh_a, clock, name="Kaisa's phone")
    force_login(client, world.kh_a, stepped_up=True)
    # With one company, the company page chooses it and goes on to the landing page.
    assert client.get("/companies", headers={"accept": "text/html"}).status_code == 303
    m = world.employee_a_membership
    base = f"/c/{world.client_a.id}/users/{m.id}"
    invite = client.get(base + "/invite", headers={"accept": "text/html"})
    sent = client.post(
        base + "/invite",
        data={"identity_verified": "yes", "language": "sv", "csrf_token": csrf_from(invite)},
    )
    assert sent.status_code == 303, sent.text
    return {"base": base, "not_me": not_me, "company": world.client_a.id}


def pages(scene) -> list[str]:  # type: ignore[no-untyped-def]
    c, base = scene["company"], scene["base"]
    return [
        "/companies",
        "/home",
        "/settings",
        "/step-up?next=/home",
        f"/c/{c}/users",
        f"/c/{c}/users/new",
        base,
        base + "/invite",
        base + "/confirmation-code",
        f"/c/{c}/audit",
        f"/c/{c}/messages",
        f"/devices/not-me/{scene['not_me']}",
        "/oidc/logout",
        "/no-such-page",
    ]


def get(client: TestClient, path: str, language: str):  # type: ignore[no-untyped-def]
    return client.get(path, headers={"accept": "text/html", "accept-language": ACCEPT[language]})


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_renders_in_the_language_with_nothing_left_in_another(
    client, scene, app, world, language
) -> None:  # I18N-1
    rendered = []
    for path in pages(scene):
        r = get(client, path, language)
        assert r.status_code in (200, 404), (path, r.status_code, r.text[:300])
        assert r.headers["content-language"] == language
        shown = visible(r.text)
        assert shown.lang == language, path
        assert leaks(r.text, language) == [], path
        rendered.append(path)
    # The invitation panel (a fragment htmx swaps in) and the login page before login.
    panel = get(client, scene["base"] + "/invitation-panel", language)
    assert panel.status_code == 200 and leaks(panel.text, language) == []
    anonymous = another_browser(app)
    login = get(anonymous, "/login", language)
    assert visible(login.text).lang == language and leaks(login.text, language) == []
    # The QR panel htmx fetches into the login page, with the texts its script shows.
    qr = anonymous.post(
        "/login/qr",
        data={"next": "/"},
        headers={
            "accept-language": ACCEPT[language],
            "hx-request": "true",
            "x-csrf-token": csrf_from(login),
        },
    )
    assert qr.status_code == 200, qr.text
    assert leaks(qr.text, language) == []
    scanned = {
        "fi": "Koodi on välittynyt sovellukseen",
        "sv": "Appen har fått koden",
        "en": "The app",
    }
    assert f'data-text-scanned="{scanned[language]}' in qr.text
    # Customer service's page of applications.
    support = another_browser(app)
    force_login(support, world.support)
    apps = get(support, "/admin/applications", language)
    assert apps.status_code == 200 and leaks(apps.text, language) == []
    assert len(rendered) == len(pages(scene))


def test_the_seeds_swedish_terms_label_the_admin_pages(client, scene) -> None:  # I18N-1
    users = get(client, f"/c/{scene['company']}/users", "sv").text
    assert "Användare och roller" in users and "Lägg till användare" in users
    person = get(client, scene["base"], "sv").text
    assert "Bjud in användaren att logga in med mobilappen" in person or "Kalla igen" in person
    invite = get(client, scene["base"] + "/invite", "sv").text
    assert "Skicka kallelse" in invite and "Kallelsens språk" in invite
    panel = get(client, scene["base"] + "/invitation-panel", "sv").text
    assert "Avbryt kallelse" in panel
    finnish = get(client, f"/c/{scene['company']}/users", "fi").text
    assert "Käyttäjät ja roolit" in finnish and "Lisää käyttäjä" in finnish


@pytest.mark.parametrize(
    ("language", "sent"),
    [("en", "invitation sent"), ("fi", "Kutsu lähetetty"), ("sv", "Kallelsen skickad")],
)
def test_the_event_history_names_each_event_in_the_readers_language(
    client, scene, language, sent
) -> None:  # I18N-1 ADM-8
    page = get(client, scene["base"], language).text
    history = page[page.index('<table class="events">') :]
    history = history[: history.index("</table>")]
    assert f">{sent}</td>" in history
    assert "invitation_sent" not in history
    if language != "en":  # in English the name is the code read as words
        assert "invitation sent" not in history


def test_the_leak_check_sees_a_page_in_the_wrong_language(client, scene) -> None:  # I18N-1
    english = get(client, f"/c/{scene['company']}/users", "en").text
    swedish = get(client, f"/c/{scene['company']}/users", "sv").text
    assert "Users and roles" in leaks(english, "sv")
    assert "Användare och roller" in leaks(swedish, "fi")
    assert "Add user" in leaks(english.replace("Lägg till", "Add user"), "sv")
    # One English sentence left in a Swedish page is found too.
    mixed = swedish.replace("</main>", "<p>Strong authentication is valid for 5 min.</p></main>")
    assert leaks(mixed, "sv") != []


def test_the_add_user_wizards_refusals_are_in_the_pages_language(
    client, scene
) -> None:  # I18N-1 ADM-4
    path = f"/c/{scene['company']}/users/new"
    form = get(client, path, "sv")
    r = client.post(
        path,
        data={
            "method": "foreign",
            "id_kind": "personal_number",
            "id_country": "SE",
            "id_value": "850709-9806",  # a wrong check digit
            "already_user": "no",
            "given_name": "Ingrid",
            "family_name": "",
            "email": "ingrid@example.se",
            "phone": "123",
            "validity": "until_further_notice",
            "csrf_token": csrf_from(form),
        },
        headers={"accept": "text/html", "accept-language": ACCEPT["sv"]},
    )
    assert r.status_code == 422
    assert "Personnumret (Sverige) har fel kontrolltecken." in r.text
    assert "Obligatoriskt." in r.text and "Välj minst en profil eller roll." in r.text
    assert "Ange ett mobiltelefonnummer i internationellt format" in r.text
    assert leaks(r.text, "sv") == []


def test_english_is_the_default_when_nothing_names_a_language(client, scene) -> None:  # I18N-1
    r = client.get(f"/c/{scene['company']}/users", headers={"accept": "text/html"})
    assert visible(r.text).lang == "en" and "Users and roles" in r.text


def test_the_persons_own_setting_wins_over_the_browser(client, scene, db, world) -> None:  # I18N-1
    page = get(client, "/settings", "en")
    r = client.post(
        "/language",
        data={"language": "fi", "next": "/settings", "csrf_token": csrf_from(page)},
    )
    assert r.status_code == 303 and r.headers["location"] == "/settings"
    db.expire_all()
    assert db.get(Person, world.kh_a.id).language == "fi"
    # A browser that asks for Swedish, without the switcher's cookie: the setting decides.
    client.cookies.delete("portti_lang")
    again = get(client, f"/c/{scene['company']}/users", "sv")
    assert visible(again.text).lang == "fi" and "Käyttäjät ja roolit" in again.text
    # Back to the browser's language.
    cleared = client.post(
        "/language", data={"language": "", "next": "/", "csrf_token": csrf_from(again)}
    )
    assert cleared.status_code == 303
    db.expire_all()
    assert db.get(Person, world.kh_a.id).language is None
    assert visible(get(client, "/settings", "sv").text).lang == "sv"


def test_the_switcher_remembers_a_browsers_choice_before_login(app) -> None:  # I18N-1
    browser = another_browser(app)
    page = get(browser, "/login", "en")
    r = browser.post(
        "/language",
        data={"language": "sv", "next": "//evil.example/", "csrf_token": csrf_from(page)},
    )
    assert r.status_code == 303 and r.headers["location"] == "/"  # never off the site
    again = browser.get("/login", headers={"accept": "text/html", "accept-language": "en"})
    assert visible(again.text).lang == "sv" and "Logga in i Portti" in again.text


def test_the_companys_default_applies_when_the_browser_names_no_language(
    client, scene, db, world
) -> None:  # I18N-1
    db.get(Company, world.client_a.id).default_language = "sv"
    db.commit()
    r = client.get(f"/c/{scene['company']}/users", headers={"accept": "text/html"})
    assert visible(r.text).lang == "sv" and "Användare och roller" in r.text
    # The browser's own language still comes before it.
    assert visible(get(client, f"/c/{scene['company']}/users", "fi").text).lang == "fi"


def test_a_problem_is_answered_in_the_language_of_accept_language(client) -> None:  # I18N-1
    answers = {}
    for language in LANGUAGES:
        r = client.post(
            "/app-api/v1/activations",
            json={"signup_code": "0000 0000 0000 0000"},
            headers={"accept-language": ACCEPT[language]},
        )
        assert r.status_code == 400 and r.headers["content-language"] == language
        answers[language] = r.json()
    assert {a["code"] for a in answers.values()} == {"invitation_invalid"}
    assert answers["en"]["title"] == "The sign-up code is not valid"
    assert answers["sv"]["title"] == "Ibruktagningskoden är inte giltig"
    assert answers["fi"]["title"] == "Käyttöönottokoodi ei kelpaa"
    assert answers["sv"]["next_step"].startswith("Be företagets användaradministratör")
    assert "Kontrollera de 16 siffrorna" in answers["sv"]["detail"]


def test_a_validation_problem_translates_each_field_message(client, scene) -> None:  # I18N-1
    m = scene["base"].rsplit("/", 1)[1]
    page = get(client, scene["base"] + "/invite", "sv")
    r = client.post(
        f"/api/v1/companies/{scene['company']}/members/{m}/invitation",
        json={"identity_verified": False},
        headers={"accept-language": "sv", "x-csrf-token": csrf_from(page)},
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["title"] == "Vissa uppgifter saknas eller är felaktiga"
    assert body["errors"] == [
        {
            "field": "identity_verified",
            "message": "Markera rutan för att bekräfta att du har kontrollerat personens identitet.",
        }
    ]


def test_the_app_gets_its_texts_in_the_phones_language(client) -> None:  # I18N-1
    by_language = {}
    for language in LANGUAGES:
        r = client.get("/app/texts", headers={"accept-language": ACCEPT[language]})
        assert r.status_code == 200
        body = r.json()
        assert body["language"] == language
        by_language[language] = body["texts"]
    assert by_language["en"]["have_signup_code"] == "I have a sign-up code"
    assert by_language["sv"]["have_signup_code"] == "Jag har en ibruktagningskod"
    assert by_language["fi"]["have_signup_code"] == "Minulla on käyttöönottokoodi"
    assert by_language["sv"]["invited_by"] == "{inviter} bjöd in dig till {company}."
    # Every key of the app's catalogue, and none left in English in Finnish or Swedish.
    assert set(by_language["fi"]) == set(by_language["en"]) == set(by_language["sv"])
    same = {k for k in by_language["en"] if by_language["en"][k] == by_language["sv"][k]}
    assert same <= {"app_name", "terms_version"}  # "Portti", "Version {version}"
    assert client.get("/app/texts/sv.json").json()["texts"] == by_language["sv"]
    assert client.get("/app/texts/de.json").status_code == 404


def test_an_unknown_language_falls_back_to_english(client) -> None:  # I18N-1
    r = client.get("/login", headers={"accept": "text/html", "accept-language": "de-DE,de"})
    assert visible(r.text).lang == "en"
    r = client.get("/login", headers={"accept": "text/html", "accept-language": "de, sv;q=0.4"})
    assert visible(r.text).lang == "sv"


def test_dates_and_times_are_written_the_readers_way() -> None:  # I18N-1
    moment = datetime(2026, 12, 1, 4, 30, tzinfo=UTC)  # 06:30 in Helsinki
    with use_locale("fi"):
        assert fmt_date(date(2026, 3, 5)) == "5.3.2026"
        assert fmt_datetime(moment) == "1.12.2026 6.30"
    with use_locale("sv"):
        assert fmt_date(date(2026, 3, 5)) == "2026-03-05"
        assert fmt_datetime(moment) == "2026-12-01 06:30"
    with use_locale("en"):
        assert fmt_date(date(2026, 3, 5)) == "5.3.2026"
        assert fmt_datetime(moment) == "1.12.2026 06:30"
        # A company's own time zone where one is given (the invitation's expiry).
        assert fmt_datetime(moment, tz=ZoneInfo("Europe/Stockholm")) == "1.12.2026 05:30"
    assert fmt_datetime(moment, "sv", tz=ZoneInfo("Europe/Stockholm")) == "2026-12-01 05:30"
    assert set(SUPPORTED) == set(LANGUAGES)
    assert translations("sv").gettext("Users and roles") == "Användare och roller"


# -- the invitation e-mail over SMTP ----------------------------------------------------------


@pytest.mark.parametrize(
    ("chosen", "greeting", "how_to_start"),
    [
        (None, "Hello Eero,", "How to start"),
        ("fi", "Hei Eero,", "Näin pääset alkuun"),
        ("sv", "Hej Eero,", "Så här kommer du i gång"),
    ],
)
def test_the_invitation_email_goes_in_the_chosen_language(
    app, client, world, db, settings, session_factory, clock, chosen, greeting, how_to_start
) -> None:  # I18N-1 INV-2
    from portti.infra.outbox_worker import build_worker

    world.employee_a.email = "eero@example.fi"
    world.employee_a.phone = "+358401234567"
    db.commit()
    force_login(client, world.kh_a, stepped_up=True)
    base = f"/c/{world.client_a.id}/users/{world.employee_a_membership.id}"
    page = get(client, base + "/invite", "en")
    form = {"identity_verified": "yes", "csrf_token": csrf_from(page)}
    if chosen:
        form["language"] = chosen
    assert client.post(base + "/invite", data=form).status_code == 303
    with session_factory() as s:
        assert s.scalars(select(Invitation)).one().language == (chosen or "en")
    sink = SmtpSink()
    sink.start()
    try:
        smtp = settings.model_copy(update={"mail_url": sink.url})
        asyncio.run(build_worker(smtp, session_factory, clock).run_once())
        received = sink.received()
    finally:
        sink.stop()
    assert len(received) == 1
    mail = received[0]
    assert mail.html is not None
    assert f'lang="{chosen or "en"}"' in mail.html
    for part in (mail.text, mail.html):
        assert greeting in part and how_to_start in part
        assert world.kh_a.full_name in part and world.client_a.name in part
        assert leaks(part, chosen or "en") == []
    assert len(signup_code_in(mail.text)) == 16
    with session_factory() as s:
        inv = s.scalars(select(Invitation)).one()
        local = fmt_datetime(inv.expires_at, chosen or "en", tz=ZoneInfo(inv.company.timezone))
    assert local in mail.text  # in the company's time, the reader's way
    subjects = {
        None: "invites you to log in to",
        "fi": "kutsuu sinut kirjautumaan yritykseen",
        "sv": "bjuder in dig att logga in i",
    }
    assert subjects[chosen] in (mail.subject or "")


def test_the_confirmation_code_sms_is_in_the_invitations_language(
    db, world, clock
) -> None:  # I18N-1
    from portti.invitations.messages import confirmation_code_sms

    inv = Invitation(language="fi")
    assert confirmation_code_sms(inv, "123456").startswith("Portti-vahvistuskoodisi on 123456.")
    inv.language = "sv"
    assert confirmation_code_sms(inv, "123456").startswith(
        "Din bekräftelsekod för Portti är 123456."
    )
    inv.language = "en"
    assert confirmation_code_sms(inv, "123456").startswith(
        "Your Portti confirmation code is 123456."
    )


# -- errors raised in services ----------------------------------------------------------------


def test_a_refused_authorization_request_is_a_page_in_the_browsers_language(
    client,
) -> None:  # I18N-1
    for language, text in {
        "fi": "Sovellusta ei ole rekisteröity Porttiin.",
        "sv": "Applikationen är inte registrerad i Portti.",
        "en": "This application is not registered with Portti.",
    }.items():
        r = get(client, "/oidc/authorize?client_id=no-such-client&redirect_uri=x", language)
        assert r.status_code == 400
        assert visible(r.text).lang == language and text in r.text


def test_a_services_refusal_reaches_the_api_in_the_callers_language(
    client, scene
) -> None:  # I18N-1
    r = client.get("/api/v1/companies/999999/members", headers={"accept-language": "fi"})
    assert r.status_code == 404 and r.json()["detail"] == "Yritystä ei ole."
    r = client.get("/api/v1/companies/999999/members", headers={"accept-language": "sv"})
    assert r.json()["detail"] == "Företaget finns inte."


@pytest.mark.parametrize(
    ("language", "pin", "message", "too_short"),
    [
        (
            "sv",
            "12a456",
            "PIN-koden får bara innehålla siffror.",
            "Lösenordet är för kort: använd minst 12 tecken.",
        ),
        (
            "fi",
            "12",
            "PIN-koodissa on oltava 6–10 numeroa.",
            "Salasana on liian lyhyt: käytä vähintään 12 merkkiä.",
        ),
        (
            "en",
            "12",
            "The PIN must be 6–10 digits.",
            "The password is too short: use at least 12 characters.",
        ),
    ],
)
def test_pin_and_password_messages_are_translated_with_their_numbers(
    app, db, settings, language, pin, message, too_short
) -> None:  # I18N-1
    from portti.accounts.passwords import PasswordPolicy, PasswordRejected
    from portti.devices.errors import PinInvalid
    from portti.i18n import localize

    service = make_service(db, app)
    service.pins.pin_lengths = (6, 10)
    with pytest.raises(PinInvalid) as caught:
        service.pins.check_pin_policy(pin)
    with pytest.raises(PasswordRejected) as rejected:
        PasswordPolicy(min_length=12).check("short")
    with use_locale(language):
        assert localize(caught.value.errors["pin"]) == message
        assert localize(rejected.value.message) == too_short


# -- notices in the recipient's language, over SMTP -------------------------------------------


def _deliver(settings, session_factory, clock):  # type: ignore[no-untyped-def]
    from portti.infra.outbox_worker import build_worker

    sink = SmtpSink()
    sink.start()
    try:
        smtp = settings.model_copy(update={"mail_url": sink.url})
        asyncio.run(build_worker(smtp, session_factory, clock).run_once())
        return sink.received()
    finally:
        sink.stop()


@pytest.mark.parametrize(
    ("own", "company_default", "expected", "subject", "line"),
    [
        ("sv", "fi", "sv", "En ny enhet kan nu logga in i ditt namn i Portti", "Om det var du"),
        (None, "fi", "fi", "Uusi laite voi nyt kirjautua nimissäsi Porttiin", "Jos se olit sinä"),
        (None, "en", "en", "A new device can now log in as you with Portti", "If this was you"),
    ],
)
def test_the_new_device_notice_follows_the_recipient_not_the_request(
    app, db, world, settings, session_factory, clock, own, company_default, expected, subject, line
) -> None:  # I18N-1 APP-4
    person = world.employee_a
    person.email = "eero@example.fi"
    person.language = own
    db.get(Company, world.client_a.id).default_language = company_default
    db.commit()
    service = make_service(db, app)
    # The request that binds the device is in English (a person's setting or browser elsewhere).
    with use_locale("en"):
        bind(service, db, person, clock, name="Eeron puhelin")
    received = _deliver(settings, session_factory, clock)
    assert [m.to for m in received] == ["eero@example.fi"]
    mail = received[0]
    assert mail.subject == subject
    assert mail.html is not None and f'lang="{expected}"' in mail.html
    for part in (mail.text, mail.html):
        assert line in part and "Eeron puhelin" in part
        assert leaks(part, expected) == []
    # The time of binding in Finnish time, written the reader's way (2026-12-01 in Swedish).
    with session_factory() as s:
        from portti.devices.models import Device

        bound = s.scalars(select(Device)).one().created_at
    assert fmt_datetime(bound, expected) in mail.text and "UTC" not in mail.text


def test_the_old_address_hears_of_a_change_in_its_owners_language(
    client, db, world, settings, session_factory, clock
) -> None:  # I18N-1 SEC-1
    world.employee_a.email = "eero@example.fi"
    world.employee_a.language = "sv"
    db.commit()
    force_login(client, world.kh_a, stepped_up=True)
    base = f"/c/{world.client_a.id}/users/{world.employee_a_membership.id}"
    page = get(client, base, "fi")
    r = client.post(
        base + "/person",
        data={
            "given_name": world.employee_a.given_name,
            "family_name": world.employee_a.family_name,
            "email": "eero.uusi@example.fi",
            "phone": world.employee_a.phone or "",
            "csrf_token": csrf_from(page),
        },
        headers={"accept": "text/html", "accept-language": ACCEPT["fi"]},
    )
    assert r.status_code in (200, 303), r.text
    received = _deliver(settings, session_factory, clock)
    old = [m for m in received if m.to == "eero@example.fi"]
    assert len(old) == 1
    assert old[0].subject == translations("sv").gettext(
        "Your contact details in Portti were changed"
    )
    assert leaks(old[0].text, "sv") == []


# -- the company's default language ---------------------------------------------------------


def test_an_admin_sets_the_companys_default_language_and_it_reaches_a_member(
    app, client, scene, db, world, session_factory
) -> None:  # I18N-1
    from portti.audit.models import AuditEvent

    users = f"/c/{scene['company']}/users"
    page = get(client, users, "en")
    select_ = re.search(r'<label for="default_language">([^<]+)</label>', page.text)
    assert select_ is not None and select_.group(1) == "Default language"
    assert '<option value="en" lang="en" selected>' in page.text
    saved = client.post(
        f"/c/{scene['company']}/settings/language",
        data={"default_language": "sv", "csrf_token": csrf_from(page)},
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("settings_saved=1")
    with session_factory() as s:
        assert s.get(Company, world.client_a.id).default_language == "sv"
        (event,) = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "company_settings_changed")
        ).all()
        assert event.company_id == world.client_a.id
        assert event.actor_person_id == world.kh_a.id
        assert event.details["default_language"] == {"from": "en", "to": "sv"}
    # A member with no language of their own, whose browser names none, gets Swedish pages.
    member = world.employee_a
    assert member.language is None
    browser = another_browser(app)
    force_login(browser, member)
    # Before a company is chosen, the default of the company the person belongs to.
    before = browser.get("/settings", headers={"accept": "text/html"})
    assert before.status_code == 200 and visible(before.text).lang == "sv"
    chosen = browser.get("/companies", headers={"accept": "text/html"})
    assert chosen.status_code == 303  # one company: chosen, on to the landing page
    landing = browser.get(chosen.headers["location"], headers={"accept": "text/html"})
    assert landing.status_code == 200 and visible(landing.text).lang == "sv"
    assert leaks(landing.text, "sv") == []
    # Anything but the three languages is refused, and nothing changes.
    bad = client.post(
        f"/c/{scene['company']}/settings/language",
        data={"default_language": "de", "csrf_token": csrf_from(page)},
        headers={"accept": "text/html", "accept-language": "fi"},
    )
    assert bad.status_code == 422 and "Valitse suomi, ruotsi tai englanti." in bad.text
    with session_factory() as s:
        assert s.get(Company, world.client_a.id).default_language == "sv"


def test_changing_the_default_language_needs_a_fresh_strong_authentication(
    client, db, world
) -> None:  # I18N-1
    force_login(client, world.kh_a, stepped_up=False)
    users = f"/c/{world.client_a.id}/users"
    page = get(client, users, "en")
    r = client.post(
        f"/c/{world.client_a.id}/settings/language",
        data={"default_language": "fi", "csrf_token": csrf_from(page)},
        headers={"accept": "text/html"},
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/step-up")
    db.expire_all()
    assert db.get(Company, world.client_a.id).default_language == "en"


def test_a_validation_problems_detail_joins_its_field_messages_in_the_readers_language() -> (
    None
):  # I18N-1
    from portti.errors import ValidationFailed
    from portti.i18n import _l
    from portti.web.errors import detail_of

    exc = ValidationFailed(
        {
            "pin": _l("The PIN must be %(low)s digits.", low=6),
            "name": _l("Give the device a name of 1–100 characters."),
        }
    )
    with use_locale("sv"):
        assert detail_of(exc) == (
            "PIN-koden måste ha 6 siffror.; Ge enheten ett namn på 1–100 tecken."
        )
    own = ValidationFailed({"pin": _l("The PIN must be digits only.")}, _l("Check the PIN."))
    assert detail_of(own) == "Check the PIN."


@pytest.mark.parametrize("language", ["fi", "sv"])
def test_a_wrong_method_or_a_missing_page_reads_in_the_readers_language(
    client, language
) -> None:  # I18N-1
    t = translations(language).gettext
    for method, path, title in (
        ("PUT", "/login", "Method not allowed"),
        ("GET", "/no-such-page", "Not found"),
    ):
        r = client.request(
            method, path, headers={"accept-language": language, "accept": "text/html"}
        )
        assert r.status_code in (404, 405)
        main = r.text.split("<main", 1)[1]
        assert f"<h1>{t(title)}</h1>" in main
        assert "Method Not Allowed" not in main and "Not Found" not in main
        assert f'<html lang="{language}">' in r.text and "<footer>" in r.text


def test_basic_settings_has_one_language_choice_its_own(client, scene) -> None:  # I18N-1 UX-6
    page = get(client, "/settings", "sv").text
    assert page.count('name="language"') == 1
    assert 'id="own-language"' in page and 'id="language-switcher"' not in page
    # Every other page keeps the footer's switcher.
    assert 'id="language-switcher"' in get(client, "/home", "sv").text
