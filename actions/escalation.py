"""`action_escalate`: hand the conversation to the human queue with an honest acknowledgement.

The reason comes from the intent (`parley.escalations.reasons`); what the escalation does to the
account (pausing collection, opting a number out, flagging a wrong number) is decided in
`parley.escalations.rules`; this module only says it.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions import texts
from actions.common import Reply, Turn, in_transaction
from parley.conversations import state
from parley.escalations.queue import has_open_escalation
from parley.escalations.reasons import REASON_FOR_INTENT
from parley.escalations.rules import escalate
from parley.models import Conversation, ConversationStatus, EscalationReason


def escalate_and_say(
    session: Session,
    conversation: Conversation,
    reason: EscalationReason,
    said: str,
    reply: Reply,
) -> None:
    """Open (or find) the escalation and acknowledge it in words fit for the debtor."""
    done = escalate(session, conversation, reason, said)
    if done.created:
        reply.say(texts.ESCALATION_ACK[reason][done.verified])
    elif reason in (EscalationReason.HUMAN_REQUESTED, EscalationReason.BOT_FAILURE):
        reply.say(texts.ALREADY_QUEUED)
    else:
        reply.say(texts.ESCALATION_REPEAT[done.verified])


class ActionEscalate(Action):
    def name(self) -> str:
        return "action_escalate"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        turn = Turn.of(tracker)
        reason = REASON_FOR_INTENT.get(turn.intent or "", EscalationReason.HUMAN_REQUESTED)

        def work(session: Session) -> Reply:
            reply = Reply()
            conversation = state.get_or_create(session, turn.conversation_id)
            if (
                reason == EscalationReason.HUMAN_REQUESTED
                and conversation.status in (ConversationStatus.QUEUED, ConversationStatus.HUMAN)
                and has_open_escalation(session, conversation)
            ):
                reply.say(texts.ALREADY_QUEUED)
                return reply
            escalate_and_say(session, conversation, reason, turn.text, reply)
            return reply

        return (await in_transaction(turn, work)).send(dispatcher)
