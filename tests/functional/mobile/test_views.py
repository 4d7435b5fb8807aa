"""The Portti web app's files: the page, manifest and service worker at /app (APP-10)."""

from __future__ import annotations


def test_the_app_is_served_installable_under_the_csp(client) -> None:  # type: ignore[no-untyped-def]  # APP-10
    assert client.get("/app", follow_redirects=False).headers["location"] == "/app/"
    page = client.get("/app/")
    assert page.status_code == 200 and 'rel="manifest"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text  # no inline script: the CSP allows none
    manifest = client.get("/app/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    assert manifest.json()["scope"] == "/app/"
    worker = client.get("/app/sw.js")
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["cache-control"] == "no-cache"
    for icon in manifest.json()["icons"]:
        assert client.get(icon["src"]).status_code == 200
    assert client.get("/app/static/vendor/jsqr/jsQR.js").status_code == 200
