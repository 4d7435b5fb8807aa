"""`make run` in miniature: the real service with the demo data answers over plain HTTP."""

import httpx
import pytest

pytestmark = pytest.mark.e2e


def test_served_with_demo_data_answers_login_and_health(live_server):  # OPS-1
    with httpx.Client(base_url=live_server.url, timeout=10.0) as http:
        login = http.get("/login", headers={"accept": "text/html"})
        assert login.status_code == 200
        assert "Log in" in login.text
        assert "Log in with Finnish bank ID or mobile certificate" in login.text

        health = http.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}
