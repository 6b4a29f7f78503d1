"""One debtor turn, on any channel: redact, store, hand to the bot (or to the waiting person),
store the replies (SPEC §7).

These flows take the session factory, because the inbound message is committed before the bot is
called: a bot outage loses nothing, the debtor's words are on record. With the in-process engine
a web-chat turn is one transaction instead (the bot answers on the same thread); when its answer
fails, the turn is rolled back and the words are stored again with the apology, so they are on
record either way (SMS keeps its two: Twilio does not send a text again). They are asynchronous:
the database work runs in worker threads, the bot call is awaited, so a slow bot holds no
thread. A turn holds its conversation's lock from the first store to the last (`TurnLocks`), so
the messages of one conversation are handled one at a time, in order, on any replica.

Never silent: a turn the bot could not answer (down, failed, or an empty answer) gets an
apology; the second in a row hands the conversation to a person (`bot_failure`), and the bot's
side of the conversation is reset before its next turn, so it is never left mute once the failed
part is back. While a person is due to answer, each message gets a short note saying so (at most
every few minutes), and a typed card number is always answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import cache, partial
from typing import Protocol, TypeVar, cast, runtime_checkable

from sqlalchemy import Insert, Table, delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from parley.conversations.bot_client import BotClient, OutMessage
from parley.conversations.ordering import TurnLocks
from parley.conversations.state import (
    begin_turn,
    get_conversation,
    offered_buttons,
    open_conversation,
    store_inbound,
)
from parley.conversations.waiting import TeamHours, waiting_note
from parley.core.clock import utcnow
from parley.core.db import transaction
from parley.core.errors import BotUnavailable
from parley.core.settings import Settings
from parley.dialogue.heard import Heard
from parley.escalations.rules import escalate
from parley.records.redaction import Redacted, redact
from parley.tables import (
    AuditEvent,
    Channel,
    Conversation,
    ConversationStatus,
    Direction,
    EscalationReason,
    Message,
    Sender,
    new_id,
)
from parley.verification.check import failed_attempts, failed_here

T = TypeVar("T")

# Sent to Rasa instead of the debtor's words when they typed a card number: the bot answers with
# the "no card details in chat" reply and the number itself never reaches the NLU.
CARD_DETAILS_TRIGGER = "/card_details"
GREETING_TRIGGER = "/greet"
DEBTOR_VISIBLE_SENDERS = (Sender.DEBTOR, Sender.BOT, Sender.AGENT, Sender.SYSTEM)

APOLOGY = "Sorry, I'm having trouble answering right now. Please try again in a moment."
HANDED_OVER = (
    "Sorry, I'm still having trouble. I've asked a team member to pick this up; they'll reply here."
)
NO_CARDS = (
    "For your security, please don't send card details here. A team member can send you a "
    "secure payment link instead."
)
CLOSED = "This chat has ended. You can start a new chat at any time."
NEW_CHAT = {"title": "Start a new chat", "payload": "/new_chat"}
# Debtor text is always text (SPEC §7): a leading slash would be read by Rasa as an intent.
_COMMAND = ("/",)


@dataclass(frozen=True)
class TurnResult:
    conversation_id: str
    messages: list[OutMessage]
    status: ConversationStatus
    # Failed identity checks this turn added (the gateway's per-client rate limit counts them),
    # read in the turn's own transactions rather than in two more.
    failed_checks: int = 0


@dataclass(frozen=True)
class _Received:
    status: ConversationStatus
    bot_text: str = ""
    repair: bool = False
    replies: list[OutMessage] = field(default_factory=list)
    failed_checks: int = 0  # failed identity checks in the conversation before this turn
    message_id: int | None = None  # the debtor's message, as stored


@runtime_checkable
class AnswersOnThisThread(Protocol):
    """A bot that answers on the caller's thread, in the caller's transaction, with the
    caller's `store` (the in-process engine, `InProcessBot.answer_and_store`): a flow already
    on a worker thread then takes one thread hand-off per turn instead of one per step, and
    one commit. `BotUnavailable` leaves part of the turn in the transaction: roll it back.
    What the bot is sent is read first (`understand`), outside the transaction."""

    def understand(self, text: str) -> Heard: ...

    def answer_and_store(
        self,
        session: Session,
        sender_id: str,
        heard: Heard,
        store: Callable[[Session, list[OutMessage]], T],
        *,
        said: int | None = None,
    ) -> T: ...


def answers_on_this_thread(bot: BotClient) -> AnswersOnThisThread | None:
    return bot if isinstance(bot, AnswersOnThisThread) else None


def as_text(text: str) -> str:
    """What the debtor typed, made safe for the NLU: a message Rasa would parse as an intent
    command (`/affirm`, `/request_human{...}`) loses its leading slashes; the words stay."""
    stripped = text.lstrip()
    while stripped.startswith(_COMMAND):
        stripped = stripped[1:].lstrip()
    return stripped or text.replace("/", " ").strip() or "."


async def start_conversation(
    factory: sessionmaker[Session],
    bot: BotClient,
    locks: TurnLocks,
    *,
    channel: Channel,
    phone: str | None = None,
    account_id: int | None = None,
    verified_by: str | None = None,
) -> TurnResult:
    """Create a conversation and return the bot's greeting.

    `verified_by` (e.g. "portal_token") starts it verified for `account_id`: the bot's session
    start reads that from the row, so the greeting offers help instead of asking for identity.
    When the bot cannot greet, the half-made conversation is removed and `BotUnavailable`
    raised: the caller answers 503 and nothing is left behind.
    """

    def create_in(session: Session, conversation_id: str | None = None) -> str:
        conversation = open_conversation(
            session,
            channel,
            conversation_id=conversation_id,
            phone=phone,
            account_id=account_id,
            verified_by=verified_by,
        )
        return conversation.id

    def create() -> str:
        with transaction(factory) as session:
            return create_in(session)

    answers = answers_on_this_thread(bot)
    if answers is not None:  # the in-process engine: one hand-off, one transaction
        conversation_id = new_id()
        async with locks.hold(conversation_id):
            try:
                return await asyncio.to_thread(
                    _create_and_greet,
                    factory,
                    answers,
                    partial(create_in, conversation_id=conversation_id),
                )
            except BotUnavailable:
                with suppress(BotUnavailable):
                    await bot.reset(conversation_id)
                raise
    conversation_id = await asyncio.to_thread(create)
    async with locks.hold(conversation_id):
        try:
            replies = await bot.send(conversation_id, GREETING_TRIGGER)
        except BotUnavailable:
            await asyncio.to_thread(_discard, factory, conversation_id)
            with suppress(BotUnavailable):
                await bot.reset(conversation_id)
            raise
        return await asyncio.to_thread(_stored, factory, conversation_id, replies, Sender.BOT)


def _create_and_greet(
    factory: sessionmaker[Session], bot: AnswersOnThisThread, create: Callable[[Session], str]
) -> TurnResult:
    """The conversation created, greeted and the greeting stored in one transaction; when it
    cannot greet, the whole transaction is rolled back: nothing is left behind."""
    heard = bot.understand(GREETING_TRIGGER)
    with transaction(factory) as session:
        conversation_id = create(session)
        return bot.answer_and_store(
            session, conversation_id, heard, partial(_greeting_stored, conversation_id)
        )


def _greeting_stored(
    conversation_id: str, session: Session, replies: list[OutMessage]
) -> TurnResult:
    return _stored_in(session, conversation_id, replies, Sender.BOT)


def _discard(factory: sessionmaker[Session], conversation_id: str) -> None:
    """Remove a conversation that never started (nothing was said in it)."""
    with transaction(factory) as session:
        session.execute(delete(Message).where(Message.conversation_id == conversation_id))
        session.execute(delete(AuditEvent).where(AuditEvent.conversation_id == conversation_id))
        session.execute(delete(Conversation).where(Conversation.id == conversation_id))


async def handle_inbound(
    factory: sessionmaker[Session],
    bot: BotClient,
    locks: TurnLocks,
    settings: Settings,
    conversation_id: str,
    text: str,
    payload: str | None = None,
) -> TurnResult:
    """One web-chat message; `payload` is a button of the bot's last turn that the debtor
    pressed (its title is `text`): only a payload the bot offered is passed on as one."""
    answers = answers_on_this_thread(bot)
    async with locks.hold(conversation_id):
        if answers is not None:  # the in-process engine: the whole turn in one hand-off
            return await asyncio.to_thread(
                _answered_here, factory, answers, settings, conversation_id, text, payload
            )
        received = await asyncio.to_thread(
            _receive, factory, settings, conversation_id, text, payload
        )
        if received.status != ConversationStatus.BOT:
            return TurnResult(conversation_id, received.replies, received.status)
        answer = await ask_bot(
            factory, bot, conversation_id, received.bot_text, repair=received.repair
        )
        return await asyncio.to_thread(
            _stored,
            factory,
            conversation_id,
            answer.replies,
            answer.sender,
            failed_before=received.failed_checks,
        )


def _answered_here(
    factory: sessionmaker[Session],
    bot: AnswersOnThisThread,
    settings: Settings,
    conversation_id: str,
    text: str,
    payload: str | None,
) -> TurnResult:
    """A web-chat turn with a bot that answers on this thread, in one transaction: the
    debtor's message stored (`_received_in`), then the answer and the replies. When the answer
    fails, that transaction is rolled back whole and a second one stores the debtor's words
    again with the apology (`answer_failed_in`): the words are on record either way, as on the
    Rasa path where they are committed before the bot is asked. Only a process that dies
    mid-turn loses the unanswered message, and then its request fails too (the widget says
    the chat is not available)."""

    redacted = redact(text)  # once: for the early reading and for the stored message

    def received_in(session: Session) -> tuple[Conversation, _Received]:
        conversation = get_conversation(session, conversation_id)  # held for the turn
        received = _received_in(
            session, settings, conversation, text, payload, False, redacted=redacted
        )
        return conversation, received

    # What the bot will be sent unless a pressed button's payload is: read before the
    # transaction, so the model's work is not done holding SQLite's write lock.
    expected = bot_text_for(redacted)
    with suppress(BotUnavailable):
        heard = bot.understand(expected)
        with transaction(factory) as session:
            conversation, received = received_in(session)
            if received.status != ConversationStatus.BOT:
                return TurnResult(conversation_id, received.replies, received.status)
            if received.bot_text != expected:
                heard = bot.understand(received.bot_text)
            store = partial(_stored_by_bot, conversation_id, received)
            return bot.answer_and_store(
                session, conversation_id, heard, store, said=received.message_id
            )
    with transaction(factory) as session:
        conversation, received = received_in(session)
        if received.status != ConversationStatus.BOT:
            return TurnResult(conversation_id, received.replies, received.status)
        answer = answer_failed_in(session, conversation)
        # The failed answer was rolled back whole: it added no identity checks.
        return _stored_in(session, conversation_id, answer.replies, answer.sender)


def _stored_by_bot(
    conversation_id: str, received: _Received, session: Session, replies: list[OutMessage]
) -> TurnResult:
    """The bot's replies stored in the bot's own transaction (`answer_and_store`), which holds
    the whole turn's decisions: the identity checks it failed are the ones this session
    recorded (the conversation's lock keeps every other turn out)."""
    if received.repair:
        reset_failures(get_conversation(session, conversation_id))
    result = _stored_in(session, conversation_id, replies, Sender.BOT)
    return replace(result, failed_checks=failed_here(session))


def _receive(
    factory: sessionmaker[Session],
    settings: Settings,
    conversation_id: str,
    text: str,
    payload: str | None,
    *,
    count_failed: bool = True,
) -> _Received:
    """Store the debtor's message. `count_failed`: count the conversation's failed identity
    checks so far (the turn's own are the difference after it), unless the bot's transaction
    counts its own (`_stored_by_bot`)."""
    with transaction(factory) as session:
        conversation = get_conversation(session, conversation_id)
        return _received_in(session, settings, conversation, text, payload, count_failed)


def _received_in(
    session: Session,
    settings: Settings,
    conversation: Conversation,
    text: str,
    payload: str | None,
    count_failed: bool,
    redacted: Redacted | None = None,
) -> _Received:
    """`_receive` in the caller's transaction; `redacted` is `redact(text)` if already made."""

    # Only a payload needs the choices offered (read before this message is stored).
    offered = (
        {b["payload"] for b in offered_buttons(session, conversation.id)}
        if payload is not None
        else set()
    )
    begin_turn(session, conversation, utcnow(), settings.verification_session_minutes)
    message_id, redacted = store_inbound(session, conversation, text, redacted=redacted)
    if conversation.status != ConversationStatus.BOT:
        replies = not_for_the_bot(session, settings, conversation, redacted)
        _store(session, conversation.id, replies, Sender.SYSTEM)
        return _Received(conversation.status, replies=replies)
    chosen = payload if payload in offered and not redacted.changed else None
    return _Received(
        ConversationStatus.BOT,
        chosen or bot_text_for(redacted),
        repair=conversation.bot_repair,
        failed_checks=failed_attempts(session, conversation.id) if count_failed else 0,
        message_id=message_id,
    )


def bot_text_for(redacted: Redacted) -> str:
    """What the bot is sent for a stored message."""
    return CARD_DETAILS_TRIGGER if redacted.card_numbers else as_text(redacted.text)


def not_for_the_bot(
    session: Session, settings: Settings, conversation: Conversation, redacted: Redacted
) -> list[OutMessage]:
    """What a message to a conversation the bot does not hold is answered with: the card
    guard, the waiting note, or the offer of a new chat once it is closed (not stored)."""
    if conversation.status == ConversationStatus.CLOSED:
        return [OutMessage(CLOSED, [NEW_CHAT])]
    replies: list[OutMessage] = []
    if redacted.card_numbers:
        replies.append(OutMessage(NO_CARDS))
    hours = TeamHours.parse(settings.team_hours, settings.team_timezone)
    every = timedelta(minutes=settings.waiting_reply_minutes)
    note = waiting_note(session, conversation, hours, every, utcnow())
    if note is not None:
        replies.append(OutMessage(note))
    return replies


@dataclass(frozen=True)
class BotAnswer:
    """What the bot said (or, when it could not answer, what the debtor is told instead)."""

    replies: list[OutMessage]
    sender: Sender


async def ask_bot(
    factory: sessionmaker[Session],
    bot: BotClient,
    conversation_id: str,
    text: str,
    *,
    repair: bool,
) -> BotAnswer:
    """Send one message to the bot; a failure is answered (see the module docstring). Used by
    every channel; the channel stores the replies in its own shape."""
    try:
        if repair:
            await bot.reset(conversation_id)
        replies = await bot.send(conversation_id, text)
    except BotUnavailable:
        return await asyncio.to_thread(answer_failed, factory, conversation_id)
    if repair:
        await asyncio.to_thread(_recovered, factory, conversation_id)
    return BotAnswer(replies, Sender.BOT)


def _recovered(factory: sessionmaker[Session], conversation_id: str) -> None:
    """The failure count starts again once the bot answers. A failure always sets `bot_repair`
    too (`answer_failed`), so a turn that needed no repair has nothing to reset: no transaction."""
    with transaction(factory) as session:
        reset_failures(get_conversation(session, conversation_id))


def reset_failures(conversation: Conversation) -> None:
    if conversation.bot_failures or conversation.bot_repair:
        conversation.bot_failures, conversation.bot_repair = 0, False


def _stored(
    factory: sessionmaker[Session],
    conversation_id: str,
    replies: Sequence[OutMessage],
    sender: Sender,
    *,
    failed_before: int | None = None,
) -> TurnResult:
    with transaction(factory) as session:
        return _stored_in(session, conversation_id, replies, sender, failed_before=failed_before)


def _stored_in(
    session: Session,
    conversation_id: str,
    replies: Sequence[OutMessage],
    sender: Sender,
    *,
    failed_before: int | None = None,
) -> TurnResult:
    conversation = get_conversation(session, conversation_id)
    _store(session, conversation_id, replies, sender)
    failed = 0
    if failed_before is not None:
        failed = failed_attempts(session, conversation_id) - failed_before
    return TurnResult(conversation_id, list(replies), conversation.status, failed)


def answer_failed(factory: sessionmaker[Session], conversation_id: str) -> BotAnswer:
    """An apology; the second failure in a row goes to a person (`bot_failure`)."""
    with transaction(factory) as session:
        return answer_failed_in(session, get_conversation(session, conversation_id))


def answer_failed_in(session: Session, conversation: Conversation) -> BotAnswer:
    conversation.bot_failures = (conversation.bot_failures or 0) + 1
    conversation.bot_repair = True
    if conversation.bot_failures < 2:
        return BotAnswer([OutMessage(APOLOGY)], Sender.SYSTEM)
    said = _last_words(session, conversation)
    escalate(session, conversation, EscalationReason.BOT_FAILURE, said)
    return BotAnswer([OutMessage(HANDED_OVER)], Sender.SYSTEM)


def _last_words(session: Session, conversation: Conversation) -> str:
    text = session.scalars(
        select(Message.text)
        .where(Message.conversation_id == conversation.id, Message.sender == Sender.DEBTOR)
        .order_by(Message.id.desc())
        .limit(1)
    ).first()
    return text or ""


def _store(
    session: Session, conversation_id: str, replies: Sequence[OutMessage], sender: Sender
) -> None:
    """The replies as messages: append-only rows, inserted in one statement (the ORM's unit of
    work would track each of them for nothing)."""
    if not replies:
        return
    session.execute(
        _insert_messages(),
        [
            {
                "conversation_id": conversation_id,
                "direction": Direction.OUTBOUND,
                "sender": sender,
                "text": reply.text,
                "buttons": reply.buttons or None,
            }
            for reply in replies
        ],
    )


@cache
def _insert_messages() -> Insert:
    """Built on first use (nothing at import time) and kept: its cache key is computed once."""
    return insert(cast(Table, Message.__table__))


def transcript(session: Session, conversation_id: str) -> tuple[list[Message], ConversationStatus]:
    """The debtor-visible messages (no internal notes) and the status."""
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
