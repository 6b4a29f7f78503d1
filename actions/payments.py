"""`action_payment_options`: every payment intent of a verified debtor lands here.

Negotiation is not built yet, so the truthful answer is that a team member will set the payment
up; the request is queued (as `human_requested`, sub-reason `payment_setup`) so that is true.
While collection is paused nothing is offered.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions import texts
from actions.balance import disclose_if_needed, for_verified
from actions.common import Reply, conversation_id, in_transaction, latest_text
from actions.escalation import summary
from parley.escalations import open_escalation
from parley.models import Account, Conversation


def add_payment_options(
    session: Session, conversation: Conversation, account: Account, reply: Reply, said: str = ""
) -> None:
    if account.collection_paused:
        reply.say(texts.COLLECTION_PAUSED, buttons=[texts.HUMAN])
        return
    disclose_if_needed(session, conversation, reply)
    open_escalation(
        session,
        conversation,
        "human_requested",
        "payment_setup",
        summary(session, conversation, "human_requested", "payment_setup", said),
    )
    reply.say(texts.PAYMENT_SETUP, buttons=[texts.WHY, texts.HUMAN])


class ActionPaymentOptions(Action):
    def name(self) -> str:
        return "action_payment_options"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        said = latest_text(tracker)

        def answer(
            session: Session, conversation: Conversation, account: Account, reply: Reply
        ) -> None:
            add_payment_options(session, conversation, account, reply, said)

        work = for_verified(conversation_id(tracker), answer)
        return (await in_transaction(work)).send(dispatcher)
