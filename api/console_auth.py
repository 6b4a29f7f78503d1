"""Console authentication for the web layer: the session cookie, CSRF checks, bearer tokens.

The rules (who may do what, how sessions expire) live in `parley.users`; this module only moves
tokens between HTTP and those rules.

- Cookie `parley_console`: a random token (the database keeps its SHA-256), HttpOnly,
  SameSite=Lax, Secure when `PARLEY_PUBLIC_URL` is https, 12 hours.
- CSRF: every request that is not GET/HEAD must carry the session's token, in the
  `X-CSRF-Token` header or a `csrf_token` form field; anything else gets 403 before any work.
  The login form, which has no session yet, uses a double-submit cookie instead.
- The read-only JSON API also accepts `Authorization: Bearer <token>` for admins
  (`parley users token NAME`), for scripts that have no browser session.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request, Response

from api.deps import StateDep
from api.state import AppState
from parley.console import users
from parley.console.users import LoginSession
from parley.core.errors import Forbidden, NotAuthenticated

COOKIE = "parley_console"
LOGIN_CSRF_COOKIE = "parley_login_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def secure_cookies(state: AppState) -> bool:
    return state.settings.public_url.lower().startswith("https://")


def set_session_cookie(response: Response, state: AppState, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=users.SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(state),
        path="/",
    )


def _load(state: AppState, token: str | None) -> LoginSession | None:
    with state.sessions() as session:
        return users.load_session(session, token)


async def current_login(request: Request, state: StateDep) -> LoginSession | None:
    """The logged-in console user, or None (no cookie, expired, logged out, deactivated)."""
    return await asyncio.to_thread(_load, state, request.cookies.get(COOKIE))


async def require_login(request: Request, state: StateDep) -> LoginSession:
    """A logged-in user; for state-changing methods also a matching CSRF token (else 403)."""
    login = await current_login(request, state)
    if request.method not in SAFE_METHODS:
        given = request.headers.get("x-csrf-token")
        if given is None:
            form = await request.form()
            field = form.get("csrf_token")
            given = field if isinstance(field, str) else None
        if login is None or not users.csrf_matches(login.csrf_token, given):
            raise Forbidden("csrf_failed", "The request could not be verified. Reload the page.")
    if login is None:
        raise NotAuthenticated("not_logged_in", "Please log in.")
    return login


def _bearer_user(state: AppState, token: str) -> LoginSession | None:
    with state.sessions() as session:
        user = users.user_for_api_token(session, state.settings.secret_key, token)
        if user is None:
            return None
        return LoginSession(user.id, user.username, user.role, csrf_token="")


async def require_api_reader(request: Request, state: StateDep) -> LoginSession:
    """The read-only API: a console session cookie, or an admin's bearer token."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        login = await asyncio.to_thread(_bearer_user, state, header[7:].strip())
        if login is None:
            raise NotAuthenticated("invalid_token", "Invalid or expired token.")
        return login
    login = await current_login(request, state)
    if login is None:
        raise NotAuthenticated("not_logged_in", "Log in to the console or send an admin token.")
    return login


LoginDep = Annotated[LoginSession, Depends(require_login)]
OptionalLoginDep = Annotated[LoginSession | None, Depends(current_login)]
ApiReaderDep = Annotated[LoginSession, Depends(require_api_reader)]
