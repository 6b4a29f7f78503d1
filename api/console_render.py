"""Rendering for every console page: one Jinja environment over `api/templates`, with the
filters the pages need (money from cents, readable labels for every stored code, times and
waiting minutes), so no page shows `cease_communication` or a Python dict and every page can
extend the one base layout.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from parley.console import labels, users
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
# The queue's and transcript's labels (parley.console.labels), for every console page.
for _name in (
    "reason",
    "sub_reason",
    "outcome",
    "conversation_status",
    "escalation_status",
    "channel",
    "sender",
    "audit_kind",
    "role",
):
    templates.env.filters[_name] = getattr(labels, _name)


def _waited(minutes: int) -> str:
    """Waiting time in minutes, as a person reads it: "12 min", "3 h 05 min", "2 d 4 h"."""
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes // 1440} d {minutes % 1440 // 60} h"


templates.env.filters["waited"] = _waited


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
