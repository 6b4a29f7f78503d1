"""The console's dashboard (SPEC §15): `/console/dashboard`, figures for a period and a policy
(parley.console.dashboard), charts as server-rendered SVG with the numbers beside them, and the
worklist of accounts to work next (parley.console.priority). Any console role may look."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from api.console_auth import OptionalLoginDep
from api.deps import SessionDep, SettingsDep
from api.rendering import HERE, page
from parley.console import dashboard, priority
from parley.core.clock import utcnow
from parley.core.errors import InvalidRequest
from parley.negotiation.policies import cached_policies

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)
WORKLIST_SIZE = 10


@router.get("/assets/console-dashboard.css")
def stylesheet() -> FileResponse:
    """The stylesheet of the dashboard, accounts and exports pages (console.css stays the
    queue's)."""
    return FileResponse(HERE / "static" / "console-dashboard.css", media_type="text/css")


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    login: OptionalLoginDep,
    start: str | None = None,
    end: str | None = None,
    policy: str | None = None,
) -> Response:
    if login is None:
        return RedirectResponse("/console/login", status_code=303)
    policies = dashboard.policy_names(session, list(cached_policies(settings.policies_path)))
    chosen = policy if policy in policies else None
    error = None
    try:
        period = dashboard.Period.parse(start, end, utcnow().date())
    except InvalidRequest as exc:
        # A bad date keeps the page: the form says what is wrong, the figures show the default.
        error = exc.message
        period = dashboard.Period.parse(None, None, utcnow().date())
    board = dashboard.build(session, period, chosen)
    worklist = priority.worklist(session, policy=chosen, limit=WORKLIST_SIZE)
    return page(
        request,
        "console/dashboard.html",
        login,
        status_code=422 if error else 200,
        board=board,
        policies=policies,
        chosen=chosen,
        error=error,
        worklist=worklist,
        form={"start": start or "", "end": end or ""},
    )
