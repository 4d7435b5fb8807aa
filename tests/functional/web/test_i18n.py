"""Finnish, Swedish and English (I18N-1): every page renders in each language with nothing left
in another, the language comes from the person's setting, the browser or the company, the
invitation goes out in the language the admin chose (over real SMTP), problem details and the
app's texts follow Accept-Language, and dates are written the reader's way."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime
from functools import cache
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from portti.companies.models import Company
from portti.i18n import SUPPORTED, translations, use_locale
from portti.invitations.models import Invitation
from portti.people.models import Person
from portti.web.filters import fmt_date, fmt_datetime
from support.devices import bind, make_service
from support.messages import signup_code_in
from support.sinks import SmtpSink
from support.web import another_browser, csrf_from, force_login

LANGUAGES = ("fi", "sv", "en")
ACCEPT = {"fi": "fi-FI,fi;q=0.9,en;q=0.5", "sv": "sv-SE,sv;q=0.9,en;q=0.5", "en": "en-GB,en"}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
TAG = re.compile(r"<[^>]+>")
ATTRIBUTES = ("aria-label", "data-confirm", "data-expired-text", "data-warn-on-leave", "title")


@cache
def catalogue(language: str) -> dict[str, str]:
    """English message id → its text in ``language`` (singular forms)."""
    from babel.messages.pofile import read_po

    from portti.i18n import LOCALE_DIR

    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        po = read_po(fh, locale=language)
    out = {}
    for m in po:
        if not m.id:
            continue
        msgid = m.id if isinstance(m.id, str) else m.id[0]
        text = m.string if isinstance(m.string, str) else (m.string[0] if m.string else "")
        out[msgid] = text or msgid
    return out


def _plain(text: str) -> list[str]:
    """The literal pieces of a message between its placeholders, without markup."""
    return [p.strip(" .,:;()") for p in PLACEHOLDER.split(TAG.sub("", text)) if p.strip(" .,:;()")]


@cache
def foreign_texts(language: str) -> tuple[frozenset[str], frozenset[str]]:
    """Texts that mean a message is shown in a language other than ``language``: whole texts
    (a text node equal to one is a leak) and longer fragments (found anywhere is a leak)."""
    own = set(catalogue(language).values())
    others = [lang for lang in LANGUAGES if lang != language]
    wholes: set[str] = set()
    fragments: set[str] = set()
    for other in others:
        for msgid, text in catalogue(other).items():
            if text == catalogue(language)[msgid] or text in own:
                continue  # the same words in both languages ("Portti", "Status:")
            for piece in _plain(text):
                if piece in own or any(piece in o for o in own):
                    continue
                if PLACEHOLDER.search(text) is None and piece == TAG.sub("", text).strip(" .,:;()"):
                    wholes.add(piece)
                if len(piece.split()) >= 4:
                    fragments.add(piece)
    return frozenset(wholes), frozenset(fragments)


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[str] = []
        self.lang: str | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang")
        if tag in ("script", "style", "option") and not (tag == "option" and values.get("lang")):
            self._skip += tag in ("script", "style")
        for name in ATTRIBUTES:
            if values.get(name):
                self.nodes.append(str(values[name]).strip())

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.nodes.append(" ".join(data.split()))


def visible(page: str) -> _Visible:
    parser = _Visible()
    parser.feed(page)
    return parser


def leaks(page: str, language: str) -> list[str]:
    """Texts of another language on a page in ``language``."""
    shown = visible(page)
    wholes, fragments = foreign_texts(language)
    text = " ".join(shown.nodes)
    found = [n for n in shown.nodes if n.strip(" .,:;()") in wholes]
    found += [frag for frag in fragments if frag in text]
    return sorted(set(found))


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
    scanned = {"fi": "Sovellus on lukenut koodin", "sv": "Appen har läst koden", "en": "The app"}
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
    from portti.infra.outbox import build_worker

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
