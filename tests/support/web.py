"""Driving the web UI like a browser would: CSRF tokens from pages, the OIDC round trip through
the built-in test identity provider, and the step-up."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from httpx import Response

from portti.people.models import Person

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
HIDDEN_RE = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def csrf_from(page: Response | str) -> str:
    text_ = page if isinstance(page, str) else page.text
    m = CSRF_RE.search(text_)
    assert m, "no CSRF token on the page"
    return m.group(1)


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def authorize_at_test_idp(client: TestClient, start: Response, identity: dict[str, str]) -> str:
    """Picks ``identity`` at the test provider; returns the callback URL (not yet visited)."""
    assert start.status_code == 303, start.text
    page = client.get(local(start.headers["location"]))
    assert page.status_code == 200, page.text
    hidden = {k: html.unescape(v) for k, v in HIDDEN_RE.findall(page.text)}
    picked = client.post("/test-idp/authorize", data={**hidden, **identity})
    assert picked.status_code == 303, picked.text
    return local(picked.headers["location"])


def _through_test_idp(client: TestClient, start: Response, identity: dict[str, str]) -> Response:
    return client.get(authorize_at_test_idp(client, start, identity))


def identity_of(p: Person) -> dict[str, str]:
    i = p.identifiers[0]
    return {
        "given_name": p.given_name,
        "family_name": p.family_name,
        "country": i.country,
        "national_id": i.value,
    }


def start_login(client: TestClient, provider: str = "fi_bank", next_: str = "/") -> Response:
    """Presses "Log in with …" on the login page; returns the redirect to the provider."""
    page = client.get("/login", headers={"accept": "text/html"})
    return client.post(
        "/login/start", data={"provider": provider, "next": next_, "csrf_token": csrf_from(page)}
    )


def login(
    client: TestClient, who: Person | dict[str, str], provider: str = "fi_bank", next_: str = "/"
) -> Response:
    """Logs in through the test provider; returns the callback's response."""
    identity = who if isinstance(who, dict) else identity_of(who)
    return _through_test_idp(client, start_login(client, provider, next_), identity)


def start_step_up(client: TestClient, provider: str = "fi_bank", next_: str = "/") -> Response:
    """Presses "Authenticate" on the step-up page; returns the redirect to the provider."""
    page = client.get(f"/step-up?next={next_}", headers={"accept": "text/html"})
    assert page.status_code == 200, page.text
    return client.post(
        "/step-up/start", data={"provider": provider, "next": next_, "csrf_token": csrf_from(page)}
    )


def step_up(
    client: TestClient, who: Person | dict[str, str], provider: str = "fi_bank", next_: str = "/"
) -> Response:
    identity = who if isinstance(who, dict) else identity_of(who)
    return _through_test_idp(client, start_step_up(client, provider, next_), identity)


def recode_test_idp_callback(client: TestClient, callback: str, **claims: object) -> str:
    """The callback URL with its code re-issued by the test provider with ``claims`` changed:
    the answer of a provider that, say, answered from an old session (``auth_time``) or with a
    lower level of assurance (``acr``). Signed with the provider's own key."""
    from urllib.parse import parse_qsl, urlencode

    from joserfc import jwt

    from portti.strongauth.oidc.jose import AllowListRegistry
    from portti.strongauth.stand_in_provider import ALGORITHM, derive_signing_key

    key = derive_signing_key(client.app.state.runtime.settings.secret)  # type: ignore[attr-defined]
    registry = AllowListRegistry([ALGORITHM])
    path, _, query = callback.partition("?")
    params = dict(parse_qsl(query))
    code = jwt.decode(params["code"], key, registry=registry)
    params["code"] = jwt.encode(
        dict(code.header), {**code.claims, **claims}, key, registry=registry
    )
    return f"{path}?{urlencode(params)}"


def login_and_step_up(client: TestClient, who: Person) -> None:
    r = login(client, who)
    assert r.status_code == 303, r.text
    r = step_up(client, who)
    assert r.status_code == 303, r.text


def page_csrf(client: TestClient, path: str = "/settings") -> str:
    return csrf_from(client.get(path, headers={"accept": "text/html"}))


HTML = {"accept": "text/html"}


def api_headers(client: TestClient) -> dict[str, str]:
    """Headers for an unsafe JSON API call: the CSRF token of the logged-in browser."""
    return {"X-CSRF-Token": page_csrf(client)}


def another_browser(app: object) -> TestClient:
    """A second browser (its own cookies) on the same app. Not a context manager on purpose:
    entering one would run the lifespan again, and leaving it would close the shared engine."""
    return TestClient(app, base_url="http://testserver", follow_redirects=False)  # type: ignore[arg-type]


def session_cookie(client: TestClient) -> str | None:
    return client.cookies.get("portti_session")


def force_login(client: TestClient, who: Person, *, stepped_up: bool = False) -> None:
    """A session made straight through ``SessionService``, as the login callback makes it, for
    tests whose subject is not the login itself: the OIDC round trip costs ten requests. With
    ``stepped_up`` the session has just authenticated strongly (as after ``step_up``)."""
    from portti.audit.services import RequestContext
    from portti.weblogin.session_deps import sessions_from

    rt = client.app.state.runtime  # type: ignore[attr-defined]
    with rt.session_factory() as db:
        token, _ = sessions_from(rt, db).start(
            who.id, method="oidc:fi_bank", strong=stepped_up, ctx=RequestContext(ip="testclient")
        )
        db.commit()
    # http.cookiejar files a cookie from a dotless host such as "testserver" under ".local".
    client.cookies.set("portti_session", token, domain="testserver.local")


def is_logged_in(client: TestClient) -> bool:
    """Whether the browser's session still works (a page that needs one answers 200)."""
    r = client.get("/settings", headers=HTML)
    assert r.status_code in (200, 303), r.text
    return r.status_code == 200
