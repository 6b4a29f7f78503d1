"""One SMS turn through the gateway core with a scripted bot (the real one is in tests/e2e):
numbered choices, combining a turn into one SMS, conversations per phone, a plain-language
opt-out recorded by the bot during the turn."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.conversations import turns
from parley.conversations.bot_client import OutMessage
from parley.conversations.ordering import LocalTurnLocks
from parley.core.settings import Settings
from parley.sms import optout
from parley.sms.encoding import segment_count
from parley.sms.inbound import handle_inbound_sms
from parley.tables import Conversation, Message

PHONE = "+14155550101"
STATEMENT = "Reply STOP to opt out"
SETTINGS = Settings(PARLEY_JOBS_INTERVAL_SECONDS=0)

BALANCE = [
    OutMessage(
        "This is Parley Recovery Services, a debt collector. This is an attempt to collect "
        "a debt and any information obtained will be used for that purpose."
    ),
    OutMessage(
        "Your balance is $1,219.50.",
        [
            {"title": "Why this amount?", "payload": "/ask_debt_details"},
            {"title": "Payment options", "payload": "/ask_payment_options"},
            {"title": "Talk to a person", "payload": "/request_human"},
        ],
    ),
]


class ScriptedBot:
    def __init__(self, answer: Callable[[str, str], list[OutMessage]]) -> None:
        self.answer = answer
        self.received: list[tuple[str, str]] = []

    async def send(self, sender_id: str, text: str) -> list[OutMessage]:
        self.received.append((sender_id, text))
        return self.answer(sender_id, text)

    async def reset(self, sender_id: str) -> None:
        self.received.append((sender_id, "<reset>"))


_sid = iter(range(1, 10_000))


def say(
    factory: sessionmaker[Session], bot: ScriptedBot, body: str, phone: str = PHONE
) -> list[str]:
    turn = asyncio.run(
        handle_inbound_sms(
            factory,
            bot,
            LocalTurnLocks(5.0),
            SETTINGS,
            message_sid=f"SM{next(_sid):032x}",
            from_number=phone,
            body=body,
        )
    )
    return [reply.text for reply in turn.replies]


def test_a_turn_is_one_sms_with_numbered_choices_and_one_statement(
    session_factory: sessionmaker[Session],
) -> None:
    bot = ScriptedBot(lambda _s, text: BALANCE if text == "balance" else [OutMessage("Details.")])
    replies = say(session_factory, bot, "balance")
    assert len(replies) == 1
    sms = replies[0]
    assert sms.count(STATEMENT) == 1 and sms.endswith(STATEMENT)
    assert "Reply 1 for Why this amount?, 2 for Payment options or 3 for Talk to a person." in sms
    assert segment_count(sms) <= 3
    # "1" is the first choice: the bot gets its payload, the record keeps what was typed.
    say(session_factory, bot, "1")
    assert bot.received[-1][1] == "/ask_debt_details"
    say(session_factory, bot, "3")  # the last turn offered no choices: a plain "3" stays "3"
    assert bot.received[-1][1] == "3"
    with session_factory() as session:
        inbound = session.scalars(
            select(Message.text).where(Message.direction == "inbound").order_by(Message.id)
        ).all()
    assert inbound == ["balance", "1", "3"]


def test_one_open_conversation_per_phone_and_a_closed_one_is_not_reused(
    session_factory: sessionmaker[Session],
) -> None:
    bot = ScriptedBot(lambda _s, _t: [OutMessage("ok")])
    say(session_factory, bot, "hi")
    say(session_factory, bot, "hello again")
    say(session_factory, bot, "other person", phone="+12125550142")
    assert bot.received[0][0] == bot.received[1][0] != bot.received[2][0]
    with session_factory.begin() as session:
        conversation = session.get(Conversation, bot.received[0][0])
        assert conversation is not None and conversation.phone == PHONE
        conversation.status = "closed"
    say(session_factory, bot, "back")
    assert bot.received[3][0] not in (bot.received[0][0], bot.received[2][0])


def test_a_human_held_conversation_stores_but_does_not_ask_the_bot(
    session_factory: sessionmaker[Session],
) -> None:
    bot = ScriptedBot(lambda _s, _t: [OutMessage("ok")])
    say(session_factory, bot, "hi")
    with session_factory.begin() as session:
        conversation = session.get(Conversation, bot.received[0][0])
        assert conversation is not None
        conversation.status = "human"
    # Never silent: a short note that a person will answer (once every few minutes)...
    [note] = say(session_factory, bot, "are you there?")
    assert "a team member will reply here" in note and note.endswith(STATEMENT)
    assert say(session_factory, bot, "hello??") == []
    # ...and a card number is still refused, though the bot is not asked.
    [guard] = say(session_factory, bot, "my card 4111 1111 1111 1111")
    assert guard.startswith(turns.NO_CARDS)
    assert len(bot.received) == 1


def test_a_long_turn_is_split_within_the_segment_limit(
    session_factory: sessionmaker[Session],
) -> None:
    long = "The itemization since January 31, 2025 is as follows. " * 12  # ~650 characters
    bot = ScriptedBot(lambda _s, _t: [OutMessage("Here it is."), OutMessage(long.strip())])
    replies = say(session_factory, bot, "breakdown")
    assert len(replies) >= 2
    for sms in replies:
        assert segment_count(sms) <= 3 and sms.count(STATEMENT) == 1


def test_plain_language_stop_recorded_by_the_bot_ends_with_the_confirmation(
    session_factory: sessionmaker[Session],
) -> None:
    def honour_stop(sender_id: str, text: str) -> list[OutMessage]:
        # What actions/escalation.py does for `stop_contact` on an SMS conversation.
        with session_factory.begin() as session:
            conversation = session.get(Conversation, sender_id)
            assert conversation is not None and conversation.phone
            optout.opt_out(session, conversation.phone, "request", "stop_contact", sender_id)
        return [OutMessage("Understood. We won't contact you further.")]

    bot = ScriptedBot(honour_stop)
    replies = say(session_factory, bot, "stop texting me")
    assert len(replies) == 1
    assert replies[0].startswith("Understood.") and "Reply START to opt back in." in replies[0]
    assert STATEMENT not in replies[0]
    assert say(session_factory, bot, "hello?") == []
    assert len(bot.received) == 1
