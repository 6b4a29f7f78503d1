"""Typed dependencies shared by the routers.

`SessionDep` is the request's unit of work: one session, committed when the endpoint returns
and rolled back when it raises, in this one place. It is function-scoped, so the commit happens
before the response is sent: a failed commit answers 500 (Stripe and Twilio retry), never a 200
for something that was not stored. The few turn flows that must commit before calling the bot
take `SessionFactoryDep` instead (see `parley.conversations.turns`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from api.state import AppState
from parley.core.errors import Forbidden
from parley.core.settings import Settings


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.parley
    return state


async def _state(request: Request) -> AppState:
    """`get_state` as a dependency: a coroutine, so FastAPI calls it on the event loop instead
    of handing a plain function to its thread pool (one hand-off fewer per request)."""
    return get_state(request)


StateDep = Annotated[AppState, Depends(_state)]


async def get_settings_dep(state: StateDep) -> Settings:
    return state.settings


def get_session(state: StateDep) -> Iterator[Session]:
    with state.sessions() as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        session.commit()


async def require_allowed_origin(
    request: Request, state: StateDep, origin: Annotated[str | None, Header()] = None
) -> None:
    """Only pages on the configured allowlist may drive the widget API (SPEC §7).

    Browsers always send Origin on cross-origin requests; requests without one (server-side
    portals, curl) are not coming from a foreign page and are let through. Pages the API serves
    itself (the demo page, on whatever port it runs) are same-origin and always allowed.
    A coroutine for the same reason as `_state`: it does no I/O.
    """
    same_origin = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if not origin_allowed(origin, same_origin, state.settings.widget_origins):
        raise Forbidden("origin_not_allowed", "This site may not use the chat.")


def origin_allowed(origin: str | None, same_origin: str, allowed: list[str]) -> bool:
    """The allowlist rule, shared by the HTTP endpoints and the WebSocket handshake."""
    if origin is None:
        return True
    origin = origin.rstrip("/")
    return origin == same_origin or origin in allowed


def client_key(request: Request) -> str:
    """Who is asking, for the rate limits: the client address (uvicorn sets it from the
    proxy's X-Forwarded-For only for the proxies it trusts: `--forwarded-allow-ips`)."""
    return request.client.host if request.client else "unknown"


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
AllowedOrigin = Depends(require_allowed_origin)
