"""A plain local demo page for the chat API (the embeddable widget replaces it later)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.deps import SettingsDep

router = APIRouter(tags=["demo"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")


@router.get("/demo", response_class=HTMLResponse)
def demo_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    return templates.TemplateResponse(request, "demo.html", {"company": settings.company_name})
