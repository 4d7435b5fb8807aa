"""Fixtures for the device service tests."""

from __future__ import annotations

import pytest

from portti.devices.services import DeviceService
from support import factories as f
from support.devices import make_service


@pytest.fixture
def service(db, app, settings) -> DeviceService:  # type: ignore[no-untyped-def]
    return make_service(db, app)


@pytest.fixture
def person(db):  # type: ignore[no-untyped-def]
    p = f.person(db, "Maija", "Meikalainen")
    db.commit()
    return p


@pytest.fixture(autouse=True)
def _close_connections(app):  # type: ignore[no-untyped-def]
    """These tests use the app's engine without a client (whose lifespan would dispose it):
    give the pooled connections back at once, or a PostgreSQL run piles them up."""
    yield
    app.state.runtime.engine.dispose()
