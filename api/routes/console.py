"""The supervisor console at /console (SPEC §10): server-rendered pages, plain HTML forms, and a
little JavaScript that refreshes the queue and the open conversation when the live stream says
something changed. Every rule is in `parley.console`; this module authenticates and renders."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
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
from api.deps import SessionDep, SettingsDep, StateDep, client_key
from api.rendering import page as _page
from api.state import AppState
from parley.console import canned, labels, users, views, work
from parley.console import queue as work_queue
from parley.console.users import LoginSession
from parley.conversations import live
from parley.core.errors import Forbidden, ParleyError
from parley.core.settings import Settings
from parley.records.audit import Kind, record
from parley.tables import ACTIVE_ESCALATION

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)
HERE = Path(__file__).resolve().parent.parent
STATIC = {"console.js": "text/javascript", "console.css": "text/css"}
LIVE_POLL_SECONDS = 1.0
LIVE_MAX_SECONDS = 300.0  # the browser reconnects; bounds a stream's life on shutdown
BAD_LOGIN = "Invalid username or password."
TOO_MANY_LOGINS = "Too many attempts. Please wait a few minutes and try again."


def error_page(request: Request, login: LoginSession | None, exc: ParleyError) -> HTMLResponse:
    """A refused console action as a page (the app's error handler uses it for /console)."""
    return _page(
        request, "console/error.html", login, status_code=exc.status_code, error=exc.message
    )


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
    session: SessionDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Log in. The login form's CSRF token is checked against its double-submit cookie; a
    failure never says whether the name or the password was wrong."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not users.csrf_matches(expected, csrf_token):
        return error_page(
            request,
            None,
            Forbidden("csrf_failed", "The login form expired. Reload the page and try again."),
        )
    client = client_key(request)
    name = username.strip().lower()[:64]
    limit = state.settings.rate_limit_login
    allowed = state.limits.hit(limit, "login", client) and state.limits.hit(
        limit, "login-user", name
    )
    if not allowed:
        # Too many tries from this address, or at this name: refused without checking the
        # password (so guessing gets no answer at all), and on record.
        record(session, Kind.CONSOLE_LOGIN_REFUSED, username=name, client=client[:64])
        return _login_form(request, state, error=TOO_MANY_LOGINS, status_code=429)
    user = users.authenticate(session, username, password, client=client)
    token = users.start_session(session, user) if user is not None else None
    if token is None:
        return _login_form(request, state, error=BAD_LOGIN, status_code=401)
    response = RedirectResponse("/console/queue", status_code=303)
    set_session_cookie(response, state, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, login: LoginDep) -> Response:
    users.end_session(session, request.cookies.get(COOKIE))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _queue_context(
    request: Request, session: Session, settings: Settings, login: LoginSession
) -> dict[str, Any]:
    params = request.query_params
    filters = work_queue.QueueFilters.parse(
        reason=params.get("reason"),
        channel=params.get("channel"),
        status=params.get("status"),
        assigned=params.get("assigned"),
        search=params.get("q"),
        page=params.get("page"),
    )
    config = work_queue.load_queue_config(settings.queue_config_path)
    if config.auto_assign:
        work_queue.auto_assign(session, config)
    page = work_queue.queue_page(session, filters, user_id=login.user_id, config=config)
    return {
        "page": page,
        "filters": filters,
        "config": config,
        "reasons": list(labels.REASONS),
        "urlencode": urlencode,
    }


@router.get("/queue", response_class=HTMLResponse)
def queue_page(
    request: Request, session: SessionDep, settings: SettingsDep, login: OptionalLoginDep
) -> Response:
    """The queue: counts per reason, filters, search, 50 rows a page, live."""
    if login is None:
        return RedirectResponse("/console/login", status_code=303)
    context = _queue_context(request, session, settings, login)
    return _page(request, "console/queue.html", login, **context)


@router.get("/queue/rows", response_class=HTMLResponse)
def queue_rows(
    request: Request, session: SessionDep, settings: SettingsDep, login: LoginDep
) -> Response:
    """The queue's live part (counts, rows, pager) for the same filters, fetched on `changed`."""
    context = _queue_context(request, session, settings, login)
    return _page(request, "console/_queue_rows.html", login, **context)


@router.get("/canned", response_class=HTMLResponse)
def canned_page(request: Request, session: SessionDep, login: OptionalLoginDep) -> Response:
    """The canned replies; supervisors add, change and delete them."""
    if login is None:
        return RedirectResponse("/console/login", status_code=303)
    return _page(request, "console/canned.html", login, replies=canned.list_replies(session))


@router.post("/canned")
def canned_save(
    session: SessionDep,
    login: LoginDep,
    shortcut: Annotated[str, Form(max_length=40)] = "",
    text: Annotated[str, Form(max_length=canned.MAX_TEXT + 100)] = "",
) -> Response:
    canned.save(session, login, shortcut, text)
    return _see("/console/canned")


@router.post("/canned/{shortcut}/delete")
def canned_delete(shortcut: str, session: SessionDep, login: LoginDep) -> Response:
    canned.delete(session, login, shortcut)
    return _see("/console/canned")


def _conversation_context(session: Session, conversation_id: str) -> dict[str, Any]:
    view = views.conversation_view(session, conversation_id)
    replies = canned.list_replies(session)
    return {
        "view": view,
        "outcomes": work.OUTCOMES,
        "shown": labels.transcript_texts(view.messages),
        "negotiation_line": labels.negotiation_line,
        "canned": replies,
        "canned_map": {r.shortcut: r.text for r in replies},
        "team": work_queue.assignable_users(session),
        "assigned": next(
            (
                view.usernames.get(e.assigned_user_id)
                for e in view.escalations
                if e.assigned_user_id and e.status in ACTIVE_ESCALATION
            ),
            None,
        ),
    }


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
def conversation_page(
    request: Request, conversation_id: str, session: SessionDep, login: OptionalLoginDep
) -> Response:
    if login is None:
        return RedirectResponse("/console/login", status_code=303)
    context = _conversation_context(session, conversation_id)
    return _page(request, "console/conversation.html", login, **context)


@router.get("/conversations/{conversation_id}/panel", response_class=HTMLResponse)
def conversation_panel(
    request: Request, conversation_id: str, session: SessionDep, login: LoginDep
) -> Response:
    context = _conversation_context(session, conversation_id)
    return _page(request, "console/_conversation_panel.html", login, **context)


def _back(conversation_id: str) -> str:
    return f"/console/conversations/{conversation_id}"


def _see(url: str) -> RedirectResponse:
    """Back to the page after a console action (a refused action raises: the app's error
    handler shows the error page and the request's unit of work rolls back)."""
    return RedirectResponse(url, status_code=303)


@router.post("/conversations/{conversation_id}/claim")
def claim(
    conversation_id: str,
    session: SessionDep,
    login: LoginDep,
    take_over: Annotated[bool, Form()] = False,
    back: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """Claim (or, for supervisors, take over); from the queue, back to the same queue page."""
    work.claim(session, login, conversation_id, take_over=take_over)
    return _see(back if _is_queue_url(back) else _back(conversation_id))


def _is_queue_url(url: str) -> bool:
    """Only a queue URL of this console is followed back (never an open redirect)."""
    return url == "/console/queue" or url.startswith("/console/queue?")


@router.post("/conversations/{conversation_id}/assign")
def assign(
    conversation_id: str,
    session: SessionDep,
    login: LoginDep,
    username: Annotated[str, Form(max_length=64)] = "",
    back: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """A supervisor assigns a waiting conversation to a team member (blank: nobody)."""
    work_queue.assign(session, login, conversation_id, username)
    return _see(back if _is_queue_url(back) else _back(conversation_id))


@router.post("/conversations/{conversation_id}/reply")
def reply(
    conversation_id: str,
    session: SessionDep,
    settings: SettingsDep,
    login: LoginDep,
    text: Annotated[str, Form(max_length=work.MAX_REPLY)] = "",
) -> Response:
    work.reply(session, settings, login, conversation_id, text)
    return _see(_back(conversation_id))


@router.post("/conversations/{conversation_id}/notes")
def note(
    conversation_id: str,
    session: SessionDep,
    login: LoginDep,
    text: Annotated[str, Form(max_length=work.MAX_NOTE)] = "",
) -> Response:
    work.add_note(session, login, conversation_id, text)
    return _see(_back(conversation_id))


@router.post("/conversations/{conversation_id}/hand-back")
def hand_back(
    conversation_id: str,
    session: SessionDep,
    login: LoginDep,
    lift_pause: Annotated[bool, Form()] = False,
) -> Response:
    work.hand_back(session, login, conversation_id, lift_pause=lift_pause)
    return _see("/console/queue")


@router.post("/conversations/{conversation_id}/close")
def close(
    conversation_id: str,
    session: SessionDep,
    login: LoginDep,
    outcome: Annotated[str, Form(max_length=64)] = "",
    lift_pause: Annotated[bool, Form()] = False,
) -> Response:
    work.close(session, login, conversation_id, outcome, lift_pause=lift_pause)
    return _see("/console/queue")


@router.post("/accounts/{account_ref}/resume")
def resume(
    account_ref: str,
    session: SessionDep,
    login: LoginDep,
    back: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    work.resume_collection(session, login, account_ref)
    return _see(_back(back) if back.isalnum() else "/console/queue")


@router.get("/events")
async def events(
    request: Request, state: StateDep, login: LoginDep, conversation: str | None = None
) -> StreamingResponse:
    """Server-sent events: `changed` whenever the queue (or one conversation) moved. The page
    then fetches the fresh fragment; a DB poll behind it sees every process and replica."""

    def read() -> live.Cursor:
        return live.read_cursor(state.sessions, conversation)

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        last = await asyncio.to_thread(read)
        ticks = 0
        async for current in live.poll(
            read,
            interval=LIVE_POLL_SECONDS,
            lifetime=LIVE_MAX_SECONDS,
            stopped=request.is_disconnected,
        ):
            ticks += 1
            if current != last:
                last = current
                yield f"event: changed\ndata: {current.token()}\n\n"
            elif ticks % 15 == 0:
                yield ": keep-alive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
