"""One inbound text (SPEC §7), from the signed webhook to the TwiML that answers it.

How an inbound text travels: the webhook's signature is checked (`parley.sms.twilio`); the
`MessageSid` is claimed in `processed_events` in the same transaction that stores the (redacted)
message, so a replay is answered with an empty TwiML response and never reaches the bot twice;
STOP / START / HELP words are answered here without the bot; an opted-out number gets no answer;
a reply that is just a number is mapped to that button of the previous bot turn; then the bot's
replies are rendered for SMS (buttons as numbered choices) and packed into as few SMS as fit in
`sms_max_segments` segments, each ending with the opt-out statement once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cache, partial
from typing import cast

from sqlalchemy import Insert, Select, Table, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from parley.conversations.bot_client import BotClient, OutMessage
from parley.conversations.ordering import TurnLocks
from parley.conversations.state import (
    begin_turn,
    get_conversation,
    insert_message,
    offered_buttons,
    open_conversation,
    store_inbound,
)
from parley.conversations.turns import (
    AnswersOnThisThread,
    BotAnswer,
    answer_failed_in,
    answers_on_this_thread,
    ask_bot,
    bot_text_for,
    not_for_the_bot,
    reset_failures,
)
from parley.core.clock import utcnow
from parley.core.db import transaction
from parley.core.errors import BotUnavailable
from parley.core.settings import Settings
from parley.sms import optout
from parley.sms.encoding import smart_encode
from parley.sms.phones import normalize_phone
from parley.sms.render import Part, SmsBody, choice_payload, may_be_a_choice, pack, render
from parley.sms.twilio import OutgoingSms
from parley.tables import (
    Channel,
    Conversation,
    ConversationStatus,
    Direction,
    EventSource,
    OptOutSource,
    ProcessedEvent,
    Sender,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmsTurn:
    """What to answer one inbound text with; `replay` marks a MessageSid seen before."""

    conversation_id: str | None
    replies: list[OutgoingSms]
    replay: bool = False


class _Replay(Exception):
    pass


def opted_out_text(settings: Settings) -> str:
    return (
        f"You're opted out of texts from {settings.company_name}. No more messages will be "
        "sent. Reply START to opt back in."
    )


def opted_in_text(settings: Settings) -> str:
    return f"You're opted back in to texts from {settings.company_name}."


def help_text(settings: Settings) -> str:
    return f"{settings.company_name}. For help, contact {settings.company_contact}."


def find_or_open_conversation(session: Session, phone: str) -> Conversation:
    """The open SMS conversation of this number, or a new one (a closed one stays closed)."""
    conversation = session.scalars(_open_conversation_of(), {"phone": phone}).first()
    if conversation is None:
        conversation = open_conversation(session, Channel.SMS, phone=phone)
    return conversation


@cache
def _open_conversation_of() -> Select[tuple[Conversation]]:
    """Built on first use (nothing at import time) and kept: its cache key is computed once."""
    return (
        select(Conversation)
        .where(
            Conversation.channel == Channel.SMS,
            Conversation.phone == bindparam("phone"),
            Conversation.status != ConversationStatus.CLOSED,
        )
        .order_by(Conversation.created_at.desc(), Conversation.id)
        .limit(1)
    )


@cache
def _claim_statement() -> Insert:
    """The webhook's idempotency claim (`processed_events`): a Core INSERT, built on first use."""
    return insert(cast(Table, ProcessedEvent.__table__))


@dataclass
class _Inbound:
    conversation_id: str
    phone: str
    action: str  # bot | silent | stop | start | help | waiting
    bot_text: str = ""
    repair: bool = False
    texts: list[str] = field(default_factory=list)
    message_id: int | None = None  # the debtor's text, as stored


