"""The built-in test identity provider alone in an app, on a clock the test moves by hand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fastapi import FastAPI

from portti.strongauth.stand_in_provider import StandInIdentity
from portti.strongauth.stand_in_views import build_stand_in_router
from portti.templating import make_templates
from portti.web.middleware import LocaleMiddleware


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


def idp_app(
    clock: FakeClock, *, issuer: str, seed: bytes, identities: Sequence[StandInIdentity]
) -> FastAPI:
    app = FastAPI()
    app.include_router(
        build_stand_in_router(
            issuer=issuer,
            signing_seed=seed,
            identities=lambda: list(identities),
            # The service's templates: the provider's page is translated like every other.
            templates=make_templates(),
            clock=clock,
        )
    )
    app.add_middleware(LocaleMiddleware)  # the reader's language, as in the service
    return app
