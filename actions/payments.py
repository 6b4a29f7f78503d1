"""`action_payment_options`: every payment intent of a verified debtor, and their yes / no /
figures while a negotiation is open (the `negotiating` slot), lands here.

The action keeps its original name so the dialogue's rules and stories need no renaming; what it
does is the negotiation (`actions.negotiation`, deciding in `parley.plans`). While collection is
paused nothing is offered.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.balance import for_verified
from actions.common import Reply, conversation_id, in_transaction, latest_intent, latest_text
from actions.negotiation import negotiate, right_after_summary
from parley.models import Account, Conversation


def add_payment_options(
    session: Session,
    conversation: Conversation,
    account: Account,
    reply: Reply,
    said: str = "",
    intent: str | None = None,
    right_after: bool = False,
) -> None:
    """Answer a payment request: also used right after verification for a pending request."""
    negotiate(session, conversation, account, reply, intent, said, right_after)


class ActionPaymentOptions(Action):
    def name(self) -> str:
        return "action_payment_options"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        sender = conversation_id(tracker)
        said = latest_text(tracker)
        intent, _confidence = latest_intent(tracker)
        right_after = right_after_summary(tracker)

        def answer(
            session: Session, conversation: Conversation, account: Account, reply: Reply
        ) -> None:
            add_payment_options(session, conversation, account, reply, said, intent, right_after)

        work = for_verified(sender, answer)
        return (await in_transaction(work)).send(dispatcher)
