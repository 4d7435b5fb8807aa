"""Portti's login page names the business application a login is for (UX-14): "Log in to
Numerot accounting", in the reader's language; only in the browser that started the login."""

from __future__ import annotations

from support.oidc import RelyingParty, query_of
from support.web import another_browser, local

HTML = {"accept": "text/html"}


def test_the_login_page_names_the_application_in_the_browser_that_started_the_login(
    app, client, rp: RelyingParty
) -> None:  # UX-14 WEB-4
    first = client.get(local(rp.authorization_url()))
    assert first.status_code == 303 and first.headers["location"].startswith("/login?next=")
    login_page = local(first.headers["location"])

    page = client.get(login_page, headers=HTML)
    assert "<h1>Log in to Numerot accounting</h1>" in page.text
    assert "<title>Log in to Numerot accounting – Portti</title>" in page.text
    finnish = client.get(login_page, headers={**HTML, "accept-language": "fi"})
    assert "<h1>Kirjaudu palveluun Numerot accounting</h1>" in finnish.text
    swedish = client.get(login_page, headers={**HTML, "accept-language": "sv"})
    assert "<h1>Logga in i Numerot accounting</h1>" in swedish.text

    # The parked request is bound to its browser: another one sees Portti's own login page.
    other = another_browser(app).get(login_page, headers=HTML)
    assert "<h1>Log in to Portti</h1>" in other.text and "Numerot" not in other.text
    # A login that is not for an application, or a made-up handle, names nothing.
    assert "<h1>Log in to Portti</h1>" in client.get("/login", headers=HTML).text
    forged = "/login?next=" + "/oidc/continue%3Fr%3Dnot-a-handle"
    assert "<h1>Log in to Portti</h1>" in client.get(forged, headers=HTML).text
    assert query_of(first.headers["location"])["next"].startswith("/oidc/continue?r=")
