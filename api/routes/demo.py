"""The local demo chat page (`/demo`) and the public static files pages of the API load."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from api.deps import SettingsDep
from api.rendering import templates
from parley.core.errors import NotFound

HERE = Path(__file__).resolve().parent.parent
router = APIRouter(tags=["demo"], include_in_schema=False)
# Files a page of the API may load (scripts live in files: the Content-Security-Policy allows
# no inline script).
STATIC = {"demo.js": "text/javascript"}


@router.get("/demo", response_class=HTMLResponse)
def demo_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    return templates().TemplateResponse(request, "demo.html", {"company": settings.company_name})


@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    if name not in STATIC:
        raise NotFound("not_found", "Not found.")
    return FileResponse(HERE / "static" / name, media_type=STATIC[name])
