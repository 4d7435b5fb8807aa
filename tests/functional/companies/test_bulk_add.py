"""Add users from a file (PRV-4): the preview names every row's errors in the reader's language
and writes nothing; "Add N users" adds the valid rows with the wizard's rules, each audited;
bad files are refused whole; the upload is kept sealed to the session and company."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portti.audit.models import AuditEvent
from portti.companies.csv_file import MAX_ROWS
from portti.companies.models import Membership
from portti.infra.outbox import OutboxMessage
from portti.invitations.models import Invitation
from portti.people.models import Person, PersonIdentifier
from support import factories as f
from support import wizard
from support.csv_users import confirm, csv_text, row, sealed_of, upload
from support.db import counts, fresh, snapshot
from support.web import HTML, another_browser, csrf_from, force_login

FI = {"accept-language": "fi"}


def written(db) -> dict[str, object]:
    """What the adding could write (sessions aside: other browsers log in here)."""
    return {k: v for k, v in snapshot(db).items() if k != "web_sessions"}


def memberships_by_name(db, company_id: int) -> dict[str, Membership]:
    fresh(db)
    return {
        m.person.family_name: m
        for m in db.scalars(select(Membership).where(Membership.company_id == company_id))
    }


def test_preview_names_each_kind_of_error_and_writes_nothing(kh, world, db):  # PRV-4 ADM-5
    c = world.client_a
    existing = f.person(db, "Olga", "Olemassa", identifier=("personal_number", "EE", "37605030299"))
    db.commit()
    good = row(family_name="Hyvä")
    rows = [
        good,
        row(family_name="Tunnus", id_value="123", id_country="EE"),
        row(family_name="Rooli", roles="astronaut"),
        row(family_name="Päivät", valid_from="2027-05-01", valid_until="2027-04-01"),
        row(family_name="Kaksoset", id_value=good["id_value"]),
        row(family_name="Jäsen", id_value=f.hetu_of(world.employee_a), id_country=""),
        row(family_name="Linkitys", id_value="37605030299"),
        row(family_name="Posti", email="not-an-address"),
        row(family_name="Puhelin", phone="12"),
    ]
    before = snapshot(db)
    r = upload(kh, c.id, csv_text(rows))
    assert r.status_code == 200, r.text
    text = r.text
    assert "The file has 9 users." in text and "1 can be added." in text
    assert "8 rows have errors and will be skipped." in text
    assert "Add 1 user" in text
    for expected in (
        "Unknown roles: “astronaut”",
        "The end date is before the start date.",
        "The same person is on row 2 already.",
        "This person is already a user of this company.",
        "give their Portti ID in the “Portti ID” column",
    ):
        assert expected in text, expected
    # The identifier, e-mail and phone checks are the wizard's own (python-stdnum, phonenumbers).
    for expected in (
        "The Estonian personal identity number has the wrong number of characters.",
        "Enter a valid e-mail address.",
        "Enter a mobile phone number in international form",
    ):
        assert expected in text, expected
    assert text.count('class="details field-error"') == 8
    assert snapshot(db) == before
    del existing


def test_preview_is_in_the_readers_language(kh, world, db):  # PRV-4
    rows = [row(roles="astronautti"), row(valid_from="1.6.2027", valid_until="1.5.2027")]
    r = upload(kh, world.client_a.id, csv_text(rows), headers=FI)
    assert r.status_code == 200, r.text
    assert "Tarkista käyttäjät ennen lisäämistä" in r.text
    assert "Tuntemattomat roolit: ”astronautti”" in r.text
    assert "Päättymispäivä on ennen alkamispäivää." in r.text
    # A file refused whole names the missing columns by their Finnish headers.
    r = upload(kh, world.client_a.id, "Etunimi;Sukunimi\r\nA;B\r\n", headers=FI)
    assert r.status_code == 422
    assert (
        "Otsikkoriviltä puuttuvat sarakkeet: ”Henkilötunnus tai muu tunniste”, ”Sähköposti”"
        in r.text
    )


def test_add_writes_only_the_valid_rows_each_audited(kh, world, db):  # PRV-4 ADM-10
    c = world.client_a
    rows = [
        row(family_name="Ensimmäinen", roles="Bookkeeper, reporting"),
        row(family_name="Virheellinen", roles="astronaut"),
        row(family_name="Kolmas", valid_from="2026-01-01", valid_until="31.12.2030"),
    ]
    preview = upload(kh, c.id, csv_text(rows))
    assert "Add 2 users" in preview.text
    done = confirm(kh, c.id, preview)
    assert done.status_code == 200, done.text
    assert "2 users were added." in done.text and "1 row was skipped." in done.text
    added = memberships_by_name(db, c.id)
    assert "Virheellinen" not in added
    assert added["Ensimmäinen"].role_codes == {"bookkeeper", "reporting"}
    third = added["Kolmas"]
    assert (str(third.valid_from), str(third.valid_until)) == ("2026-01-01", "2030-12-31")
    events = db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "membership_added", AuditEvent.company_id == c.id
        )
    ).all()
    by_row = {e.details.get("row"): e for e in events if e.details.get("source") == "csv_file"}
    assert set(by_row) == {2, 4}
    assert by_row[2].subject_person_id == added["Ensimmäinen"].person_id
    assert by_row[2].actor_person_id == world.kh_a.id
    created = db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "person_created", AuditEvent.company_id == c.id
        )
    ).all()
    assert {e.details.get("row") for e in created} == {2, 4}
    # The audit log tells it in words.
    log = kh.get(f"/c/{c.id}/audit", headers=HTML).text
    assert "Row in the file" in log and "a file of users (CSV)" in log


def test_existing_person_is_linked_only_by_portti_id_with_identifier(kh, world, db):  # PRV-4 ADM-5
    c = world.client_a
    other = world.employee_other  # a Portti user in another company
    hetu = f.hetu_of(other)
    people_before = counts(db)["persons"]
    rows = [
        # The same identifier with the right Portti ID: linked, no new person.
        row(family_name=other.family_name, id_value=hetu, id_country="", portti_id=other.portti_id),
        # The right Portti ID with another person's identifier: refused.
        row(
            family_name="Väärä",
            id_value=wizard.new_hetu(),
            id_country="",
            portti_id=world.kh_other.portti_id,
        ),
        # Same name and e-mail as an existing person, a new identifier: a new person, not merged.
        row(given_name=other.given_name, family_name="Uusi", email=other.email),
    ]
    preview = upload(kh, c.id, csv_text(rows))
    assert "together with this row&#39;s identifier" in preview.text
    done = confirm(kh, c.id, preview)
    assert "2 users were added." in done.text
    added = memberships_by_name(db, c.id)
    assert added[other.family_name].person_id == other.id
    assert added["Uusi"].person_id != other.id
    assert counts(db)["persons"] == people_before + 1


def test_bom_commas_finnish_headers_and_role_names_in_swedish(kh, world, db):  # PRV-4
    header = ["Etunimi", "Sukunimi", "Henkilötunnus tai muu tunniste", "Myöntänyt maa",
              "Sähköposti", "Matkapuhelin", "Roolit"]  # fmt: skip
    n = "Pilkku"
    text = (
        ",".join(header)
        + "\r\n"
        + ",".join(
            [
                "Pia",
                n,
                row()["id_value"],
                "EE",
                "pia@example.com",
                "+372 5123 4567",
                '"Bokförare, Rapportering"',
            ]
        )
        + "\r\n"
    )
    r = upload(kh, world.client_a.id, ("\ufeff" + text).encode())
    assert r.status_code == 200, r.text
    assert "1 can be added." in r.text
    confirm(kh, world.client_a.id, r)
    assert memberships_by_name(db, world.client_a.id)[n].role_codes == {"bookkeeper", "reporting"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Etunimi;Sukunimi\r\nÄ;Ö\r\n".encode("cp1252"), "The file is not in UTF-8"),
        (b"PK\x03\x04\x14\x00\x06\x00", "This is a spreadsheet workbook, not a CSV file."),
        (b"given_name;family_name\r\nA;B\r\n", "The header row lacks these columns:"),
        (b"given_name;family_name;nickname\r\n", "columns that are not known: “nickname”"),
        (b"", "The file is empty."),
        (
            csv_text([row(given_name="=cmd|' /C calc'!A0")]).encode(),
            "Row 2 has a cell that a spreadsheet would run as a formula",
        ),
        (csv_text([row(phone="+cmd")]).encode(), "would run as a formula"),
        (("given_name;" * 3).encode() + b"\r\n", "appears twice"),
    ],
)
def test_bad_files_are_refused_whole(kh, world, db, content, message):  # PRV-4 OPS-4
    before = snapshot(db)
    r = upload(kh, world.client_a.id, content)
    assert r.status_code == 422, r.text
    assert message in r.text.replace("&#34;", '"'), r.text[-3000:]
    assert 'role="alert"' in r.text
    assert snapshot(db) == before


def test_too_many_rows_and_too_big_files_are_refused(kh, world, db):  # PRV-4 OPS-4
    rows = [row() for _ in range(MAX_ROWS + 1)]
    r = upload(kh, world.client_a.id, csv_text(rows))
    assert r.status_code == 422
    assert f"The file has {MAX_ROWS + 1} rows; at most {MAX_ROWS} users" in r.text
    big = csv_text([row(family_name="x" * 90) for _ in range(1)]) + ("#" * (1024 * 1024 + 100))
    r = upload(kh, world.client_a.id, big)
    assert r.status_code in (413, 422)
    assert "The file is too big" in r.text


def test_a_phone_number_with_a_plus_is_not_a_formula(kh, world):  # PRV-4
    r = upload(kh, world.client_a.id, csv_text([row(phone="+358 40 123 4567")]))
    assert "1 can be added." in r.text


def test_sealed_upload_works_only_for_its_session_company_and_time(
    kh, world, db, app, clock
):  # PRV-4
    c = world.client_a
    preview = upload(kh, c.id, csv_text([row(family_name="Sinetti")]))
    sealed = sealed_of(preview)
    before = written(db)
    # Changed by the browser: refused.
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    assert confirm(kh, c.id, preview, tampered).status_code == 409
    # The same admin in another browser (another session): refused.
    other = another_browser(app)
    force_login(other, world.kh_a, stepped_up=True)
    page = other.get(f"/c/{c.id}/users/import", headers=HTML)
    r = other.post(
        f"/c/{c.id}/users/import/confirm",
        data={"csrf_token": csrf_from(page), "upload": sealed},
        headers=HTML,
    )
    assert r.status_code == 409
    # For another company the admin administers (Support): refused.
    support = another_browser(app)
    force_login(support, world.support, stepped_up=True)
    page = support.get(f"/c/{world.client_b.id}/users/import", headers=HTML)
    r = support.post(
        f"/c/{world.client_b.id}/users/import/confirm",
        data={"csrf_token": csrf_from(page), "upload": sealed},
        headers=HTML,
    )
    assert r.status_code == 409
    assert written(db) == before
    # Too old: refused (the step-up would have run out too; this is the seal's own limit).
    clock.advance(timedelta(minutes=20))
    assert kh.get(f"/c/{c.id}/users", headers=HTML).status_code == 200  # the session stays
    clock.advance(timedelta(minutes=11))
    r = confirm(kh, c.id, preview, sealed)
    assert r.status_code == 409
    assert "Upload the file again" in r.text


def test_file_upload_needs_a_fresh_strong_authentication(client, world, db):  # PRV-4 ADM-2
    force_login(client, world.kh_a, stepped_up=False)
    r = client.get(f"/c/{world.client_a.id}/users/import", headers=HTML)
    assert r.status_code == 303 and r.headers["location"].startswith("/step-up")
    page = client.get(f"/c/{world.client_a.id}/users", headers=HTML)
    r = client.post(
        f"/c/{world.client_a.id}/users/import",
        files={"file": ("u.csv", csv_text([row()]).encode(), "text/csv")},
        data={"csrf_token": csrf_from(page)},
        headers=HTML,
    )
    # Sent to authenticate first (ADM-2); nothing read from the file is kept.
    assert r.status_code == 303 and r.headers["location"].startswith("/step-up")


def test_another_companys_admin_cannot_upload_or_get_the_template(client, world):  # PRV-4 ADM-9
    force_login(client, world.kh_other, stepped_up=True)
    for path in ("/users/import", "/users/import/template.csv"):
        r = client.get(f"/c/{world.client_a.id}{path}", headers=HTML)
        assert r.status_code in (403, 404), path


def test_template_has_the_header_and_the_roles_in_the_readers_language(kh, world):  # PRV-4
    r = kh.get(
        f"/c/{world.client_a.id}/users/import/template.csv", headers={"accept-language": "sv"}
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    text = r.content.decode("utf-8")
    assert text.startswith("\ufeffFörnamn;Efternamn;")
    assert "Bokförare" in text and "Användaradministratör" in text
    # The example row is valid as it is (a Swedish personnummer with its country) and reads
    # back; the preview shows its e-mail and phone, which its invitation goes to.
    assert "\r\nAnna;Svensson;811228-9874;SE;" in text
    r = upload(kh, world.client_a.id, text.encode(), headers={"accept-language": "sv"})
    assert r.status_code == 200, r.text
    assert "Lägg till 1 användare" in r.text
    assert 'data-label="E-post" class="contact">anna.svensson@example.com<' in r.text
    assert 'data-label="Mobiltelefon" class="contact">+46 70 123 45 67<' in r.text


def test_invite_all_who_need_the_app(kh, world, db, runtime):  # PRV-4 INV-1
    c = world.client_a
    rows = [
        row(family_name="Virolainen"),
        row(family_name="Suomalainen", id_value=wizard.new_hetu(), id_country=""),
    ]
    preview = upload(kh, c.id, csv_text(rows))
    done = confirm(kh, c.id, preview)
    assert "Invite 1 user" in done.text  # the Finnish one logs in with bank ID
    ids = [m for m in re.findall(r'name="m" value="(\d+)"', done.text)]
    assert len(ids) == 1
    # Without the tick: refused, nothing sent.
    r = kh.post(
        f"/c/{c.id}/users/import/invite",
        data={"csrf_token": csrf_from(done), "m": ids, "language": "fi"},
        headers=HTML,
    )
    assert r.status_code == 422
    assert "verified these persons' identities" in r.text
    fresh(db)
    assert db.scalars(select(Invitation).where(Invitation.company_id == c.id)).all() == []
    form = {
        "csrf_token": csrf_from(done),
        "m": ids,
        "identity_verified": "yes",
        "language": "fi",
        "batch": batch_of(done),
    }
    sent = kh.post(f"/c/{c.id}/users/import/invite", data=form, headers=HTML)
    # POST-redirect-GET: the page after the sending is the progress, which a reload only reads.
    assert sent.status_code == 303, sent.text
    progress_url = sent.headers["location"]
    assert progress_url.startswith(f"/c/{c.id}/users/import/invitations?since=")
    r = kh.get(progress_url, headers=HTML)
    assert r.status_code == 200, r.text
    assert "1 invitation was sent." in r.text
    assert "0 of 1 invitation e-mails delivered" in r.text or "1 of 1" in r.text
    assert f'href="/c/{c.id}/users"' in r.text  # back to Users and roles
    fresh(db)
    inv = db.scalars(select(Invitation).where(Invitation.company_id == c.id)).one()
    assert inv.language == "fi" and inv.person.family_name == "Virolainen"
    assert inv.identity_verified_at is not None
    code_hash = inv.code_hash
    # The reload, and the same form posted again: nothing is sent again, the code still works.
    assert "1 invitation was sent." in kh.get(progress_url, headers=HTML).text
    again = kh.post(f"/c/{c.id}/users/import/invite", data=form, headers=HTML)
    assert again.status_code == 303
    assert again.headers["location"] == progress_url
    fresh(db)
    inv = db.scalars(select(Invitation).where(Invitation.company_id == c.id)).one()
    assert inv.code_hash == code_hash and inv.status == "sent"
    assert (
        len(db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "invitation")).all()) == 1
    )


def batch_of(page) -> str:  # type: ignore[no-untyped-def]
    found = re.search(r'name="batch" value="([^"]+)"', page.text)
    assert found, "the invite form carries its batch"
    return html.unescape(found.group(1))


def test_invite_form_defaults_to_the_companys_language_and_says_so(kh, world, db):  # PRV-4
    c = world.client_a
    c.default_language = "sv"
    db.commit()
    done = confirm(kh, c.id, upload(kh, c.id, csv_text([row(family_name="Kielinen")])))
    assert re.search(r'<option value="sv" lang="sv" selected>', done.text), done.text
    assert "skickas på det språk som väljs här" in done.text  # the page reads in sv too


def test_the_invite_address_opened_leads_to_the_upload_page(kh, world):  # PRV-4
    r = kh.get(f"/c/{world.client_a.id}/users/import/invite", headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == f"/c/{world.client_a.id}/users/import"


def test_the_invite_page_has_one_heading_for_one_idea(kh, world):  # PRV-4 UX-20
    c = world.client_a
    done = confirm(kh, c.id, upload(kh, c.id, csv_text([row(family_name="Otsikko")])))
    ids = re.findall(r'name="m" value="(\d+)"', done.text)
    r = kh.post(
        f"/c/{c.id}/users/import/invite",
        data={"csrf_token": csrf_from(done), "m": ids, "batch": batch_of(done)},
        headers=HTML,
    )
    assert r.status_code == 422
    headings = re.findall(r"<h[1-6][^>]*>([^<]+)</h[1-6]>", r.text)
    assert len(headings) == len(set(headings)), headings


def test_invite_all_skips_who_cannot_be_invited_and_says_why(kh, world, db, today, clock):  # PRV-4
    c = world.client_a
    later = (today + timedelta(days=10)).isoformat()
    rows = [row(family_name="Myöhemmin", valid_from=later), row(family_name="Nyt")]
    done = confirm(kh, c.id, upload(kh, c.id, csv_text(rows)))
    ids = re.findall(r'name="m" value="(\d+)"', done.text)
    r = kh.post(
        f"/c/{c.id}/users/import/invite",
        data={"csrf_token": csrf_from(done), "m": ids, "identity_verified": "yes"},
        headers=HTML,
    )
    assert r.status_code == 303, r.text
    r = kh.get(r.headers["location"], headers=HTML)
    assert "1 invitation was sent." in r.text
    assert "Not invited" in r.text and "Myöhemmin" in r.text
    progress = kh.get(
        f"/c/{c.id}/users/import/invitations",
        # Since a moment before the sending. ("today" is Helsinki's date: from 22:00 to 24:00
        # UTC its midnight, read as UTC, is still to come.)
        params={"since": (clock.now() - timedelta(minutes=10)).isoformat()},
        headers={**HTML, "hx-request": "true"},
    )
    assert progress.status_code == 200
    assert "Nyt" in progress.text and "Invitation sent" in progress.text


def test_identifiers_are_stored_as_the_wizard_stores_them(kh, world, db):  # PRV-4 ADM-4
    r = upload(
        kh,
        world.client_a.id,
        csv_text(
            [
                row(
                    family_name="Ruotsi",
                    id_value="811228-9874",
                    id_country="se",
                    phone="070-123 45 67",
                )
            ]
        ),
    )
    assert "1 can be added." in r.text, r.text
    confirm(kh, world.client_a.id, r)
    fresh(db)
    p = db.scalars(select(Person).where(Person.family_name == "Ruotsi")).one()
    ident = db.scalars(select(PersonIdentifier).where(PersonIdentifier.person_id == p.id)).one()
    assert (ident.kind, ident.country, ident.value) == ("personal_number", "SE", "198112289874")
    assert p.phone == "+46701234567"


def test_a_row_without_roles_asks_for_a_role(kh, world):  # PRV-4
    r = upload(kh, world.client_a.id, csv_text([row(roles="")]))
    assert "Give at least one role." in r.text
    assert "profile" not in r.text.split("<main", 1)[1]


def test_progress_tells_an_undeliverable_invitation_and_stops_polling(
    kh, world, db, clock
):  # PRV-4
    c = world.client_a
    since = clock.now()
    done = confirm(
        kh,
        c.id,
        upload(kh, c.id, csv_text([row(family_name="Perillä"), row(family_name="Hukassa")])),
    )
    ids = re.findall(r'name="m" value="(\d+)"', done.text)
    r = kh.post(
        f"/c/{c.id}/users/import/invite",
        data={"csrf_token": csrf_from(done), "m": ids, "identity_verified": "yes"},
        headers=HTML,
    )
    r = kh.get(r.headers["location"], headers=HTML)
    assert 'hx-trigger="every 2s"' in r.text  # waiting for the outbox
    fresh(db)
    lost = db.scalars(select(Person).where(Person.family_name == "Hukassa")).one()
    for message in db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "invitation")):
        message.status = "failed" if message.person_id == lost.id else "sent"
    db.commit()
    progress = kh.get(
        f"/c/{c.id}/users/import/invitations", params={"since": since.isoformat()}, headers=HTML
    )
    assert "1 of 2 invitation e-mails delivered" in progress.text
    assert "1 e-mail could not be delivered" in progress.text
    assert "hx-trigger" not in progress.text  # nothing left to wait for


def test_invite_all_never_reaches_another_companys_member(kh, world, db):  # PRV-4 ADM-9
    c = world.client_a
    theirs = world.employee_other_membership
    page = kh.get(f"/c/{c.id}/users/import", headers=HTML)
    r = kh.post(
        f"/c/{c.id}/users/import/invite",
        data={"csrf_token": csrf_from(page), "m": [str(theirs.id)], "identity_verified": "yes"},
        headers=HTML,
    )
    assert r.status_code == 303
    r = kh.get(r.headers["location"], headers=HTML)
    assert "0 invitations were sent." in r.text and "No such user in this company." in r.text
    assert world.employee_other.family_name not in r.text
    fresh(db)
    assert db.scalars(select(Invitation)).all() == []
