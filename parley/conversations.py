"""Small helpers to read and change a conversation's state, shared by the action server and API.

The Rasa sender id is the `Conversation.id`; the gateway creates the row before it talks to Rasa,
but `rasa shell` and tests talk to Rasa directly, so a missing row is created as a web chat.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.models import Account, Conversation, Message, utcnow

QUEUED = "queued"


def get_or_create(session: Session, conversation_id: str, channel: str = "web") -> Conversation:
    """The conversation with this id, created on `channel` if it does not exist yet."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        conversation = Conversation(id=conversation_id, channel=channel)
        session.add(conversation)
        session.flush()
    return conversation


def is_verified(conversation: Conversation) -> bool:
    """Verified means an identity check (or a portal token) tied the conversation to an account."""
    return conversation.verified_at is not None and conversation.account_id is not None


def verified_account(session: Session, conversation: Conversation) -> Account | None:
    """The account a verified conversation is about; None before verification."""
    if not is_verified(conversation) or conversation.account_id is None:
        return None
    return session.get(Account, conversation.account_id)


def is_locked(conversation: Conversation, now: datetime | None = None) -> bool:
    """Whether verification is locked for this conversation right now (SPEC §4)."""
    now = now or utcnow()
    return conversation.locked_until is not None and conversation.locked_until > now


def queue(conversation: Conversation) -> None:
    """Put a bot conversation in the human queue; a human-held or closed one keeps its status."""
    if conversation.status == "bot":
        conversation.status = QUEUED


def record_understanding(
    session: Session, conversation_id: str, intent: str, confidence: float
) -> None:
    """Store the bot's reading of the debtor's latest message on that message, for the console.

    Called by the action server, which sees the NLU result of every turn it runs an action for;
    a message already labelled keeps its label (the first action of a turn wins).
    """
    message = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.sender == "debtor")
        .order_by(Message.id.desc())
        .limit(1)
    ).first()
    if message is not None and message.intent is None:
        message.intent = intent[:64]
        message.confidence = round(confidence, 4)
