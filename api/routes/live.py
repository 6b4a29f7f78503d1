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
from api.state import AppState
from parley import live

router = APIRouter(prefix="/api/chat", tags=["chat"], dependencies=[AllowedOrigin])
POLL_SECONDS = 1.0
MAX_SECONDS = 300.0  # EventSource reconnects with Last-Event-ID; bounds a stream on shutdown


def _updates(state: AppState, session_id: str, after: int | None) -> live.ChatUpdate:
    with state.sessions() as session:
        return live.chat_updates(session, session_id, after)


@router.get("/sessions/{session_id}/events")
async def chat_events(
    session_id: str,
    request: Request,
    state: StateDep,
    after: int | None = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    if last_event_id and last_event_id.isdigit():
        after = int(last_event_id)
    first = await asyncio.to_thread(_updates, state, session_id, after)  # 404 if unknown

    async def stream() -> AsyncIterator[str]:
        update = first
        status = update.status
        yield "retry: 1000\n\n"
        yield _event("status", {"status": status}, update.last_id)
        waited = 0.0
        while True:
            for message_id, text in update.messages:
                yield _event("message", {"text": text, "sender": "agent"}, message_id)
            if update.status != status:
                status = update.status
                yield _event("status", {"status": status}, update.last_id)
            if waited >= MAX_SECONDS or await request.is_disconnected():
                return
            await asyncio.sleep(POLL_SECONDS)
            waited += POLL_SECONDS
            if int(waited) % 15 == 0:
                yield ": keep-alive\n\n"
            update = await asyncio.to_thread(_updates, state, session_id, update.last_id)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _event(kind: str, data: dict[str, str], event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data)}\n\n"
