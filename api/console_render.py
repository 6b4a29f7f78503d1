"""Rendering for the console pages added by the dashboard, accounts and exports routers.

The same templates folder and base layout as `api.routes.console`, with the filters these pages
need: money from cents, and readable labels for every stored code (`parley.console.readable`),
so no page shows `cease_communication` or a Python dict.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from parley.console import users
from parley.console.readable import details, event_label, label
from parley.console.users import LoginSession
from parley.core.money import format_cents

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["money"] = format_cents
templates.env.filters["label"] = label
templates.env.filters["event_label"] = event_label
templates.env.filters["details"] = details


def _when(value: datetime | date | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC time as the console writes it everywhere ("2026-03-15 12:00 UTC")."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime(fmt) + " UTC"
    return value.isoformat()


def _minutes(value: float | None) -> str:
    """A duration in minutes, readable: "45 min", "3 h 20 min", "2 d 4 h"; "—" when unknown."""
    if value is None:
        return "—"
    total = int(round(value))
    if total < 60:
        return f"{total} min"
    hours, minutes = divmod(total, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


templates.env.filters["when"] = _when
templates.env.filters["minutes"] = _minutes


def page(
    request: Request,
    name: str,
    login: LoginSession | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    def can(permission: str) -> bool:
        return login is not None and users.can(login.role, permission)

    return templates.TemplateResponse(
        request, name, {"login": login, "can": can, **context}, status_code=status_code
    )
