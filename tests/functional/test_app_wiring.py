"""The composition root: ``create_app`` wires one ``Runtime`` from the settings, and keeps
nothing else on ``app.state``."""

from __future__ import annotations

from portti.app import create_app
from portti.config import Mode, Settings
from portti.runtime import Runtime


def test_the_app_keeps_one_runtime_and_nothing_else(app, settings, clock) -> None:  # type: ignore[no-untyped-def]  # OPS-4
    assert set(vars(app.state)["_state"]) == {"runtime"}
    rt = app.state.runtime
    assert isinstance(rt, Runtime)
    assert rt.settings is settings and rt.clock is clock
    # The settings' real-time intervals reach what runs on them.
    assert rt.qr_watch.interval == settings.qr_recheck_seconds
    # One engine behind every session.
    with rt.session_factory() as db:
        assert db.get_bind() is rt.engine


def test_demo_mode_never_replaces_a_configured_provider(tmp_path) -> None:  # OPS-1 WEB-4
    s = Settings(
        mode=Mode.DEMO,
        database_url=f"sqlite:///{tmp_path / 'p.db'}",
        oidc_providers=[
            {
                "key": "fi_bank",
                "label": "Bank ID",
                "issuer": "https://broker.example",
                "client_id": "portti",
                "client_secret": "very-secret-client-secret-123",
            }
        ],
    )
    app = create_app(s)
    try:
        assert app.state.runtime.providers["fi_bank"].issuer == "https://broker.example"
        assert app.state.runtime.providers["ee_id"].issuer.endswith("/test-idp")
    finally:
        app.state.runtime.engine.dispose()
