"""Live messages for the widget over a WebSocket: `/api/chat/sessions/{id}/ws`.

Same content as the server-sent events stream (`api/routes/live.py`, `parley.live`): a human
agent's replies and status changes, which the debtor did not get in a POST response. A WebSocket
because browsers cap EventSource connections per host at six across all tabs, and an embedding
page may already use some. `?after=ID` resumes after the last message the widget has (its
transcript or an earlier socket), so a reconnect loses nothing.

WebSockets are not covered by CORS, so the origin allowlist is checked here on the handshake:
a foreign origin is closed with 4403 and an unknown session with 4404, before anything is sent
(the widget does not retry those).

Frames sent: `{"type": "message", "id": 12, "text": "...", "sender": "agent", "name": "Sam"}`
(`name`: the team member's display name, when known) and
`{"type": "status", "status": "bot" | "queued" | "human" | "closed"}`.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from api.deps import origin_allowed
from api.state import AppState
from parley.conversations import live
from parley.core.errors import NotFound

router = APIRouter(prefix="/api/chat", tags=["chat"])
POLL_SECONDS = 1.0
MAX_SECONDS = 3600.0  # a reconnect resumes after the last message id
CLOSE_ORIGIN_REFUSED = 4403
CLOSE_UNKNOWN_SESSION = 4404


@router.websocket("/sessions/{session_id}/ws")
async def chat_socket(websocket: WebSocket, session_id: str, after: int | None = None) -> None:
    state: AppState = websocket.app.state.parley
    scheme = "https" if websocket.url.scheme == "wss" else "http"
    same_origin = f"{scheme}://{websocket.headers.get('host', '')}"
    await websocket.accept()
    if not origin_allowed(
        websocket.headers.get("origin"), same_origin, state.settings.widget_origins
    ):
        await websocket.close(CLOSE_ORIGIN_REFUSED, "origin not allowed")
        return
    try:
        update = await asyncio.to_thread(live.read_chat_updates, state.sessions, session_id, after)
    except NotFound:
        await websocket.close(CLOSE_UNKNOWN_SESSION, "no such chat session")
        return
    # The widget sends nothing; reading is only how a closed socket is noticed promptly.
    reader = asyncio.create_task(_drain(websocket))
    cursor = {"last": update.last_id}

    def read() -> live.ChatUpdate:
        return live.read_chat_updates(state.sessions, session_id, cursor["last"])

    async def gone() -> bool:
        return reader.done()

    try:
        status = update.status
        await websocket.send_json({"type": "status", "status": status})
        await _send_messages(websocket, update)
        async for update in live.poll(
            read, interval=POLL_SECONDS, lifetime=MAX_SECONDS, stopped=gone
        ):
            cursor["last"] = update.last_id
            await _send_messages(websocket, update)
            if update.status != status:
                status = update.status
                await websocket.send_json({"type": "status", "status": status})
    except (WebSocketDisconnect, RuntimeError, NotFound):
        pass  # the browser went away (or the row did): nothing to clean up but the reader
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader


async def _send_messages(websocket: WebSocket, update: live.ChatUpdate) -> None:
    for message_id, text in update.messages:
        frame = {"type": "message", "id": message_id, "text": text, "sender": "agent"}
        if message_id in update.names:
            frame["name"] = update.names[message_id]
        await websocket.send_json(frame)


async def _drain(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()
