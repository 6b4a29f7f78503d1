"""The supervisor console at /console (SPEC §10): server-rendered pages, plain HTML forms, and a
little JavaScript that refreshes the queue and the open conversation when the live stream says
something changed. Every rule is in `parley.console`; this module authenticates and renders."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.responses import StreamingResponse

from api.console_auth import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    LoginDep,
    OptionalLoginDep,
    secure_cookies,
    set_session_cookie,
)
from api.deps import StateDep
from api.state import AppState
from parley import console, live, users
from parley.console import Forbidden
from parley.db import transaction
from parley.errors import ParleyError
from parley.money import format_cents
from parley.users import LoginSession

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)
HERE = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["money"] = format_cents
STATIC = {"console.js": "text/javascript", "console.css": "text/css"}
LIVE_POLL_SECONDS = 1.0
LIVE_MAX_SECONDS = 300.0  # the browser reconnects; bounds a stream's life on shutdown
BAD_LOGIN = "Invalid username or password."


def _page(
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


def _error(request: Request, login: LoginSession | None, exc: ParleyError) -> HTMLResponse:
    return _page(
        request, "console/error.html", login, status_code=exc.status_code, error=exc.message
    )


def _act(
    request: Request,
    state: AppState,
    login: LoginSession,
    work: Callable[[Session], object],
    redirect: str,
) -> Response:
    """Run one console action in a transaction; 303 back to the page, or the error page."""
    try:
        with transaction(state.sessions) as session:
            work(session)
    except ParleyError as exc:
        return _error(request, login, exc)
    return RedirectResponse(redirect, status_code=303)


@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    if name not in STATIC:
        raise ParleyError("not_found", "Not found.", status_code=404)
    return FileResponse(HERE / "static" / name, media_type=STATIC[name])


@router.get("", response_class=HTMLResponse)
def home(login: OptionalLoginDep) -> Response:
    return RedirectResponse("/console/queue" if login else "/console/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, state: StateDep, login: OptionalLoginDep) -> Response:
    if login is not None:
        return RedirectResponse("/console/queue", status_code=303)
    return _login_form(request, state, error=None)


def _login_form(
    request: Request, state: AppState, error: str | None, status_code: int = 200
) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = _page(
        request,
        "console/login.html",
        None,
        status_code=status_code,
        login_csrf=token,
        error=error,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(state),
        path="/console",
    )
    return response


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    state: StateDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Log in. The login form's CSRF token is checked against its double-submit cookie; a
    failure never says whether the name or the password was wrong."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not users.csrf_matches(expected, csrf_token):
        return _error(
            request,
            None,
            Forbidden("csrf_failed", "The login form expired. Reload the page and try again."),
        )
    with transaction(state.sessions) as session:
        user = users.authenticate(session, username, password)
        token = users.start_session(session, user) if user is not None else None
    if token is None:
        return _login_form(request, state, error=BAD_LOGIN, status_code=401)
    response = RedirectResponse("/console/queue", status_code=303)
    set_session_cookie(response, state, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    return response


@router.post("/logout")
def logout(request: Request, state: StateDep, login: LoginDep) -> Response:
    with transaction(state.sessions) as session:
        users.end_session(session, request.cookies.get(COOKIE))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _queue_context(state: AppState) -> dict[str, Any]:
    with state.sessions() as session:
        return {"items": console.queue(session)}


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request, state: StateDep, login: OptionalLoginDep) -> Response:
    if login is None:
        return RedirectResponse("/console/login", status_code=303)
    return _page(request, "console/queue.html", login, **_queue_context(state))


@router.get("/queue/rows", response_class=HTMLResponse)
def queue_rows(request: Request, state: StateDep, login: LoginDep) -> Response:
    return _page(request, "console/_queue_rows.html", login, **_queue_context(state))


def _conversation_context(state: AppState, conversation_id: str) -> dict[str, Any]:
    with state.sessions() as session:
        view = console.conversation_view(session, conversation_id)
    return {"view": view, "outcomes": console.OUTCOMES}


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
def conversation_page(
    request: Request, conversation_id: str, state: StateDep, login: OptionalLoginDep
) -> Response:
    if login is None:
        return RedirectResponse("/console/login", status_code=303)
    try:
        context = _conversation_context(state, conversation_id)
    except ParleyError as exc:
        return _error(request, login, exc)
    return _page(request, "console/conversation.html", login, **context)


@router.get("/conversations/{conversation_id}/panel", response_class=HTMLResponse)
def conversation_panel(
    request: Request, conversation_id: str, state: StateDep, login: LoginDep
) -> Response:
    try:
        context = _conversation_context(state, conversation_id)
    except ParleyError as exc:
        return _error(request, login, exc)
    return _page(request, "console/_conversation_panel.html", login, **context)


def _back(conversation_id: str) -> str:
    return f"/console/conversations/{conversation_id}"


@router.post("/conversations/{conversation_id}/claim")
def claim(request: Request, conversation_id: str, state: StateDep, login: LoginDep) -> Response:
    return _act(
        request,
        state,
        login,
        lambda s: console.claim(s, login, conversation_id),
        _back(conversation_id),
    )


@router.post("/conversations/{conversation_id}/reply")
def reply(
    request: Request,
    conversation_id: str,
    state: StateDep,
    login: LoginDep,
    text: Annotated[str, Form(max_length=console.MAX_REPLY)] = "",
) -> Response:
    return _act(
        request,
        state,
        login,
        lambda s: console.reply(s, login, conversation_id, text),
        _back(conversation_id),
    )


@router.post("/conversations/{conversation_id}/notes")
def note(
    request: Request,
    conversation_id: str,
    state: StateDep,
    login: LoginDep,
    text: Annotated[str, Form(max_length=console.MAX_NOTE)] = "",
) -> Response:
    return _act(
        request,
        state,
        login,
        lambda s: console.add_note(s, login, conversation_id, text),
        _back(conversation_id),
    )


@router.post("/conversations/{conversation_id}/hand-back")
def hand_back(
    request: Request,
    conversation_id: str,
    state: StateDep,
    login: LoginDep,
    lift_pause: Annotated[bool, Form()] = False,
) -> Response:
    return _act(
        request,
        state,
        login,
        lambda s: console.hand_back(s, login, conversation_id, lift_pause=lift_pause),
        "/console/queue",
    )


@router.post("/conversations/{conversation_id}/close")
def close(
    request: Request,
    conversation_id: str,
    state: StateDep,
    login: LoginDep,
    outcome: Annotated[str, Form(max_length=64)] = "",
    lift_pause: Annotated[bool, Form()] = False,
) -> Response:
    return _act(
        request,
        state,
        login,
        lambda s: console.close(s, login, conversation_id, outcome, lift_pause=lift_pause),
        "/console/queue",
    )


@router.post("/accounts/{account_ref}/resume")
def resume(
    request: Request,
    account_ref: str,
    state: StateDep,
    login: LoginDep,
    back: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    target = _back(back) if back.isalnum() else "/console/queue"
    return _act(
        request,
        state,
        login,
        lambda s: console.resume_collection(s, login, account_ref),
        target,
    )


def _cursor(state: AppState, conversation_id: str | None) -> str:
    with state.sessions() as session:
        if conversation_id:
            return live.conversation_cursor(session, conversation_id).token()
        return live.global_cursor(session).token()


@router.get("/events")
async def events(
    request: Request, state: StateDep, login: LoginDep, conversation: str | None = None
) -> StreamingResponse:
    """Server-sent events: `changed` whenever the queue (or one conversation) moved. The page
    then fetches the fresh fragment; a DB poll behind it sees every process and replica."""

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        last = await asyncio.to_thread(_cursor, state, conversation)
        waited = 0.0
        while waited < LIVE_MAX_SECONDS and not await request.is_disconnected():
            await asyncio.sleep(LIVE_POLL_SECONDS)
            waited += LIVE_POLL_SECONDS
            current = await asyncio.to_thread(_cursor, state, conversation)
            if current != last:
                last = current
                yield f"event: changed\ndata: {current}\n\n"
            elif int(waited) % 15 == 0:
                yield ": keep-alive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
