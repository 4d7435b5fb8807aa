"""The people, apps and browsers of the QR login tests."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from support import factories as f
from support.qr import CHROME_ON_WINDOWS, Phone, phone_of


@pytest.fixture
def kadri(db):  # type: ignore[no-untyped-def]
    """A foreign user of one company: she logs in with the app only."""
    p = f.person(db, "Kadri", "Tamm", identifier=("personal_number", "EE", "49403136526"))
    f.member(db, p, f.company(db, "Tamm Konsult Oy"))
    db.commit()
    return p


@pytest.fixture
def phone(app, db, settings, clock, kadri) -> Phone:  # type: ignore[no-untyped-def]
    return phone_of(app, db, settings, clock, kadri)


@pytest.fixture
def browser(app, client) -> TestClient:  # type: ignore[no-untyped-def]
    """A browser on the local network with a recognisable User-Agent (the lifespan runs in
    ``client``)."""
    return TestClient(
        app,
        base_url="http://testserver",
        follow_redirects=False,
        client=("192.168.1.20", 50000),
        headers={"user-agent": CHROME_ON_WINDOWS},
    )
