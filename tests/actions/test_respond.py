"""`action_respond`, the one custom action: a real rasa_sdk tracker in, the conversation
manager's answer out, the NLU's reading stored on the debtor's message, all against the
action server's own database (DATABASE_URL, as in production)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from actions.respond import ActionRespond
from parley.dialogue import texts
from parley.tables import Conversation, Direction, Message, Sender
from tests.support.dialogue import conversation


def tracker(conversation_id: str, text: str, intent: str, confidence: float) -> Tracker:
    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [
            {"name": intent, "confidence": confidence},
            {"name": "out_of_scope", "confidence": round(1 - confidence, 3)},
        ],
        "entities": [],
    }
    return Tracker(
        sender_id=conversation_id,
        slots={},
        latest_message=parse,
        events=[{"event": "user", "text": text, "parse_data": parse}],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def run(t: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run the action on a loop of its own in a thread (a loop already running in the test's
    thread, Playwright's after the browser tests, must not get in the way)."""
    dispatcher = CollectingDispatcher()
    with ThreadPoolExecutor(max_workers=1) as pool:
        events = pool.submit(asyncio.run, ActionRespond().run(dispatcher, t, {})).result()
    return list(events), dispatcher.messages


def debtor_says(factory: sessionmaker[Session], conversation_id: str, text: str) -> None:
    with factory.begin() as session:
        session.add(
            Message(
                conversation_id=conversation_id,
                direction=Direction.INBOUND,
                sender=Sender.DEBTOR,
                text=text,
            )
        )


def test_the_answer_is_the_dialogues_and_the_reading_is_stored(
    db: sessionmaker[Session],
) -> None:
    conversation(db, "c-adapter")
    debtor_says(db, "c-adapter", "hey there")
    events, messages = run(tracker("c-adapter", "hey there", "greet", 0.91))
    assert events == []  # the dialogue's state lives on the conversation, not in slots
    said = [m["text"] for m in messages]
    assert said and said[-1] in (texts.ASK_FACT["last_name"], texts.ASK_FACT_AGAIN["last_name"])
    with db() as session:
        message = session.scalars(select(Message).where(Message.sender == Sender.DEBTOR)).one()
        assert (message.intent, message.confidence) == ("greet", 0.91)
        row = session.get(Conversation, "c-adapter")
        assert row is not None and row.dialogue and row.dialogue.get("asking") == "last_name"


def test_a_pressed_button_is_not_stored_as_the_nlus_reading(db: sessionmaker[Session]) -> None:
    conversation(db, "c-button")
    debtor_says(db, "c-button", "Yes")
    run(tracker("c-button", "/greet", "greet", 1.0))
    with db() as session:
        message = session.scalars(select(Message).where(Message.sender == Sender.DEBTOR)).one()
        assert message.intent is None


def test_buttons_reach_the_dispatcher(db: sessionmaker[Session]) -> None:
    conversation(db, "c-choices")
    run(tracker("c-choices", "hi", "greet", 0.9))
    run(tracker("c-choices", "Garcia 03/14/1985 94107", "inform", 0.9))
    _events, messages = run(tracker("c-choices", "what do I owe", "ask_balance", 0.93))
    assert any("$1,219.50" in m["text"] for m in messages), messages
    _events, messages = run(
        tracker("c-choices", "can I pay over time", "request_payment_plan", 0.9)
    )
    buttons = [b for m in messages for b in (m.get("buttons") or [])]
    assert messages and all(set(b) >= {"title", "payload"} for b in buttons)
