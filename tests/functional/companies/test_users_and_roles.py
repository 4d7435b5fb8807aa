"""Users and roles: the list (search, status, paging), the add-user wizard, the user's page."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portti.companies.models import Membership, Profile
from portti.people.models import Person, PersonIdentifier
from support import factories as f
from support import wizard
from support.db import counts, fresh
from support.web import HTML, api_headers, force_login, page_csrf

MEMBER_LINK = re.compile(r'href="/c/\d+/users/(\d+)"')
TD = re.compile(r"<td[^>]*>(.*?)</td>", re.S)
NEXT_LINK = re.compile(r'<a rel="next" href="([^"]+)">Next page</a>')


def member_ids(client, company_id: int, **params: str) -> set[int]:
    r = client.get(f"/api/v1/companies/{company_id}/members", params=params)
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return {item["membership_id"] for item in r.json()["items"]}


def membership_of(db, person_id: int, company_id: int) -> Membership:
    fresh(db)
    return db.scalars(
        select(Membership).where(
            Membership.person_id == person_id, Membership.company_id == company_id
        )
    ).one()


# -- the list -------------------------------------------------------------------------------


@pytest.fixture
def searchable(db, world):  # type: ignore[no-untyped-def]
    c = world.client_a
    people = {
        "virtanen": f.person(db, "Aino", "Virtanen", email="aino.virtanen@example.com"),
        "virtala": f.person(db, "Veikko", "Virtala"),
        "koivisto": f.person(db, "Liisa", "Koivisto", email="liisa.koivisto@example.com"),
    }
    ms = {k: f.member(db, p, c) for k, p in people.items()}
    db.commit()
    return people, ms


def test_search_by_family_name_prefix_finds_only_those_names(kh, world, searchable):  # ADM-1
    _, ms = searchable
    found = member_ids(kh, world.client_a.id, q="VIRTA")
    assert found == {ms["virtanen"].id, ms["virtala"].id}
    assert member_ids(kh, world.client_a.id, q="virtanen aino") == {ms["virtanen"].id}
    assert member_ids(kh, world.client_a.id, q="nobody-like-this") == set()


def test_search_by_exact_email_finds_the_person(kh, world, searchable):  # ADM-1
    _, ms = searchable
    assert member_ids(kh, world.client_a.id, q="liisa.koivisto@example.com") == {ms["koivisto"].id}
    # Exact, not a prefix.
    assert member_ids(kh, world.client_a.id, q="liisa.koivisto@example.co") == set()


def test_search_by_email_finds_an_address_added_with_capitals(kh, world, db):  # ADM-1
    r = kh.post(
        f"/api/v1/companies/{world.client_a.id}/members",
        json=wizard.body(email="Liisa.Lahti@Example.COM", family_name="Lahti"),
        headers=api_headers(kh),
    )
    assert r.status_code == 201, r.text
    mid = r.json()["membership_id"]
    assert r.json()["email"] == "Liisa.Lahti@example.com"
    for typed in ("Liisa.Lahti@example.com", "Liisa.Lahti@EXAMPLE.com"):
        assert member_ids(kh, world.client_a.id, q=typed) == {mid}, typed


def test_search_by_portti_id_finds_the_person_however_typed(kh, world, searchable):  # ADM-1
    people, ms = searchable
    pid = people["koivisto"].portti_id
    for typed in (pid, pid.lower().replace("-", ""), f"  {pid}  "):
        assert member_ids(kh, world.client_a.id, q=typed) == {ms["koivisto"].id}, typed


def test_search_in_the_html_page_shows_only_matches(kh, world, searchable):  # ADM-1
    people, _ = searchable
    r = kh.get(f"/c/{world.client_a.id}/users", params={"q": "virta"}, headers=HTML)
    assert r.status_code == 200
    assert "Virtanen, Aino" in r.text and "Virtala, Veikko" in r.text
    assert "Koivisto" not in r.text
    assert people["virtanen"].portti_id in r.text


def test_status_filters_split_active_upcoming_and_ended(kh, world, db, today):  # ADM-1 ADM-7
    c = world.client_a
    active = f.member(db, f.person(db), c, valid_until=today)
    upcoming = f.member(db, f.person(db), c, valid_from=today + timedelta(days=10))
    ended = f.member(db, f.person(db), c, valid_until=today - timedelta(days=1))
    window = f.member(
        db, f.person(db), c, valid_from=today - timedelta(days=5), valid_until=today + timedelta(5)
    )
    db.commit()
    standing = {world.kh_a.id, world.employee_a.id}
    standing_ids = {
        m.id for m in db.scalars(select(Membership).where(Membership.person_id.in_(standing)))
    }
    assert member_ids(kh, c.id, status="active") == standing_ids | {active.id, window.id}
    assert member_ids(kh, c.id, status="upcoming") == {upcoming.id}
    assert member_ids(kh, c.id, status="ended") == {ended.id}
    assert member_ids(kh, c.id, status="all") == standing_ids | {
        active.id,
        upcoming.id,
        ended.id,
        window.id,
    }
    r = kh.get(f"/c/{c.id}/users", params={"status": "ended"}, headers=HTML)
    assert set(map(int, MEMBER_LINK.findall(r.text))) == {ended.id}
    assert "ended</span>" in r.text


@pytest.fixture
def many_members(db, world):  # type: ignore[no-untyped-def]
    """120 more members in client A, with many equal names so that paging must break ties."""
    for i in range(120):
        given = "Anna" if i % 3 == 0 else f"Given{i:03d}"
        f.member(db, f.person(db, given, f"Family{i % 7}"), world.client_a)
    db.commit()
    return set(db.scalars(select(Membership.id).where(Membership.company_id == world.client_a.id)))


def test_api_pages_of_50_walk_every_member_once(kh, world, many_members):  # ADM-1
    assert len(many_members) == 122
    seen: list[int] = []
    sizes = []
    cursor = None
    while True:
        params = {"cursor": cursor} if cursor else {}
        r = kh.get(f"/api/v1/companies/{world.client_a.id}/members", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        sizes.append(len(page["items"]))
        seen += [item["membership_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sizes == [50, 50, 22]
    assert len(seen) == len(set(seen)) == 122
    assert set(seen) == many_members


def test_html_next_page_links_walk_every_member_once(kh, world, many_members):  # ADM-1
    url = f"/c/{world.client_a.id}/users?status=all"
    seen: list[int] = []
    pages = 0
    while url:
        r = kh.get(url, headers=HTML)
        assert r.status_code == 200, r.text
        pages += 1
        rows = [int(x) for x in MEMBER_LINK.findall(r.text)]
        assert len(rows) <= 50
        seen += rows
        link = NEXT_LINK.search(r.text)
        url = html.unescape(link.group(1)) if link else ""
    assert pages == 3
    assert len(seen) == len(set(seen)) == 122
    assert set(seen) == many_members


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        "MTIz",  # base64 of the JSON number 123
        "bnVsbA",  # base64 of null
        "WyJhIiwxLDJd",  # three values
    ],
)
def test_a_broken_cursor_gives_422_problem_details(kh, world, cursor):  # ADM-1 OPS-4
    r = kh.get(f"/api/v1/companies/{world.client_a.id}/members", params={"cursor": cursor})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "validation_failed"
    assert [e["field"] for e in problem["errors"]] == ["cursor"]
    assert "start from the first page" in problem["errors"][0]["message"]


def test_a_broken_cursor_in_the_html_page_gives_a_readable_422(kh, world):  # ADM-1 OPS-4
    r = kh.get(f"/c/{world.client_a.id}/users", params={"cursor": "MTIz"}, headers=HTML)
    assert r.status_code == 422
    assert "The page link is broken" in r.text


def test_the_list_names_roles_then_profiles_by_name(kh, world, db):  # ADM-1
    from portti.companies.models import MembershipProfile, MembershipRole

    profile = db.scalars(select(Profile).where(Profile.company_id.is_(None))).first()
    p = f.person(db, "Pia", "Profiilinen")
    m = f.member(db, p, world.client_a, ["payroll"])
    m.roles.append(MembershipRole(role_code="bookkeeper"))
    m.profiles.append(MembershipProfile(profile_id=profile.id))
    only_profile = f.member(db, f.person(db, "Olli", "Profiilinen"), world.client_a, [])
    only_profile.profiles.append(MembershipProfile(profile_id=profile.id))
    db.commit()
    r = kh.get(f"/c/{world.client_a.id}/users", params={"q": "Profiilinen"}, headers=HTML)
    cells = re.findall(r'<td data-label="Roles">([^<]*)</td>', r.text)
    assert sorted(cells) == sorted([f"Bookkeeper, Payroll, {profile.name}", profile.name])
    assert "1 profile" not in r.text


def test_the_list_rows_read_in_the_readers_language(kh, world, db, today):  # ADM-1 ADM-7 I18N-1
    c = world.client_a
    ended = f.member(
        db,
        f.person(db, "Eero", "Rivinen"),
        c,
        ["payroll", "bookkeeper"],
        valid_from=date(2024, 3, 1),
        valid_until=today - timedelta(days=1),
    )
    f.member(db, f.person(db, "Ulla", "Rivinen"), c, ["bookkeeper"])
    db.commit()
    r = kh.get(
        f"/c/{c.id}/users",
        params={"q": "Rivinen", "status": "all"},
        headers={**HTML, "accept-language": "fi"},
    )
    rows = re.findall(r"<tr>\s*(<td.*?)</tr>", r.text, re.S)
    cells = [
        [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", td)).split()) for td in TD.findall(row)]
        for row in rows
    ]
    until = f"{today - timedelta(days=1):%-d.%-m.%Y}"
    assert cells[0] == [
        "Rivinen, Eero",
        ended.person.portti_id,
        "Kirjaaja, Palkanlaskenta",
        f"1.3.2024–{until} päättynyt",
    ]
    assert len(cells) == 2 and cells[1][:1] + cells[1][2:] == [
        "Rivinen, Ulla",
        "Kirjaaja",
        "Toistaiseksi",
    ]
    assert re.search(r'<td data-label="Voimassaolo">', r.text)


def test_the_list_leads_to_the_delivery_of_recent_invitations(kh, world):  # PRV-4 INV-1
    c = world.client_a
    r = kh.get(f"/c/{c.id}/users", headers=HTML)
    link = f'href="/c/{c.id}/users/import/invitations"'
    assert link in r.text
    page = kh.get(f"/c/{c.id}/users/import/invitations", headers=HTML)
    assert page.status_code == 200
    assert "The invitations you have sent in this company in the last 24 hours." in page.text
    assert f'href="/c/{c.id}/users"' in page.text


# -- adding users ---------------------------------------------------------------------------


def test_wizard_adds_a_person_with_a_finnish_hetu(kh, world, db):  # ADM-3 ADM-4 ADM-7
    hetu = wizard.new_hetu()
    profile_id = db.scalars(select(Profile.id).order_by(Profile.id)).first()
    before = counts(db)
    r = kh.post(
        f"/c/{world.client_a.id}/users/new",
        data={
            **wizard.form(
                id_value=hetu.lower(),
                roles=["bookkeeper", "payroll"],
                profiles=[str(profile_id)],
            ),
            "csrf_token": page_csrf(kh, f"/c/{world.client_a.id}/users/new"),
        },
        headers=HTML,
    )
    assert r.status_code == 303, r.text
    assert re.fullmatch(rf"/c/{world.client_a.id}/users/\d+\?added=1", r.headers["location"])
    after = counts(db)
    assert after["persons"] == before["persons"] + 1
    assert after["memberships"] == before["memberships"] + 1
    ident = db.scalars(select(PersonIdentifier).where(PersonIdentifier.value == hetu)).one()
    assert (ident.kind, ident.country) == ("fi_hetu", "FI")
    person = db.get(Person, ident.person_id)
    assert person is not None
    assert (person.given_name, person.family_name) == ("Maija", "Meikäläinen")
    assert person.phone == "+358407654321"
    m = membership_of(db, person.id, world.client_a.id)
    assert m.role_codes == {"bookkeeper", "payroll"}
    assert m.profile_ids == {profile_id}
    assert (m.valid_from, m.valid_until, m.receives_email) == (None, None, True)
    page = kh.get(r.headers["location"], headers=HTML)
    assert "The user was added to Client A Oy" in page.text
    assert person.portti_id in page.text


def test_wizard_adds_a_swede_with_a_personnummer(kh, world, db):  # ADM-4
    r = kh.post(
        f"/c/{world.client_a.id}/users/new",
        data={
            **wizard.form(
                method="foreign",
                id_kind="personal_number",
                id_value="19811218-9876",
                id_country="SE",
                given_name="Sven",
                family_name="Svensson",
                phone="+46 70 123 45 67",
            ),
            "csrf_token": page_csrf(kh, f"/c/{world.client_a.id}/users/new"),
        },
        headers=HTML,
    )
    assert r.status_code == 303, r.text
    fresh(db)
    ident = db.scalars(select(PersonIdentifier).where(PersonIdentifier.country == "SE")).one()
    assert (ident.kind, ident.value) == ("personal_number", "198112189876")
    page = kh.get(r.headers["location"], headers=HTML)
    assert "198112189876 (Sweden)" in page.text


def test_api_adds_a_person_with_a_foreign_date_of_birth_code(kh, world, db):  # ADM-4
    r = kh.post(
        f"/api/v1/companies/{world.client_a.id}/members",
        json=wizard.body(
            method="foreign",
            id_kind="other_code",
            id_value="12.04.1985",
            id_country="de",
            given_name="Hans",
            family_name="Müller",
            phone="+49 151 23456789",
        ),
        headers=api_headers(kh),
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["identifiers"] == [{"kind": "other_code", "country": "DE", "value": "12.04.1985"}]
    assert out["status"] == "active"
    assert re.fullmatch(r"PT-[0-9A-Z]{4}-[0-9A-Z]{4}", out["portti_id"])
    fresh(db)
    assert db.scalars(select(Person).where(Person.portti_id == out["portti_id"])).one()


def test_a_finnish_number_given_as_foreign_is_the_same_hetu(kh, world, db):  # ADM-4 ADM-5
    """A HETU typed as "foreign personal number, Finland" must not create a second person."""
    hetu = f.hetu_of(world.employee_other)
    before = counts(db)
    r = kh.post(
        f"/api/v1/companies/{world.client_a.id}/members",
        json=wizard.body(
            method="foreign", id_kind="personal_number", id_value=hetu, id_country="FI"
        ),
        headers=api_headers(kh),
    )
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["id_value"]
    assert counts(db) == before
    # With the Portti ID it links the existing person, whichever way the HETU was entered.
    r = kh.post(
        f"/api/v1/companies/{world.client_a.id}/members",
        json=wizard.body(
            method="foreign",
            id_kind="personal_number",
            id_value=hetu,
            id_country="FI",
            already_user=True,
            portti_id=world.employee_other.portti_id,
        ),
        headers=api_headers(kh),
    )
    assert r.status_code == 201, r.text
    assert r.json()["portti_id"] == world.employee_other.portti_id
    assert counts(db)["persons"] == before["persons"]


def test_wizard_links_an_existing_person_by_portti_id_into_a_second_company(kh, world, db):  # ADM-5
    someone = world.employee_other
    before = counts(db)
    r = kh.post(
        f"/c/{world.client_a.id}/users/new",
        data={
            **wizard.form(
                already_user="yes",
                portti_id=someone.portti_id.lower(),
                id_value=f.hetu_of(someone),
                given_name="",
                family_name="",
                email="",
                phone="",
                roles=["reporting"],
            ),
            "csrf_token": page_csrf(kh, f"/c/{world.client_a.id}/users/new"),
        },
        headers=HTML,
    )
    assert r.status_code == 303, r.text
    after = counts(db)
    assert after["persons"] == before["persons"]
    assert after["identifiers"] == before["identifiers"]
    assert after["memberships"] == before["memberships"] + 1
    linked = membership_of(db, someone.id, world.client_a.id)
    assert linked.role_codes == {"reporting"}
    # The first company's membership is untouched.
    assert membership_of(db, someone.id, world.other.id).role_codes == {"payroll"}


def test_linking_a_person_who_is_already_a_member_is_refused(kh, world, db):  # ADM-5 OPS-4
    before = counts(db)
    r = kh.post(
        f"/api/v1/companies/{world.client_a.id}/members",
        json=wizard.body(
            already_user=True,
            portti_id=world.employee_a.portti_id,
            id_value=f.hetu_of(world.employee_a),
        ),
        headers=api_headers(kh),
    )
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "portti_id", "message": "This person is already a user of this company."}
    ]
    assert counts(db) == before


def test_time_limited_role_starting_later_shows_as_upcoming(kh, world, db, today):  # ADM-7
    start, end = today + timedelta(days=7), today + timedelta(days=30)
    r = kh.post(
        f"/c/{world.client_a.id}/users/new",
        data={
            **wizard.form(
                validity="time_limited",
                valid_from=start.isoformat(),
                valid_until=end.isoformat(),
                family_name="Tulevainen",
            ),
            "csrf_token": page_csrf(kh, f"/c/{world.client_a.id}/users/new"),
        },
        headers=HTML,
    )
    assert r.status_code == 303, r.text
    mid = int(r.headers["location"].split("/")[-1].split("?")[0])
    out = kh.get(f"/api/v1/companies/{world.client_a.id}/members/{mid}").json()
    assert (out["status"], out["valid_from"], out["valid_until"]) == (
        "upcoming",
        start.isoformat(),
        end.isoformat(),
    )
    listed = kh.get(f"/c/{world.client_a.id}/users?status=upcoming", headers=HTML)
    assert "Tulevainen" in listed.text and "starts later" in listed.text
    assert "Tulevainen" not in kh.get(f"/c/{world.client_a.id}/users", headers=HTML).text
    assert "Starts later" in kh.get(f"/c/{world.client_a.id}/users/{mid}", headers=HTML).text


def test_wizard_page_warns_that_the_portti_id_cannot_be_given_later(kh, world):  # ADM-5 ADM-3
    r = kh.get(f"/c/{world.client_a.id}/users/new", headers=HTML)
    assert r.status_code == 200
    assert "the Portti ID cannot be given later" in r.text
    assert "can never be combined" in r.text
    # The seed's order: method, identifiers, already a user, details, roles, validity.
    order = [
        "1. Identification method",
        "2. Identifying information",
        "3. Is the person already a Portti user?",
        "4. Personal details",
        "5. Profiles and roles",
        "6. Validity",
    ]
    positions = [r.text.index(step) for step in order]
    assert positions == sorted(positions)
    # The warning comes before the admin commits.
    assert r.text.index("cannot be given later") < r.text.index('<button type="submit">Add user')


# -- the user's page and basic settings -----------------------------------------------------


def test_kh_sees_portti_id_and_foreign_identifiers_on_the_users_page(kh, world, db):  # ADM-6
    foreigner = f.person(db, "Mari", "Tamm", identifier=("personal_number", "EE", "49403136515"))
    m = f.member(db, foreigner, world.client_a)
    db.commit()
    r = kh.get(f"/c/{world.client_a.id}/users/{m.id}", headers=HTML)
    assert r.status_code == 200
    assert f'<code data-testid="portti-id">{foreigner.portti_id}</code>' in r.text
    assert "Foreign personal identity number" in r.text
    assert "49403136515 (Estonia)" in r.text
    api = kh.get(f"/api/v1/companies/{world.client_a.id}/members/{m.id}").json()
    assert api["portti_id"] == foreigner.portti_id
    assert api["identifiers"] == [
        {"kind": "personal_number", "country": "EE", "value": "49403136515"}
    ]


def test_a_person_sees_their_own_portti_id_in_basic_settings(client, world):  # ADM-6
    force_login(client, world.employee_a)
    r = client.get("/settings", headers=HTML)
    assert r.status_code == 200
    assert f'<code data-testid="own-portti-id">{world.employee_a.portti_id}</code>' in r.text
    assert client.get("/api/v1/me").json()["portti_id"] == world.employee_a.portti_id


# -- changing, ADM-8 ------------------------------------------------------------------------


def change_form(client, company_id: int, mid: int, **fields):  # type: ignore[no-untyped-def]
    data = {
        "roles": ["bookkeeper"],
        "validity": "until_further_notice",
        "receives_email": "yes",
        **fields,
        "csrf_token": page_csrf(client, f"/c/{company_id}/users/{mid}"),
    }
    return client.post(f"/c/{company_id}/users/{mid}/membership", data=data, headers=HTML)


def test_ending_validity_keeps_the_work_email_on(kh, world, db, today):  # ADM-8 ADM-7
    mid = world.employee_a_membership.id
    yesterday = today - timedelta(days=1)
    r = change_form(
        kh,
        world.client_a.id,
        mid,
        validity="time_limited",
        valid_until=yesterday.isoformat(),
    )
    assert r.status_code == 303, r.text
    m = membership_of(db, world.employee_a.id, world.client_a.id)
    assert m.valid_until == yesterday
    assert m.receives_email is True
    assert m.role_codes == {"bookkeeper"}
    assert "Ended" in kh.get(f"/c/{world.client_a.id}/users/{mid}", headers=HTML).text


def test_turning_off_work_email_and_removing_ledger_roles_leave_validity(
    kh, world, db, today
):  # ADM-8
    mid = world.employee_a_membership.id
    until = today + timedelta(days=100)
    r = change_form(
        kh,
        world.client_a.id,
        mid,
        validity="time_limited",
        valid_until=until.isoformat(),
        receives_email="",
    )
    assert r.status_code == 303, r.text
    m = membership_of(db, world.employee_a.id, world.client_a.id)
    assert (m.receives_email, m.valid_until) == (False, until)
    # Removing the ledger role (bookkeeper) for a non-ledger one; validity stays as it was.
    r = kh.patch(
        f"/api/v1/companies/{world.client_a.id}/members/{mid}",
        json={
            "roles": ["reporting"],
            "validity": "time_limited",
            "valid_until": until.isoformat(),
            "receives_email": True,
        },
        headers=api_headers(kh),
    )
    assert r.status_code == 200, r.text
    m = membership_of(db, world.employee_a.id, world.client_a.id)
    assert m.role_codes == {"reporting"}
    assert (m.receives_email, m.valid_until) == (True, until)


def test_kh_changes_the_persons_contact_details(kh, world, db):  # ADM-1
    mid = world.employee_a_membership.id
    r = kh.post(
        f"/c/{world.client_a.id}/users/{mid}/person",
        data={
            "given_name": "Eero",
            "family_name": "Employee",
            "email": "eero.new@example.com",
            "phone": "040 111 2222",
            "csrf_token": page_csrf(kh, f"/c/{world.client_a.id}/users/{mid}"),
        },
        headers=HTML,
    )
    assert r.status_code == 303, r.text
    fresh(db)
    p = db.get(Person, world.employee_a.id)
    assert (p.email, p.phone, p.contact_version) == ("eero.new@example.com", "+358401112222", 2)


def test_kh_removes_a_user_from_the_company(kh, world, db):  # ADM-1
    mid = world.employee_a_membership.id
    before = counts(db)
    r = kh.post(
        f"/c/{world.client_a.id}/users/{mid}/remove",
        data={"csrf_token": page_csrf(kh, f"/c/{world.client_a.id}/users/{mid}")},
        headers=HTML,
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/c/{world.client_a.id}/users?removed=1"
    after = counts(db)
    assert after["memberships"] == before["memberships"] - 1
    # The person stays: persons are global and never deleted with a membership.
    assert after["persons"] == before["persons"]
    assert kh.get(f"/api/v1/companies/{world.client_a.id}/members/{mid}").status_code == 404
