"""What every action shares: the action server's settings and database, reading the tracker, and
collecting replies.

Actions are thin: they read the tracker into a `Turn`, run one transaction of `parley` code in a
worker thread (so a slow database never blocks the action server's event loop), then send what
it produced. No module here subclasses `Action`, because rasa_sdk instantiates every subclass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session, sessionmaker

from parley.conversations import state
from parley.core.db import make_engine, make_session_factory, transaction
from parley.core.settings import Settings, get_settings

T = TypeVar("T")

FACT_SLOTS = ("last_name", "date_of_birth", "zip_or_ssn4")
# Below this the NLU guess is too weak to treat a message as an interruption of a form.
INTENT_CONFIDENCE = 0.4  # the FallbackClassifier threshold in bot/config.yml

Button = dict[str, str]


def button(title: str, payload: str) -> Button:
    return {"title": title, "payload": payload}


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    sessions: sessionmaker[Session]


@lru_cache(maxsize=1)
def runtime() -> Runtime:
    """The action server's edge: its settings and database, read once on first use (rasa_sdk
    has no start-up hook, and nothing is built at import time)."""
    settings = get_settings()
    return Runtime(settings, make_session_factory(make_engine(settings.database_url)))


def reset_runtime() -> None:
    """Forget the settings and dispose the engine (tests that switch databases)."""
    if runtime.cache_info().currsize:
        bind = runtime().sessions.kw.get("bind")
        if bind is not None:
            bind.dispose()
    runtime.cache_clear()


@dataclass(frozen=True)
class Turn:
    """The debtor turn an action answers: the conversation (the Rasa sender id), the NLU's
    reading of the latest message, and its text (already redacted by the gateway)."""

    conversation_id: str
    intent: str | None
    confidence: float
    text: str

    @classmethod
    def of(cls, tracker: Tracker) -> Turn:
        intent, confidence = latest_intent(tracker)
        return cls(str(tracker.sender_id), intent, confidence, latest_text(tracker))


async def in_transaction(turn: Turn, work: Callable[[Session], T]) -> T:
    """Run `work` in one transaction on a worker thread: commit on success, roll back on error.
    The bot's reading of the debtor's message is stored on it in the same transaction."""
    sessions = runtime().sessions

    def run() -> T:
        with transaction(sessions) as session:
            result = work(session)
            if turn.intent:
                state.record_understanding(
                    session, turn.conversation_id, turn.intent, turn.confidence
                )
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
