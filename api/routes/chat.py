"""Web-chat REST contract (SPEC §7)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Literal, TypeVar

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field, field_validator

from api.deps import AllowedOrigin, SessionDep, StateDep, client_key
from api.schemas.common import errors
from api.state import AppState
from parley.conversations import turns
from parley.core.db import transaction
from parley.core.errors import BotUnavailable, TooManyRequests
from parley.tables import Channel
from parley.verification import portal_tokens

router = APIRouter(prefix="/api/chat", tags=["chat"], dependencies=[AllowedOrigin])

Status = Literal["bot", "queued", "human", "closed"]
T = TypeVar("T")


class Button(BaseModel):
    title: str
    payload: str


class ChatMessage(BaseModel):
    text: str
    buttons: list[Button] | None = None


class TranscriptMessage(ChatMessage):
    """Also who said it and the message id: the widget resumes its live stream after the last
    id and tells debtor, bot and agent messages apart after a reload."""

    id: int
    sender: Literal["debtor", "bot", "agent", "system"]
    at: datetime
    name: str | None = Field(None, description="The team member's name on an agent message.")


class SessionCreate(BaseModel):
    model_config = {"extra": "forbid"}
    portal_token: str | None = None


class SessionCreated(BaseModel):
    session_id: str
    messages: list[ChatMessage]


class MessageIn(BaseModel):
    model_config = {"extra": "forbid"}
    text: str = Field(min_length=1, max_length=2000)
    # The payload of the button pressed (only one the bot just offered is used as such).
    payload: str | None = Field(None, max_length=200)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be blank")
        return value


class TurnOut(BaseModel):
    messages: list[ChatMessage]
    status: Status


class Transcript(BaseModel):
    messages: list[TranscriptMessage]
    status: Status


def _out(result: turns.TurnResult) -> list[ChatMessage]:
    return [ChatMessage.model_validate(m.as_dict()) for m in result.messages]


@router.post(
    "/sessions",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionCreated,
    responses=errors(
        401, 403, 429, 503, e401="Portal token refused", e503="The assistant cannot greet now"
    ),
)
async def create_session(
    request: Request, state: StateDep, body: SessionCreate | None = None
) -> SessionCreated:
    """Start a chat; the greeting comes back. With a portal token (a one-time, signed hand-off
    from the creditor's portal) the chat starts verified. Anonymous starts are rate-limited per
    client; when the assistant cannot greet, the answer is 503 and nothing is left behind."""
    settings = state.settings
    await _limited(
        state,
        partial(
            state.limits.require,
            settings.rate_limit_sessions,
            "sessions",
            client_key(request),
            message="Too many chats started from here. Please wait a few minutes.",
        ),
    )
    account_id = None
    if body is not None and body.portal_token is not None:
        token = body.portal_token
        # Checked (and used up) before anything is created: a refused token leaves no
        # conversation (401).
        account_id = await asyncio.to_thread(_sign_in, state, token)
    try:
        result = await turns.start_conversation(
            state.sessions,
            state.bot,
            state.locks,
            channel=Channel.WEB,
            account_id=account_id,
            verified_by="portal_token" if account_id is not None else None,
        )
    except BotUnavailable:
        if account_id is not None and body is not None and body.portal_token is not None:
            await asyncio.to_thread(_give_back, state, body.portal_token)
        raise
    return SessionCreated(session_id=result.conversation_id, messages=_out(result))


async def _limited(state: AppState, check: Callable[[], T]) -> T:
    """A rate-limit call: on the event loop when the counters are in this process (no I/O to
    wait for, and no thread hand-off per message), on a worker thread when they are in Redis."""
    if state.limits.in_process:
        return check()
    return await asyncio.to_thread(check)


def _give_back(state: AppState, token: str) -> None:
    """The sign-in opened nothing (503): the same link works when the debtor tries again."""
    try:
        claims = portal_tokens.verify(
            token, state.settings.portal_secret, audience=state.settings.portal_token_audience
        )
    except portal_tokens.PortalTokenError:
        return  # expired meanwhile: nothing to give back
    with transaction(state.sessions) as session:
        portal_tokens.give_back(session, claims.jti)


def _sign_in(state: AppState, token: str) -> int:
    with transaction(state.sessions) as session:
        return portal_tokens.sign_in(
            session,
            token,
            state.settings.portal_secret,
            audience=state.settings.portal_token_audience,
        ).id


@router.post(
    "/sessions/{session_id}/messages",
    response_model=TurnOut,
    responses=errors(403, 404, 422, 429, 503),
)
async def post_message(
    request: Request, session_id: str, body: MessageIn, state: StateDep
) -> TurnOut:
    """One debtor message and the replies to it. A pressed button sends its title as `text`
    and its `payload`; text is always read as text. Too many failed identity checks from one
    client are refused (429) for a while."""
    client = client_key(request)
    verification = state.settings.rate_limit_verification
    if not await _limited(state, partial(state.limits.allowed, verification, "verify", client)):
        raise TooManyRequests(
            "rate_limited", "Too many attempts from here. Please try again later."
        )
    result = await turns.handle_inbound(
        state.sessions,
        state.bot,
        state.locks,
        state.settings,
        session_id,
        body.text,
        body.payload,
    )
    if result.failed_checks > 0:
        await _limited(
            state,
            partial(state.limits.hit, verification, "verify", client, cost=result.failed_checks),
        )
    return TurnOut(messages=_out(result), status=str(result.status))  # type: ignore[arg-type]


@router.get(
    "/sessions/{session_id}/messages", response_model=Transcript, responses=errors(403, 404)
)
def get_transcript(session_id: str, session: SessionDep) -> Transcript:
    """The debtor-visible transcript (what the widget shows after a reload)."""
    rows, status_ = turns.transcript(session, session_id)
    return Transcript(
        messages=[
            TranscriptMessage(
                text=m.text,
                buttons=m.buttons or None,
                id=m.id,
                sender=str(m.sender),  # type: ignore[arg-type]
                at=m.created_at,
                name=m.sender_name if m.sender == "agent" else None,
            )
            for m in rows
        ],
        status=str(status_),  # type: ignore[arg-type]
    )
