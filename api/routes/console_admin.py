"""The console's admin pages (SPEC §15): account CSV upload with the line-numbered report,
users (list, create, disable, reset password), the policies, cadences and queue settings in
force (read-only), and the outbox of local mode.

Every rule is in the core (`parley.console.users`, `parley.accounts.importer`); the upload goes
through the same code as `POST /api/admin/accounts/import` (`api.routes.admin_api`).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from api.console_auth import LoginDep, OptionalLoginDep
from api.deps import SessionDep, SettingsDep, StateDep
from api.routes.admin_api import require_importer, run_import, spooled_upload
from api.routes.console import _page
from parley.console import users
from parley.console.queue import load_queue_config
from parley.console.users import LoginSession
from parley.core.errors import ConfigError, Forbidden
from parley.core.paging import clamp_page
from parley.negotiation.policies import load_policies
from parley.tables import OutboundMessage

router = APIRouter(prefix="/console/admin", tags=["console"], include_in_schema=False)
OUTBOX_PER_PAGE: Final = 50


def _allowed(login: LoginSession | None, permission: str) -> LoginSession:
    if login is None:
        raise Forbidden("not_logged_in", "Please log in.")
    if not users.can(login.role, permission):
        raise Forbidden("forbidden", "Your role does not allow this page.")
    return login


def _to_login(login: LoginSession | None) -> Response | None:
    return RedirectResponse("/console/login", status_code=303) if login is None else None


# --- account upload ----------------------------------------------------------------------


@router.get("/import", response_class=HTMLResponse)
def import_page(request: Request, login: OptionalLoginDep) -> Response:
    if (redirect := _to_login(login)) is not None:
        return redirect
    return _page(request, "console/admin_import.html", _allowed(login, "import_accounts"))


@router.post("/upload", response_class=HTMLResponse)
async def upload(request: Request, state: StateDep) -> Response:
    """The upload form: all or nothing, and the report (every error with its line) on the page."""
    login = await require_importer(request, state)
    async with spooled_upload(request) as (path, file_name):
        report = await asyncio.to_thread(run_import, state, path, file_name)
    return _page(
        request,
        "console/admin_import.html",
        login,
        status_code=200 if report.ok else 422,
        report=report,
    )


# --- users -------------------------------------------------------------------------------


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, session: SessionDep, login: OptionalLoginDep) -> Response:
    if (redirect := _to_login(login)) is not None:
        return redirect
    actor = _allowed(login, "manage_users")
    return _page(
        request,
        "console/admin_users.html",
        actor,
        people=users.list_users(session),
        roles=users.ROLES,
        done=request.query_params.get("done", "")[:80],
    )


def _back_to_users(done: str) -> RedirectResponse:
    return RedirectResponse(f"/console/admin/users?done={done}", status_code=303)


@router.post("/users")
def create_user(
    session: SessionDep,
    login: LoginDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    role: Annotated[str, Form(max_length=16)] = "",
    display_name: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    user = users.create_user_as(session, login, username, password, role, display_name)
    return _back_to_users(f"created-{user.username}")


@router.post("/users/{username}/disable")
def disable_user(username: str, session: SessionDep, login: LoginDep) -> Response:
    user = users.set_active(session, login, username, active=False)
    return _back_to_users(f"disabled-{user.username}")


@router.post("/users/{username}/enable")
def enable_user(username: str, session: SessionDep, login: LoginDep) -> Response:
    user = users.set_active(session, login, username, active=True)
    return _back_to_users(f"enabled-{user.username}")


@router.post("/users/{username}/password")
def reset_password(
    username: str,
    session: SessionDep,
    login: LoginDep,
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    user = users.reset_password(session, login, username, password)
    return _back_to_users(f"password-{user.username}")


# --- configuration in force --------------------------------------------------------------


def _read_policies(settings: Any) -> tuple[dict[str, Any], str | None]:
    try:
        return dict(load_policies(settings.policies_path)), None
    except ConfigError as exc:
        return {}, exc.message


@router.get("/config", response_class=HTMLResponse)
def config_page(request: Request, settings: SettingsDep, login: OptionalLoginDep) -> Response:
    """The negotiation policies, the outreach cadences (when the file exists) and the queue's
    response targets the running API uses, read-only."""
    if (redirect := _to_login(login)) is not None:
        return redirect
    actor = _allowed(login, "view_config")
    policies, policy_error = _read_policies(settings)
    cadences_path = settings.policies_path.parent / "cadences.yml"
    cadences = (
        cadences_path.read_text(encoding="utf-8")[:20_000] if cadences_path.is_file() else None
    )
    return _page(
        request,
        "console/admin_config.html",
        actor,
        policies=policies,
        policy_error=policy_error,
        policies_path=settings.policies_path,
        cadences=cadences,
        cadences_path=cadences_path,
        queue=load_queue_config(settings.queue_config_path),
        queue_path=settings.queue_config_path,
    )


# --- outbox ------------------------------------------------------------------------------


@router.get("/outbox", response_class=HTMLResponse)
def outbox_page(
    request: Request, session: SessionDep, settings: SettingsDep, login: OptionalLoginDep
) -> Response:
    """Outbound messages, newest first, 50 a page: in local mode (no Twilio) this is where SMS
    go (status "outbox"); scheduled, blocked and sent ones are listed too."""
    if (redirect := _to_login(login)) is not None:
        return redirect
    actor = _allowed(login, "view_outbox")
    only_outbox = request.query_params.get("all") != "1"
    query = select(OutboundMessage)
    count = select(func.count()).select_from(OutboundMessage)
    if only_outbox:
        query = query.where(OutboundMessage.status == "outbox")
        count = count.where(OutboundMessage.status == "outbox")
    total = int(session.scalar(count) or 0)
    try:
        asked = int(request.query_params.get("page", "1"))
    except ValueError:
        asked = 1
    page, pages = clamp_page(total, asked, OUTBOX_PER_PAGE)
    rows = list(
        session.scalars(
            query.order_by(OutboundMessage.id.desc())
            .limit(OUTBOX_PER_PAGE)
            .offset((page - 1) * OUTBOX_PER_PAGE)
        )
    )
    return _page(
        request,
        "console/admin_outbox.html",
        actor,
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        only_outbox=only_outbox,
        local_mode=not settings.twilio_rest_configured,
    )
