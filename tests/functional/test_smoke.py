from support import factories as f
from support.web import login, login_and_step_up


def test_login_page_lists_identity_providers(client):  # WEB-4
    r = client.get("/login", headers={"accept": "text/html"})
    assert r.status_code == 200
    assert "Log in with Finnish bank ID or mobile certificate" in r.text
    assert "Log in with a Swedish ID card" in r.text


def test_kh_logs_in_and_sees_users_and_roles(client, db):  # WEB-4 ADM-1
    w = f.World(db)
    r = login(client, w.kh_a)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/companies"
    r = client.get("/companies", headers={"accept": "text/html"})
    assert r.status_code == 303 and r.headers["location"] == "/home"
    r = client.get(f"/c/{w.client_a.id}/users", headers={"accept": "text/html"})
    assert r.status_code == 200, r.text
    assert "Eero" in r.text and "Authenticate to add users" in r.text
    login_and_step_up(client, w.kh_a)
    r = client.get(f"/c/{w.client_a.id}/users", headers={"accept": "text/html"})
    assert "Add user" in r.text


def test_handlers_run_on_the_configured_number_of_threads(client, settings):  # OPS-2
    import anyio.to_thread

    assert client.portal is not None
    tokens = client.portal.call(
        lambda: anyio.to_thread.current_default_thread_limiter().total_tokens
    )
    expected = 16 if settings.database_url.startswith("postgresql") else 4
    assert tokens == settings.threads == expected
