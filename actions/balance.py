"""`action_tell_balance` and `action_tell_debt_details` (SPEC §5), for verified debtors only.

The first message about the debt in a conversation carries the debt-collector disclosure, and
the disclosure is recorded; later messages do not repeat it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions import texts
from actions.common import Reply, Turn, in_transaction, runtime
from parley.balance import disclosures, explain
from parley.conversations import state
from parley.models import Account, Conversation

VERIFICATION_FORM = "verification_form"


def disclose_if_needed(session: Session, conversation: Conversation, reply: Reply) -> None:
    """Say and record the disclosure unless this conversation already had it."""
    company = runtime().settings.company_name
    if disclosures.record_disclosure(session, conversation, company):
        reply.say(disclosures.disclosure_text(company))


def add_balance(
    session: Session, conversation: Conversation, account: Account, reply: Reply
) -> None:
    disclose_if_needed(session, conversation, reply)
    reply.say(
        explain.balance_text(account),
        buttons=texts.balance_buttons(account.collection_paused),
    )


def add_details(
    session: Session, conversation: Conversation, account: Account, reply: Reply
) -> None:
    disclose_if_needed(session, conversation, reply)
    reply.say(explain.details_text(account))
    reply.say(explain.itemization_text(account))
    buttons = [texts.DISPUTE, texts.HUMAN]
    if not account.collection_paused:
        buttons.insert(0, texts.PAYMENT_OPTIONS)
    reply.say(explain.DISPUTE_RIGHT, buttons=buttons)


def for_verified(
    turn: Turn, answer: Callable[[Session, Conversation, Account, Reply], None]
) -> Callable[[Session], Reply]:
    """Run `answer` if the conversation is verified; otherwise start verification (or say it is
    locked) without a word about why, so a rule gap can never leak the debt."""

    def work(session: Session) -> Reply:
        reply = Reply()
        conversation = state.get_or_create(session, turn.conversation_id)
        account = state.verified_account(session, conversation)
        if account is not None:
            answer(session, conversation, account, reply)
        elif state.is_locked(conversation):
            reply.say(texts.VERIFY_LOCKED)
            reply.events.append(SlotSet("verification_locked", True))
        else:
            reply.say(texts.NEED_VERIFICATION)
            reply.events += [
                SlotSet("verification_locked", False),
                FollowupAction(VERIFICATION_FORM),
            ]
        return reply

    return work


class ActionTellBalance(Action):
    def name(self) -> str:
        return "action_tell_balance"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        turn = Turn.of(tracker)
        return (await in_transaction(turn, for_verified(turn, add_balance))).send(dispatcher)


class ActionTellDebtDetails(Action):
    def name(self) -> str:
        return "action_tell_debt_details"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        turn = Turn.of(tracker)
        return (await in_transaction(turn, for_verified(turn, add_details))).send(dispatcher)
