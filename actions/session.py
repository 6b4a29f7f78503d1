"""`action_session_start`: Rasa's default session start, seeded from the database.

The conversation row is the source of truth for whether the debtor is verified (a portal token
verifies before the first message), so each session starts from it rather than from carried-over
slots; nothing else is carried over.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import Turn, in_transaction, runtime
from parley.conversations import state


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        turn = Turn.of(tracker)

        def load(session: Session) -> tuple[bool, str | None, bool]:
            conversation = state.get_or_create(session, turn.conversation_id)
            verified = state.is_verified(conversation)
            account = str(conversation.account_id) if verified else None
            return verified, account, state.is_locked(conversation)

        verified, account_id, locked = await in_transaction(turn, load)
        return [
            SessionStarted(),
            SlotSet("company_name", runtime().settings.company_name),
            SlotSet("verified", verified),
            SlotSet("account_id", account_id),
            SlotSet("verification_locked", locked),
            ActionExecuted("action_listen"),
        ]
