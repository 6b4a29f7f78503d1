"""Rendering for every HTML page (console, widget, demo, checkout, unsubscribe): one Jinja
environment over `api/templates`, built on first use rather than at import, with the filters
the pages need (money from cents, readable labels for every stored code, times and durations),
so no page shows `cease_communication` or a Python dict and every console page can extend the
one base layout.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
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
# The queue's and transcript's labels (parley.console.labels), for every console page.
LABEL_FILTERS = (
    "reason",
    "sub_reason",
    "outcome",
    "conversation_status",
    "escalation_status",
    "channel",
    "sender",
    "audit_kind",
    "role",
)


def _when(value: datetime | date | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC time as the console writes it everywhere ("2026-03-15 12:00 UTC")."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime(fmt) + " UTC"
    return value.isoformat()


def _minutes(value: float | None) -> str:
    """A duration in minutes, readable: "45 min", "3 h 20 min", "2 d 4 h"; "—" when unknown.
    Waiting times in the queue and the dashboard's medians read the same way."""
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


@cache
def templates() -> Jinja2Templates:
    """The one environment, with every filter registered."""
    built = Jinja2Templates(directory=HERE / "templates")
    filters = built.env.filters
    filters.update(
        money=format_cents,
        label=label,
        event_label=event_label,
        details=details,
        when=_when,
        minutes=_minutes,
    )
    for name in LABEL_FILTERS:
        filters[name] = getattr(labels, name)
    return built


def page(
    request: Request,
    name: str,
    login: LoginSession | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    def can(permission: str) -> bool:
        return login is not None and users.can(login.role, permission)

    return templates().TemplateResponse(
        request, name, {"login": login, "can": can, **context}, status_code=status_code
    )