async def handle_inbound_sms(
    factory: sessionmaker[Session],
    bot: BotClient,
    locks: TurnLocks,
    settings: Settings,
    *,
    message_sid: str,
    from_number: str,
    body: str,
) -> SmsTurn:
    """Store one signed inbound text and work out the SMS that answer it (at most once).

    The turn holds the number's lock, so texts from one phone are answered in order."""
    phone = normalize_phone(from_number) or from_number.strip()[:20]
    answers = answers_on_this_thread(bot)
    async with locks.hold(f"sms:{phone}"):
        if answers is not None:  # the in-process engine: the whole turn in one hand-off
            try:
                return await asyncio.to_thread(
                    _answered_here, factory, answers, settings, message_sid, phone, body
                )
            except _Replay:
                log.info("sms replay ignored", extra={"message_sid": message_sid})
                return SmsTurn(None, [], replay=True)
        try:
            inbound = await asyncio.to_thread(
                _record_inbound, factory, settings, message_sid, phone, body
            )
        except _Replay:
            log.info("sms replay ignored", extra={"message_sid": message_sid})
            return SmsTurn(None, [], replay=True)
        if inbound.action == "silent":
            return SmsTurn(inbound.conversation_id, [])
        if inbound.action != "bot":
            return await asyncio.to_thread(_store_fixed, factory, settings, inbound)
        answer = await ask_bot(
            factory, bot, inbound.conversation_id, inbound.bot_text, repair=inbound.repair
        )
        return await asyncio.to_thread(
            _answered, factory, settings, inbound.conversation_id, inbound.phone, answer
        )


def _answered_here(
    factory: sessionmaker[Session],
    bot: AnswersOnThisThread,
    settings: Settings,
    message_sid: str,
    phone: str,
    body: str,
) -> SmsTurn:
    """One text with a bot that answers on this thread: the text (and its MessageSid's claim)
    committed first, then the answer and the SMS that carry it in one more transaction (two,
    not four). Unlike the web chat's turn these stay two: Twilio does not send a webhook
    again when the answer to it fails, so a text is on record before anything can go wrong
    with answering it, even the process dying."""
    inbound = _record_inbound(factory, settings, message_sid, phone, body)
    if inbound.action == "silent":
        return SmsTurn(inbound.conversation_id, [])
    if inbound.action != "bot":
        return _store_fixed(factory, settings, inbound)
    store = partial(_answered_in, settings, inbound.conversation_id, phone, inbound.repair)
    with suppress(BotUnavailable):
        heard = bot.understand(inbound.bot_text)  # before the transaction takes the write lock
        with transaction(factory) as session:
            return bot.answer_and_store(
                session, inbound.conversation_id, heard, store, said=inbound.message_id
            )
    # The failed answer was rolled back: the apology (and the hand-over on the second failure).
    with transaction(factory) as session:
        answer = answer_failed_in(session, get_conversation(session, inbound.conversation_id))
        return _reply_in(session, settings, inbound.conversation_id, phone, answer)


def _answered_in(
    settings: Settings,
    conversation_id: str,
    phone: str,
    repair: bool,
    session: Session,
    replies: list[OutMessage],
) -> SmsTurn:
    """The bot's replies as SMS, stored in the bot's own transaction (`answer_and_store`); a
    repaired conversation's failure count starts again."""
    if repair:
        reset_failures(get_conversation(session, conversation_id))
    return _reply_in(session, settings, conversation_id, phone, BotAnswer(replies, Sender.BOT))


def _store_fixed(factory: sessionmaker[Session], settings: Settings, inbound: _Inbound) -> SmsTurn:
    """The answer to a STOP / START / HELP word or to a text for a person, without the bot."""
    parts = [Part(smart_encode(text)) for text in inbound.texts]
    # The opt-out confirmation is the last SMS the number gets: it ends with how to opt back in
    # instead of how to opt out.
    ending = "" if inbound.action == "stop" else settings.sms_opt_out_text
    return _store_outgoing(factory, settings, inbound.conversation_id, parts, ending, Sender.SYSTEM)


def _answered(
    factory: sessionmaker[Session],
    settings: Settings,
    conversation_id: str,
    phone: str,
    answer: BotAnswer,
) -> SmsTurn:
    with transaction(factory) as session:
        return _reply_in(session, settings, conversation_id, phone, answer)


