"""``GET /.well-known/jwks.json``: Portti's public keys (signing and encryption)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from portti.runtime import runtime

router = APIRouter(include_in_schema=False)

# Shorter than the pre-publication period by far: a key published for the next rotation is in
# every cache long before it signs anything.
JWKS_MAX_AGE = 300


@router.get("/.well-known/jwks.json")
def jwks(request: Request) -> JSONResponse:
    body = runtime(request).keys.public_jwks()
    return JSONResponse(
        body,
        media_type="application/jwk-set+json",
        headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE}"},
    )
