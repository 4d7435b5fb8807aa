"""The built-in test identity provider alone in an app, on a clock the test moves by hand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from portti.strongauth.test_idp import TestIdentity, build_test_idp_router

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "portti" / "web" / "templates"


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


def idp_app(
    clock: FakeClock, *, issuer: str, seed: bytes, identities: Sequence[TestIdentity]
) -> FastAPI:
    app = FastAPI()
    app.include_router(
        build_test_idp_router(
            issuer=issuer,
            signing_seed=seed,
            identities=lambda: list(identities),
            templates=Jinja2Templates(directory=str(TEMPLATES)),
            clock=clock,
        )
    )
    return app
