from __future__ import annotations

import pytest

from support import factories as f
from support.oidc import RelyingParty, register, relying_party


@pytest.fixture
def cast(db):  # type: ignore[no-untyped-def]
    """Kaisa: user administrator of Mäkinen Design, bookkeeper at Aalto (two companies)."""

    class Cast:
        makinen = f.company(db, "Mäkinen Design Oy")
        aalto = f.company(db, "Kahvila Aalto Oy")
        other = f.company(db, "Elsewhere Oy")
        kaisa = f.person(db, "Kaisa", "Mäkinen", email="kaisa@makinen.example")
        outsider = f.person(db, "Olli", "Outsider")

    f.member(db, Cast.kaisa, Cast.makinen, ["user_admin"])
    f.member(db, Cast.kaisa, Cast.aalto, ["bookkeeper"])
    f.member(db, Cast.outsider, Cast.other, ["bookkeeper"])
    db.commit()
    return Cast


@pytest.fixture
def rp(client, db, clock, settings, cast) -> RelyingParty:  # type: ignore[no-untyped-def]
    """An application registered for Kaisa's two companies: it gets the list `companies`
    (one open to every company would have her pick one, SEC-24)."""
    reg = register(db, clock, settings.secret, company_ids=[cast.makinen.id, cast.aalto.id])
    return relying_party(client._transport, "http://testserver", reg)
