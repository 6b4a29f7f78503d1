"""`action_clarify`: the fallback for input the NLU could not read with confidence.

Twice in a row without an understood turn in between, the debtor is handed to a person
(`bot_failure`) rather than asked to rephrase forever (SPEC §10, §11).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions import texts
from actions.common import Reply, Turn, in_transaction, previous_turn_ran
from actions.escalation import escalate_and_say
from parley.conversations import state
from parley.models import EscalationReason

NAME = "action_clarify"


class ActionClarify(Action):
    def name(self) -> str:
        return NAME

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if not previous_turn_ran(tracker, NAME):
            dispatcher.utter_message(text=texts.CLARIFY, buttons=[texts.HUMAN])
            return []
        turn = Turn.of(tracker)

        def work(session: Session) -> Reply:
            reply = Reply()
            conversation = state.get_or_create(session, turn.conversation_id)
            escalate_and_say(session, conversation, EscalationReason.BOT_FAILURE, turn.text, reply)
            return reply

        return (await in_transaction(turn, work)).send(dispatcher)
