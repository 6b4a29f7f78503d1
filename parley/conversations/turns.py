"""One debtor turn in the web chat: redact, store, hand to the bot, store the replies.

These flows take the session factory, because the inbound message is committed before the bot
is called: a bot outage loses nothing, the debtor's words are on record and the caller gets a
clear error to retry. The SMS channel's turn (`parley.sms.inbound`) shares the pieces.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.conversations.bot_client import BotClient, OutMessage
from parley.conversations.state import get_conversation, open_conversation, store_inbound
from parley.core.db import transaction
from parley.models import (
    Channel,
    ConversationStatus,
    Direction,
    Message,
    Sender,
)

# Sent to Rasa instead of the debtor's words when they typed a card number: the bot answers with
# the "no card details in chat" reply and the number itself never reaches the NLU.
CARD_DETAILS_TRIGGER = "/card_details"
GREETING_TRIGGER = "/greet"
DEBTOR_VISIBLE_SENDERS = (Sender.DEBTOR, Sender.BOT, Sender.AGENT)


@dataclass(frozen=True)
class TurnResult:
    conversation_id: str
    messages: list[OutMessage]
    status: ConversationStatus


def start_conversation(
    factory: sessionmaker[Session],
    bot: BotClient,
    *,
    channel: Channel,
    phone: str | None = None,
    account_id: int | None = None,
    verified_by: str | None = None,
) -> TurnResult:
    """Create a conversation and return the bot's greeting.

    `verified_by` (e.g. "portal_token") starts it verified for `account_id`: the bot's session
    start reads that from the row, so the greeting offers help instead of asking for identity.
    """
    with transaction(factory) as session:
        conversation = open_conversation(
            session, channel, phone=phone, account_id=account_id, verified_by=verified_by
        )
        conversation_id = conversation.id
    replies = bot.send(conversation_id, GREETING_TRIGGER)
    return store_replies(factory, conversation_id, replies)


def handle_inbound(
    factory: sessionmaker[Session], bot: BotClient, conversation_id: str, text: str
) -> TurnResult:
    with transaction(factory) as session:
        conversation = get_conversation(session, conversation_id)
        _message, redacted = store_inbound(session, conversation, text)
        status = conversation.status
    if status != ConversationStatus.BOT:
        # A human holds (or will hold) the conversation: the message waits for the console.
        return TurnResult(conversation_id, [], status)
    nlu_text = CARD_DETAILS_TRIGGER if redacted.card_numbers else redacted.text
    replies = bot.send(conversation_id, nlu_text)
    return store_replies(factory, conversation_id, replies)


def transcript(session: Session, conversation_id: str) -> tuple[list[Message], ConversationStatus]:
    """The debtor-visible messages (no internal notes or system events) and the status."""
    conversation = get_conversation(session, conversation_id)
    messages = list(
        session.scalars(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.sender.in_(DEBTOR_VISIBLE_SENDERS),
            )
            .order_by(Message.id)
        )
    )
    return messages, conversation.status


def store_replies(
    factory: sessionmaker[Session], conversation_id: str, replies: list[OutMessage]
) -> TurnResult:
    with transaction(factory) as session:
        conversation = get_conversation(session, conversation_id)
        for reply in replies:
            session.add(
                Message(
                    conversation_id=conversation_id,
                    direction=Direction.OUTBOUND,
                    sender=Sender.BOT,
                    text=reply.text,
                    buttons=reply.buttons or None,
                )
            )
        return TurnResult(conversation_id, replies, conversation.status)
