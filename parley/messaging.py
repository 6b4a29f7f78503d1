"""One debtor turn, whatever the channel: redact, store, hand to the bot, store the replies.

The inbound message is committed before the bot is called, so a bot outage loses nothing: the
debtor's words are on record and the caller gets a clear error to retry.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.bot_client import BotClient, OutMessage
from parley.db import transaction
from parley.errors import NotFound
from parley.models import AuditEvent, Conversation, Message, utcnow
from parley.redaction import redact

# Sent to Rasa instead of the debtor's words when they typed a card number: the bot answers with
# the "no card details in chat" reply and the number itself never reaches the NLU.
CARD_DETAILS_TRIGGER = "/card_details"
GREETING_TRIGGER = "/greet"
DEBTOR_VISIBLE_SENDERS = ("debtor", "bot", "agent")


@dataclass(frozen=True)
class TurnResult:
    conversation_id: str
    messages: list[OutMessage]
    status: str


def start_conversation(
    factory: sessionmaker[Session],
    bot: BotClient,
    *,
    channel: str,
    phone: str | None = None,
    account_id: int | None = None,
    verified_by: str | None = None,
) -> TurnResult:
    """Create a conversation and return the bot's greeting.

    `verified_by` (e.g. "portal_token") starts it verified for `account_id`: the bot's session
    start reads that from the row, so the greeting offers help instead of asking for identity.
    """
    with transaction(factory) as session:
        conversation = Conversation(channel=channel, phone=phone, account_id=account_id)
        if verified_by is not None and account_id is not None:
            conversation.verified_at = utcnow()
        session.add(conversation)
        session.flush()
        if conversation.verified_at is not None:
            session.add(
                AuditEvent(
                    kind="verification.succeeded",
                    conversation_id=conversation.id,
                    account_id=account_id,
                    data={"method": verified_by},
                )
            )
        session.add(
            AuditEvent(
                kind="conversation.started",
                conversation_id=conversation.id,
                account_id=account_id,
                data={"channel": channel},
            )
        )
        conversation_id = conversation.id
    replies = bot.send(conversation_id, GREETING_TRIGGER)
    return _store_replies(factory, conversation_id, replies)


def handle_inbound(
    factory: sessionmaker[Session], bot: BotClient, conversation_id: str, text: str
) -> TurnResult:
    redacted = redact(text)
    with transaction(factory) as session:
        conversation = _get(session, conversation_id)
        session.add(
            Message(
                conversation_id=conversation_id,
                direction="inbound",
                sender="debtor",
                text=redacted.text,
                redacted=redacted.changed,
            )
        )
        if redacted.changed:
            session.add(
                AuditEvent(
                    kind="message.redacted",
                    conversation_id=conversation_id,
                    data={"card_numbers": redacted.card_numbers, "ssns": redacted.ssns},
                )
            )
        status = conversation.status
    if status != "bot":
        # A human holds (or will hold) the conversation: the message waits for the console.
        return TurnResult(conversation_id, [], status)
    nlu_text = CARD_DETAILS_TRIGGER if redacted.card_numbers else redacted.text
    replies = bot.send(conversation_id, nlu_text)
    return _store_replies(factory, conversation_id, replies)


def transcript(factory: sessionmaker[Session], conversation_id: str) -> tuple[list[Message], str]:
    """The debtor-visible messages (no internal notes or system events) and the status."""
    with factory() as session:
        conversation = _get(session, conversation_id)
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


def _store_replies(
    factory: sessionmaker[Session], conversation_id: str, replies: list[OutMessage]
) -> TurnResult:
    with transaction(factory) as session:
        conversation = _get(session, conversation_id)
        for reply in replies:
            session.add(
                Message(
                    conversation_id=conversation_id,
                    direction="outbound",
                    sender="bot",
                    text=reply.text,
                    buttons=reply.buttons or None,
                )
            )
        return TurnResult(conversation_id, replies, conversation.status)


def _get(session: Session, conversation_id: str) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("conversation_not_found", "No such chat session.")
    return conversation
