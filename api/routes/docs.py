"""The API reference at `/api/docs` (Swagger UI) and `/api/redoc` (ReDoc), served by the API
itself, so it works offline and under the pages' Content-Security-Policy (api/security.py:
scripts from this origin only, no inline script).

FastAPI's own docs page loads Swagger UI from a public CDN and starts it with an inline script;
here the Swagger UI files (5.x, which reads FastAPI's OpenAPI 3.1) come from the pinned
`fastapi-offline` package (only its static files are used; its code is never imported) and the
page is started by `api/static/api-docs.js`, which reads the OpenAPI URL from a data attribute.
Only the files named in `ASSETS` are served: a name is looked up, never joined to a path.
ReDoc's standalone bundle (same package) is served the same way under `/api/redoc/static/`,
started by `api/static/api-redoc.js`.
"""

from __future__ import annotations

from html import escape
from importlib.util import find_spec
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from parley.core.errors import NotFound

HERE = Path(__file__).resolve().parent.parent


def _swagger_ui_folder() -> Path:
    """The Swagger UI dist files of the `fastapi-offline` package (found, not imported)."""
    spec = find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fastapi-offline is not installed (requirements/app.lock)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


SWAGGER_UI = _swagger_ui_folder()
PREFIX = "/api/docs"
STATIC_PREFIX = f"{PREFIX}/static"
# Name under /api/docs/static/ -> (file, media type).
ASSETS: dict[str, tuple[Path, str]] = {
    "swagger-ui.css": (SWAGGER_UI / "swagger-ui.css", "text/css; charset=utf-8"),
    "swagger-ui-bundle.js": (
        SWAGGER_UI / "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
    ),
    "favicon.png": (SWAGGER_UI / "favicon.png", "image/png"),
    "api-docs.js": (HERE / "static" / "api-docs.js", "text/javascript; charset=utf-8"),
}
# The files change only with the pinned package (or a deploy): cached for an hour, then
# revalidated with the ETag FileResponse sets.
CACHE_CONTROL = "public, max-age=3600"

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — API reference</title>
<link rel="icon" type="image/png" href="{static}/favicon.png">
<link rel="stylesheet" href="{static}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{static}/swagger-ui-bundle.js"></script>
<script src="{static}/api-docs.js"></script>
</body>
</html>
"""

router = APIRouter(prefix=PREFIX, tags=["docs"], include_in_schema=False)


def _page(request: Request, template: str, static_prefix: str) -> HTMLResponse:
    """A viewer's page: the app's title, its static folder and the OpenAPI URL under the root
    path the app is served at."""
    openapi_url = request.app.openapi_url
    if not openapi_url:
        raise NotFound("not_found", "Not found.")
    root = str(request.scope.get("root_path", "")).rstrip("/")
    page = template.format(
        title=escape(request.app.title),
        static=escape(root + static_prefix),
        openapi=escape(root + openapi_url),
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})


def _asset(assets: dict[str, tuple[Path, str]], name: str) -> FileResponse:
    """One of a viewer's pinned files (only those listed), cached for long."""
    asset = assets.get(name)
    if asset is None:
        raise NotFound("not_found", "Not found.")
    path, media_type = asset
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": CACHE_CONTROL})


@router.get("", response_class=HTMLResponse)
def docs_page(request: Request) -> HTMLResponse:
    return _page(request, PAGE, STATIC_PREFIX)


@router.get("/static/{name}")
def docs_static(name: str) -> FileResponse:
    return _asset(ASSETS, name)


REDOC_PREFIX = "/api/redoc"
REDOC_STATIC = f"{REDOC_PREFIX}/static"
REDOC_ASSETS: dict[str, tuple[Path, str]] = {
    "redoc.standalone.js": (
        SWAGGER_UI / "redoc.standalone.js",
        "text/javascript; charset=utf-8",
    ),
    "api-redoc.js": (HERE / "static" / "api-redoc.js", "text/javascript; charset=utf-8"),
    "favicon.png": (SWAGGER_UI / "favicon.png", "image/png"),
}
REDOC_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — API reference (ReDoc)</title>
<link rel="icon" type="image/png" href="{static}/favicon.png">
</head>
<body>
<div id="redoc" data-openapi-url="{openapi}"></div>
<script src="{static}/redoc.standalone.js"></script>
<script src="{static}/api-redoc.js"></script>
</body>
</html>
"""

redoc_router = APIRouter(prefix=REDOC_PREFIX, tags=["docs"], include_in_schema=False)


@redoc_router.get("", response_class=HTMLResponse)
def redoc_page(request: Request) -> HTMLResponse:
    return _page(request, REDOC_PAGE, REDOC_STATIC)


@redoc_router.get("/static/{name}")
def redoc_static(name: str) -> FileResponse:
    return _asset(REDOC_ASSETS, name)
