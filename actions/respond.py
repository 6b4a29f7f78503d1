"""`action_respond`: every debtor message, answered by the conversation manager.

A thin adapter: Rasa's reading of the latest message (intent, ranking, entities) becomes a
`Heard`; `parley.dialogue.respond` decides and records in one transaction on a worker thread (a
slow database never blocks the action server's event loop); its messages are sent once it has
committed. The NLU's reading is also stored on the debtor's message for the console.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import runtime
from parley.conversations import state
from parley.core.db import transaction
from parley.dialogue.heard import Heard
from parley.dialogue.reply import Reply
from parley.dialogue.respond import respond


def answer(conversation_id: str, heard: Heard) -> Reply:
    """One turn in one unit of work: the dialogue's decisions and the NLU label together."""
    current = runtime()
    with transaction(current.sessions) as session:
        reply = respond(session, current.settings, conversation_id, heard)
        _label(session, conversation_id, heard)
        return reply


def _label(session: Session, conversation_id: str, heard: Heard) -> None:
    if heard.intent and not heard.payload:
        state.record_understanding(session, conversation_id, heard.intent, heard.confidence)


class ActionRespond(Action):
    def name(self) -> str:
        return "action_respond"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        heard = Heard.from_parse(tracker.latest_message or {})
        reply = await asyncio.to_thread(answer, str(tracker.sender_id), heard)
        for message in reply.messages:
            dispatcher.utter_message(text=message.text, buttons=list(message.buttons) or None)
        return []
