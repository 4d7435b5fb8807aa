"""Serving the Portti web app: its page, manifest, service worker and static files.

The app is static files (no build step): ``static/index.html`` loads ES modules that speak the
app API (``/app-api/v1``, docs/app-api.md) exactly as the reference client does. The service
worker must be served from ``/app/`` for its scope to cover the app; the page and the worker are
revalidated on every load so that a deployment reaches installed apps at once.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from portti.i18n import SUPPORTED, app_texts, current_language

STATIC_DIR = Path(__file__).parent / "static"
REVALIDATE = {"Cache-Control": "no-cache"}

router = APIRouter(include_in_schema=False)


@router.get("/app")
def app_root() -> Response:
    return RedirectResponse("/app/", 308)


@router.get("/app/")
def app_page() -> Response:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=REVALIDATE)


@router.get("/app/manifest.webmanifest")
def app_manifest() -> Response:
    return FileResponse(
        STATIC_DIR / "manifest.webmanifest",
        media_type="application/manifest+json",
        headers=REVALIDATE,
    )


@router.get("/app/sw.js")
def app_service_worker() -> Response:
    return FileResponse(STATIC_DIR / "sw.js", media_type="text/javascript", headers=REVALIDATE)


@router.get("/app/texts")
def app_texts_for_request() -> Response:
    """The app's texts in the request's language (``Accept-Language``: fi, sv, else English)."""
    language = current_language()
    return JSONResponse(
        {"language": language, "texts": app_texts(language)},
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/app/texts/{language}.json")
def app_texts_in(language: str) -> Response:
    if language not in SUPPORTED:
        return JSONResponse({"detail": "Unknown language"}, status_code=404)
    return JSONResponse({"language": language, "texts": app_texts(language)})
