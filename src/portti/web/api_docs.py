"""The API's reference at ``/api/docs``: Swagger UI over ``/api/openapi.json``.

Served by Portti itself from ``static/vendor/swagger-ui/`` (swagger-ui-dist 5, which reads
OpenAPI 3.1, the version FastAPI writes), not from a CDN as FastAPI's own page is: the pages' Content-Security-Policy (scripts and styles from 'self' only,
``web/middleware.py``) then holds, no third party learns who reads the reference, and it works
on a server without Internet access. The page's one script of its own is ``static/api-docs.js``
(no inline script, which the policy would refuse)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

ASSETS = "/static/vendor/swagger-ui"

PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portti API reference</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
<main id="swagger-ui" aria-label="Portti API reference"></main>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script type="module" src="/static/api-docs.js"></script>
</body>
</html>
"""


async def api_docs_page(_request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE, headers={"cache-control": "no-cache"})


def api_docs_routes() -> list[BaseRoute]:
    return [Route("/api/docs", api_docs_page, methods=["GET"])]
