"""A conversation's state, read and changed by the gateway, the action server and the console.

The Rasa sender id is the `Conversation.id`; the gateway creates the row before it talks to Rasa,
but `rasa shell` and tests talk to Rasa directly, so a missing row is created as a web chat.
Every new conversation is opened through `open_conversation`, which records that it started.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import cast

from sqlalchemy import Table, Update, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from parley.core.clock import utcnow
from parley.core.db import by_key
from parley.core.errors import NotFound
from parley.records.audit import Kind, record
from parley.records.redaction import Redacted, redact
from parley.tables import (
    Account,
    Channel,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    Sender,
)
from parley.verification.facts import mask_facts


def open_conversation(
    session: Session,
    channel: Channel,
    *,
    conversation_id: str | None = None,
    phone: str | None = None,
    account_id: int | None = None,
    verified_by: str | None = None,
) -> Conversation:
    """Create a conversation and record that it started; `verified_by` (e.g. "portal_token")
    starts it verified for `account_id`."""
    conversation = Conversation(channel=channel, phone=phone, account_id=account_id)
    if conversation_id is not None:
        conversation.id = conversation_id
    if verified_by is not None and account_id is not None:
        conversation.verified_at = utcnow()
    session.add(conversation)
    session.flush()
    if conversation.verified_at is not None:
        record(
            session,
            Kind.VERIFICATION_SUCCEEDED,
            conversation_id=conversation.id,
            account_id=account_id,
            method=verified_by,
        )
    record(
        session,
        Kind.CONVERSATION_STARTED,
        conversation_id=conversation.id,
        account_id=account_id,
        channel=str(channel),
    )
    return conversation


def get_conversation(session: Session, conversation_id: str) -> Conversation:
    conversation = by_key(session, Conversation, conversation_id)
    if conversation is None:
        raise NotFound("conversation_not_found", "No such chat session.")
    return conversation


def get_or_create(session: Session, conversation_id: str) -> Conversation:
    """The conversation with this id, opened as a web chat if it does not exist yet."""
    conversation = by_key(session, Conversation, conversation_id)
    if conversation is None:
        conversation = open_conversation(session, Channel.WEB, conversation_id=conversation_id)
    return conversation


def begin_turn(
    session: Session, conversation: Conversation, now: datetime, session_minutes: int
) -> bool:
    """Note that the debtor wrote; a verified session silent for `session_minutes` ends first
    (SPEC §4: the next message verifies again, an SMS thread resumed days later too). Returns
    whether it ended. Verified by portal token or by facts alike."""
    last = conversation.last_debtor_at
    expired = (
        is_verified(conversation)
        and last is not None
        and (now - last).total_seconds() > session_minutes * 60
    )
    if expired:
        conversation.verified_at = None
        conversation.dialogue = {"expired": True}
        record(
            session,
            Kind.VERIFICATION_EXPIRED,
            conversation_id=conversation.id,
            account_id=conversation.account_id,
            idle_minutes=int((now - last).total_seconds() // 60) if last else None,
        )
    conversation.last_debtor_at = now
    return expired


def store_inbound(
    session: Session,
    conversation: Conversation,
    text: str,
    *,
    redacted: Redacted | None = None,
    **fields: object,
) -> tuple[int, Redacted]:
    """Store what the debtor sent, redacted first (SPEC §9), with the audit of what was removed;
    before verification, identity facts are masked too (SPEC §4). Returns the message's id.
    `redacted` is `redact(text)` when the caller has made it already; `fields` are extra
    message columns (the SMS MessageSid and delivery status)."""
    redacted = redact(text) if redacted is None else redacted
    # Before verification the debtor is typing identity facts: the transcript keeps the words,
    # never the facts (the bot still reads them, from the returned `Redacted`).
    stored = redacted.text if is_verified(conversation) else mask_facts(redacted.text)
    message_id = insert_message(
        session,
        conversation_id=conversation.id,
        direction=Direction.INBOUND,
        sender=Sender.DEBTOR,
        text=stored,
        redacted=redacted.changed or stored != redacted.text,
        **fields,
    )
    if redacted.changed:
        record(
            session,
            Kind.MESSAGE_REDACTED,
            conversation_id=conversation.id,
            card_numbers=redacted.card_numbers,
            ssns=redacted.ssns,
        )
    return message_id, redacted


def insert_message(session: Session, **values: object) -> int:
    """One message row, inserted at once, and its id. Messages are append-only: the ORM's unit
    of work would track the object for nothing (columns left out take their defaults)."""
    row_id: int = session.execute(_message_insert(), values).scalar_one()
    return row_id


@cache
def _message_insert() -> ReturningInsert[tuple[int]]:
    """Built on first use (nothing at import time) and kept: its cache key is computed once."""
    messages = cast(Table, Message.__table__)
    return insert(messages).returning(messages.c.id)


def is_verified(conversation: Conversation) -> bool:
    """Verified means an identity check (or a portal token) tied the conversation to an account."""
    return conversation.verified_at is not None and conversation.account_id is not None


def verified_account(session: Session, conversation: Conversation) -> Account | None:
    """The account a verified conversation is about; None before verification."""
    if not is_verified(conversation) or conversation.account_id is None:
        return None
    return by_key(session, Account, conversation.account_id)


def is_locked(conversation: Conversation, now: datetime | None = None) -> bool:
    """Whether verification is locked for this conversation right now (SPEC §4)."""
    now = now or utcnow()
    return conversation.locked_until is not None and conversation.locked_until > now


def queue(conversation: Conversation) -> None:
    """Put a bot conversation in the human queue; a human-held or closed one keeps its status."""
    if conversation.status == ConversationStatus.BOT:
        conversation.status = ConversationStatus.QUEUED


def record_understanding(
    session: Session, conversation_id: str, intent: str, confidence: float
) -> None:
    """Store the bot's reading of the debtor's latest message on that message, for the console.

    Called by the action server, which sees the NLU result of every turn it runs an action for;
    a message already labelled keeps its label (the first action of a turn wins).
    """
    message = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.sender == Sender.DEBTOR)
        .order_by(Message.id.desc())
        .limit(1)
    ).first()
    if message is not None and message.intent is None:
        message.intent = intent[:64]
        message.confidence = round(confidence, 4)


def record_understanding_of(
    session: Session, message_id: int, intent: str, confidence: float
) -> None:
    """`record_understanding` when the caller knows which message it is (the gateway stored
    it this turn): one UPDATE, and a message already labelled keeps its label."""
    session.execute(
        _label_update(),
        {"message_id": message_id, "label": intent[:64], "score": round(confidence, 4)},
    )


@cache
def _label_update() -> Update:
    """A Core UPDATE (no ORM bookkeeping, no autoflush: the row is not in this session), built
    on first use and kept."""
    messages = cast(Table, Message.__table__)
    return (
        update(messages)
        .where(messages.c.id == bindparam("message_id"), messages.c.intent.is_(None))
        .values(intent=bindparam("label"), confidence=bindparam("score"))
    )


def offered_buttons(session: Session, conversation_id: str) -> list[dict[str, str]]:
    """The numbered choices of the latest outbound turn (the messages since the debtor's last
    text, in order), or [] if it offered none."""
    rows = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.id.desc())
        .limit(20)
    )
    turn: list[Message] = []
    for row in rows:
        if row.direction == Direction.INBOUND:
            break
        turn.append(row)
    if not turn or turn[0].sender != Sender.BOT:
        return []  # an agent or system message came after the choices: they no longer apply
    buttons: list[dict[str, str]] = []
    for row in reversed(turn):
        buttons.extend(
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in row.buttons or []
        )
    return buttons
