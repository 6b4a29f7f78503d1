"""What every action shares: database access, reading the tracker, and collecting replies.

Actions are thin: they read the tracker, run one transaction of `parley` code in a worker thread
(so a slow database never blocks the action server's event loop), then send what it produced.
No module here subclasses `Action`, because rasa_sdk instantiates every subclass it finds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session, sessionmaker

from parley import conversations
from parley.db import make_engine, make_session_factory, transaction
from parley.settings import get_settings

T = TypeVar("T")

FACT_SLOTS = ("last_name", "date_of_birth", "zip_or_ssn4")
# Below this the NLU guess is too weak to treat a message as an interruption of a form.
INTENT_CONFIDENCE = 0.4  # the FallbackClassifier threshold in bot/config.yml

Button = dict[str, str]


def button(title: str, payload: str) -> Button:
    return {"title": title, "payload": payload}


_factories: dict[str, sessionmaker[Session]] = {}


def _session_factory(url: str) -> sessionmaker[Session]:
    """One engine per database URL per process, created on first use (never at import)."""
    factory = _factories.get(url)
    if factory is None:
        factory = _factories.setdefault(url, make_session_factory(make_engine(url)))
    return factory


def reset_engines() -> None:
    """Dispose every cached engine (tests that switch databases)."""
    for factory in _factories.values():
        bind = factory.kw.get("bind")
        if bind is not None:
            bind.dispose()
    _factories.clear()


async def in_transaction(work: Callable[[Session], T]) -> T:
    """Run `work` in one transaction on a worker thread: commit on success, roll back on error."""
    factory = _session_factory(get_settings().database_url)
    turn = _turn.get()

    def run() -> T:
        with transaction(factory) as session:
            result = work(session)
            if turn is not None and turn[1]:
                conversations.record_understanding(session, turn[0], turn[1], turn[2])
            return result

    return await asyncio.to_thread(run)


@dataclass
class Reply:
    """Messages and events produced inside a transaction, sent once it has committed."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    events: list[EventType] = field(default_factory=list)

    def say(self, text: str, buttons: list[Button] | None = None) -> None:
        message: dict[str, Any] = {"text": text}
        if buttons:
            message["buttons"] = buttons
        self.messages.append(message)

    def respond(self, response: str) -> None:
        """Send a domain response (e.g. `utter_how_can_i_help`) instead of a text."""
        self.messages.append({"response": response})

    def send(self, dispatcher: CollectingDispatcher) -> list[EventType]:
        for message in self.messages:
            dispatcher.utter_message(**message)
        return self.events


# The turn an action is answering: (conversation id, intent, confidence). Set by
# `conversation_id()`, which every action calls first, and read by `in_transaction()`, which
# stores the bot's understanding on the debtor's message for the console in the same
# transaction. A ContextVar is per asyncio task, so concurrent actions never mix their turns.
_turn: ContextVar[tuple[str, str | None, float] | None] = ContextVar("parley_turn", default=None)


def conversation_id(tracker: Tracker) -> str:
    sender = str(tracker.sender_id)
    intent, confidence = latest_intent(tracker)
    _turn.set((sender, intent, confidence))
    return sender


def latest_intent(tracker: Tracker) -> tuple[str | None, float]:
    """The NLU's intent for the latest user message and its confidence."""
    intent = (tracker.latest_message or {}).get("intent") or {}
    name = intent.get("name")
    return (str(name) if name else None), float(intent.get("confidence") or 0.0)


def latest_text(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("text") or "")


def pending_request(
    tracker: Tracker, wanted: frozenset[str], since_action: str
) -> dict[str, Any] | None:
    """The latest user request with an intent in `wanted` made since `since_action` last ran
    (or since the session started): what the debtor asked while being verified, still waiting
    for an answer."""
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "session_started" or (kind == "action" and event.get("name") == since_action):
            return None
        if kind == "user":
            intent = (event.get("parse_data") or {}).get("intent") or {}
            if (
                intent.get("name") in wanted
                and float(intent.get("confidence") or 0) >= INTENT_CONFIDENCE
            ):
                return dict(event)
    return None


def previous_turn_ran(tracker: Tracker, action: str) -> bool:
    """Whether `action` ran in reply to the user message before the latest one."""
    user_positions = [i for i, e in enumerate(tracker.events) if e.get("event") == "user"]
    if len(user_positions) < 2:
        return False
    start, end = user_positions[-2], user_positions[-1]
    return any(
        event.get("event") == "action" and event.get("name") == action
        for event in tracker.events[start:end]
    )