def _reply_in(
    session: Session, settings: Settings, conversation_id: str, phone: str, answer: BotAnswer
) -> SmsTurn:
    parts = render(answer.replies)
    opted_out_now = optout.is_opted_out(session, phone)
    ending = settings.sms_opt_out_text
    if opted_out_now:
        # The bot honoured a plain-language stop this turn: acknowledge, confirm, then silence.
        parts.append(Part(opted_out_text(settings)))
        ending = ""
    return _store_outgoing_in(session, settings, conversation_id, parts, ending, answer.sender)


def _record_inbound(
    factory: sessionmaker[Session], settings: Settings, message_sid: str, phone: str, body: str
) -> _Inbound:
    word = optout.keyword(body)
    with transaction(factory) as session:
        try:  # one INSERT, now: the unique constraint refuses a MessageSid seen before
            session.execute(
                _claim_statement(), {"source": EventSource.TWILIO, "external_id": message_sid[:128]}
            )
        except IntegrityError as exc:
            raise _Replay from exc
        conversation = find_or_open_conversation(session, phone)
        # The previous turn's choices, read before this text is stored; only a bare number
        # (unchanged by redaction, so the same text) can name one.
        choice = not word and may_be_a_choice(body)
        buttons = offered_buttons(session, conversation.id) if choice else []
        opted_out = optout.is_opted_out(session, phone)
        begin_turn(session, conversation, utcnow(), settings.verification_session_minutes)
        message_id, redacted = store_inbound(
            session,
            conversation,
            body,
            external_id=message_sid[:64],
            delivery_status="received",
        )
        result = _Inbound(conversation.id, phone, "silent")
        if word == "stop":
            said = body.strip().upper()[:64]
            if optout.opt_out(session, phone, OptOutSource.KEYWORD, said, conversation.id):
                result.action, result.texts = "stop", [opted_out_text(settings)]
        elif word == "start":
            optout.opt_in(session, phone, OptOutSource.KEYWORD, conversation.id)
            result.action, result.texts = "start", [opted_in_text(settings)]
        elif opted_out:
            pass  # stored for the record, never answered
        elif word == "help":
            result.action, result.texts = "help", [help_text(settings)]
        elif conversation.status == ConversationStatus.BOT:
            result.action, result.repair = "bot", conversation.bot_repair
            mapped = None if redacted.changed else choice_payload(redacted.text, buttons)
            result.bot_text = mapped or bot_text_for(redacted)
        else:  # a person holds (or will hold) the conversation: say so, guard against cards
            replies = not_for_the_bot(session, settings, conversation, redacted)
            if replies:
                result.action, result.texts = "waiting", [reply.text for reply in replies]
    result.message_id = message_id
    return result


def _store_outgoing(
    factory: sessionmaker[Session],
    settings: Settings,
    conversation_id: str,
    parts: Sequence[Part],
    statement: str,
    sender: Sender,
) -> SmsTurn:
    with transaction(factory) as session:
        return _store_outgoing_in(session, settings, conversation_id, parts, statement, sender)


def _store_outgoing_in(
    session: Session,
    settings: Settings,
    conversation_id: str,
    parts: Sequence[Part],
    statement: str,
    sender: Sender,
) -> SmsTurn:
    if statement:
        bodies = pack(parts, statement, settings.sms_max_segments)
    else:
        bodies = [
            SmsBody(body.text.removesuffix("\n"), body.buttons)
            for body in pack(parts, "", settings.sms_max_segments)
        ]
    replies: list[OutgoingSms] = []
    for body in bodies:
        # Append-only rows: one INSERT each, its id returned (the delivery callback names it).
        message_id = insert_message(
            session,
            conversation_id=conversation_id,
            direction=Direction.OUTBOUND,
            sender=sender,
            text=body.text,
            buttons=body.buttons or None,
            delivery_status="replied",
        )
        replies.append(OutgoingSms(body.text, (message_id,)))
    return SmsTurn(conversation_id, replies)


# --- Delivery status callbacks ------------------------------------------------------------------
