"""Live messages for a web-chat session: `GET /api/chat/sessions/{id}/events` (server-sent
events). The widget receives a human agent's replies here without polling delays; bot replies
still come in the POST response, so they are not repeated.

Events: `message` (`{"text": ..., "sender": "agent"}`, id = message id) and `status`
(`{"status": "bot" | "queued" | "human" | "closed"}`). A reconnecting browser sends
`Last-Event-ID` and gets what it missed; a first connection starts from now (or `?after=ID`).
The origin allowlist applies as on the rest of the chat API.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from starlette.responses import StreamingResponse

from api.deps import AllowedOrigin, StateDep
from api.schemas.common import errors
from parley.conversations import live

router = APIRouter(prefix="/api/chat", tags=["chat"], dependencies=[AllowedOrigin])
POLL_SECONDS = 1.0
MAX_SECONDS = 300.0  # EventSource reconnects with Last-Event-ID; bounds a stream on shutdown


@router.get(
    "/sessions/{session_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-sent events: `status` and `message` (agent replies)",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **errors(403, 404),
    },
)
async def chat_events(
    session_id: str,
    request: Request,
    state: StateDep,
    after: int | None = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """A person's replies and status changes, live. `message` events carry the message id as
    event id: a reconnect with `Last-Event-ID` (or `?after=ID`) misses nothing."""
    if last_event_id and last_event_id.isdigit():
        after = int(last_event_id)
    first = await asyncio.to_thread(live.read_chat_updates, state.sessions, session_id, after)
    cursor = {"last": first.last_id}

    def read() -> live.ChatUpdate:
        return live.read_chat_updates(state.sessions, session_id, cursor["last"])

    async def stream() -> AsyncIterator[str]:
        status = first.status
        yield "retry: 1000\n\n"
        yield _event("status", {"status": status}, first.last_id)
        for message_id, text in first.messages:
            yield _event("message", _agent(first, message_id, text), message_id)
        ticks = 0
        async for update in live.poll(
            read, interval=POLL_SECONDS, lifetime=MAX_SECONDS, stopped=request.is_disconnected
        ):
            cursor["last"] = update.last_id
            for message_id, text in update.messages:
                yield _event("message", _agent(update, message_id, text), message_id)
            if update.status != status:
                status = update.status
                yield _event("status", {"status": status}, update.last_id)
            ticks += 1
            if ticks % 15 == 0:
                yield ": keep-alive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _agent(update: live.ChatUpdate, message_id: int, text: str) -> dict[str, str]:
    data = {"text": text, "sender": "agent"}
    if message_id in update.names:
        data["name"] = update.names[message_id]
    return data


def _event(kind: str, data: dict[str, str], event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data)}\n\n"
