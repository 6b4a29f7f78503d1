"""Change detection behind the live updates (console and web chat).

The action server writes from another process and the API may run as several replicas, so no
in-memory pub/sub can see every change. Instead a live stream polls these cheap max-id queries
(about once a second, on indexed columns) and pushes only when something moved. Every console-
relevant change writes a `Message` or an `AuditEvent`, so two ids are a complete cursor.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from parley.core.errors import NotFound
from parley.tables import AuditEvent, Conversation, ConversationStatus, Message, Sender

T = TypeVar("T")

# What the web chat receives live: replies the debtor did not get in an HTTP response.
PUSHED_SENDERS = (Sender.AGENT,)


@dataclass(frozen=True)
class Cursor:
    message_id: int
    audit_id: int

    def token(self) -> str:
        return f"{self.message_id}-{self.audit_id}"


def global_cursor(session: Session) -> Cursor:
    """Moves whenever any message or audited change happens (the queue page listens to it)."""
    message_id = session.scalar(select(func.max(Message.id))) or 0
    audit_id = session.scalar(select(func.max(AuditEvent.id))) or 0
    return Cursor(int(message_id), int(audit_id))


def conversation_cursor(session: Session, conversation_id: str) -> Cursor:
    """Moves whenever this conversation gets a message or an audited change."""
    message_id = (
        session.scalar(
            select(func.max(Message.id)).where(Message.conversation_id == conversation_id)
        )
        or 0
    )
    audit_id = (
        session.scalar(
            select(func.max(AuditEvent.id)).where(AuditEvent.conversation_id == conversation_id)
        )
        or 0
    )
    return Cursor(int(message_id), int(audit_id))


@dataclass(frozen=True)
class ChatUpdate:
    """New agent messages for a web-chat session, and the conversation's status."""

    messages: list[tuple[int, str]]
    status: ConversationStatus
    last_id: int
    # The team member's name on each agent message that has one (shown by the widget).
    names: dict[int, str] = field(default_factory=dict)


def chat_updates(session: Session, conversation_id: str, after_id: int | None) -> ChatUpdate:
    """Agent messages newer than `after_id`; with None, none (the stream starts from now)."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("conversation_not_found", "No such chat session.")
    if after_id is None:
        latest = session.scalar(
            select(func.max(Message.id)).where(Message.conversation_id == conversation_id)
        )
        return ChatUpdate([], conversation.status, int(latest or 0))
    rows = session.execute(
        select(Message.id, Message.text, Message.sender_name)
        .where(
            Message.conversation_id == conversation_id,
            Message.id > after_id,
            Message.sender.in_(PUSHED_SENDERS),
        )
        .order_by(Message.id)
    ).all()
    messages = [(int(row[0]), str(row[1])) for row in rows]
    names = {int(row[0]): str(row[2]) for row in rows if row[2]}
    last_id = messages[-1][0] if messages else after_id
    return ChatUpdate(messages, conversation.status, last_id, names)


def read_chat_updates(
    factory: sessionmaker[Session], conversation_id: str, after_id: int | None
) -> ChatUpdate:
    """`chat_updates` in a short session of its own (each poll of a live stream)."""
    with factory() as session:
        return chat_updates(session, conversation_id, after_id)


def read_cursor(factory: sessionmaker[Session], conversation_id: str | None) -> Cursor:
    """The cursor of one conversation, or of everything (the queue), in a short session."""
    with factory() as session:
        if conversation_id:
            return conversation_cursor(session, conversation_id)
        return global_cursor(session)


async def poll(
    read: Callable[[], T],
    *,
    interval: float,
    lifetime: float,
    stopped: Callable[[], Awaitable[bool]],
) -> AsyncIterator[T]:
    """The one polling loop behind every live stream (console SSE, chat SSE, chat WebSocket):
    `read()` runs in a worker thread every `interval` seconds until `stopped()` says the client
    went away or `lifetime` runs out (the client reconnects; this bounds a stream on shutdown)."""
    waited = 0.0
    while waited < lifetime and not await stopped():
        await asyncio.sleep(interval)
        waited += interval
        yield await asyncio.to_thread(read)
