"""Fixtures shared by the functional tests: the standard cast and logged-in browsers."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from support import factories as f
from support.web import force_login


@pytest.fixture
def world(db) -> f.World:  # type: ignore[no-untyped-def]
    return f.World(db)


@pytest.fixture
def kh(client, world) -> TestClient:  # type: ignore[no-untyped-def]
    """The browser of KH of client A, logged in and stepped up."""
    force_login(client, world.kh_a, stepped_up=True)
    return client


@pytest.fixture
def today(clock) -> date:  # type: ignore[no-untyped-def]
    """Today in the companies' time zone, by the app's clock."""
    return clock.now().astimezone(ZoneInfo("Europe/Helsinki")).date()
