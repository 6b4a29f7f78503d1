"""`action_respond`: every debtor message, answered by the conversation manager.

A thin adapter: Rasa's reading of the latest message (intent, ranking, entities) becomes a
`Heard`; `parley.dialogue.answer` decides and records in one transaction on a worker thread (a
slow database never blocks the action server's event loop); its messages are sent once it has
committed. The gateway's in-process engine (parley.conversations.in_process) calls the same.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import runtime
from parley.dialogue.answer import answer
from parley.dialogue.heard import Heard


class ActionRespond(Action):
    def name(self) -> str:
        return "action_respond"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        heard = Heard.from_parse(tracker.latest_message or {})
        current = runtime()
        reply = await asyncio.to_thread(
            answer, current.sessions, current.settings, str(tracker.sender_id), heard
        )
        for message in reply.messages:
            dispatcher.utter_message(text=message.text, buttons=list(message.buttons) or None)
        return []
