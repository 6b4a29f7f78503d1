"""The negotiation in the chat (SPEC §6): `action_payment_options`, a thin adapter from a debtor
turn to `parley.negotiation.dialogue`.

Every payment intent of a verified debtor, and their yes / no / figures while a negotiation is
open (the `negotiating` slot), lands here. `take_turn` decides and records; this module only
turns its `Turn` into short messages with buttons, and sets the `negotiating` slot so the rules
send the debtor's next yes / no / figures back here instead of to the help menu. While
collection is paused nothing is offered.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions import texts
from actions.balance import disclose_if_needed, for_verified
from actions.common import Reply, Turn, in_transaction, previous_turn_ran, runtime
from parley.core.money import format_cents
from parley.models import Account, Conversation
from parley.negotiation import dialogue, wording
from parley.negotiation.agreements import plan_proposal

# The actions whose previous turn may have shown a summary the debtor is now answering.
SUMMARY_ACTIONS = ("action_payment_options", "action_verification_complete")


def right_after_summary(tracker: Tracker) -> bool:
    """Whether the bot's previous turn was the negotiation (a "yes" must answer a summary the
    debtor has just read; `take_turn` also checks that the summary was the last step)."""
    return any(previous_turn_ran(tracker, action) for action in SUMMARY_ACTIONS)


def negotiate(
    session: Session,
    conversation: Conversation,
    account: Account,
    reply: Reply,
    intent: str | None,
    said: str,
    right_after: bool,
) -> None:
    """One negotiation turn for a verified debtor: decide, record, and say it."""
    move = dialogue.MOVES.get(intent or "", "options")
    turn = dialogue.take_turn(
        session, runtime().settings, conversation, account, move, said, right_after
    )
    if turn.kind == "paused":
        reply.say(texts.COLLECTION_PAUSED, buttons=[texts.HUMAN])
    elif turn.kind == "review":
        reply.say(texts.HARDSHIP_PENDING, buttons=[texts.HUMAN])
    elif turn.kind == "help":
        reply.respond("utter_how_can_i_help")
    else:
        disclose_if_needed(session, conversation, reply)
        _say(turn, reply)
    reply.events.append(SlotSet("negotiating", turn.negotiating))


def _say(turn: dialogue.Turn, reply: Reply) -> None:
    proposal = turn.proposal
    if turn.kind == "offer":
        template = texts.OFFER_FULL_RESUMED if turn.action == "resume" else texts.OFFER_FULL
        reply.say(
            template.format(amount=format_cents(turn.balance_cents)),
            buttons=[texts.PAY_IN_FULL, texts.PAYMENT_PLAN, texts.HUMAN],
        )
    elif turn.kind == "summary" and proposal is not None:
        intro = _intro(turn)
        summary = wording.summary_text(proposal, turn.balance_cents)
        reply.say(f"{intro}\n{summary}\n{texts.CONFIRM_QUESTION}", buttons=[texts.YES, texts.NO])
    elif turn.kind == "agreed" and turn.plan is not None:
        reply.say(wording.confirmation_text(turn.plan))
        reply.say(texts.AGREED_NEXT, buttons=[texts.HUMAN])
        if turn.payment_link:
            reply.say(turn.payment_link)
    elif turn.kind == "recall" and turn.plan is not None:
        summary = wording.summary_text(plan_proposal(turn.plan), turn.balance_cents)
        reply.say(f"{texts.RECALL_INTRO}\n{summary}\n{texts.RECALL_NEXT}", buttons=[texts.HUMAN])
    elif turn.kind == "hardship":
        lead = f"{turn.explanation} " if turn.explanation else ""
        reply.say(lead + texts.HARDSHIP_REVIEW)
    elif turn.kind == "settled":
        reply.say(texts.NOTHING_OWED)
    else:  # ask_terms
        reply.say(texts.ASK_TERMS, buttons=[texts.PAY_IN_FULL, texts.PAYMENT_PLAN, texts.HUMAN])


def _intro(turn: dialogue.Turn) -> str:
    """Why this summary: accepted as proposed, countered (with the limit in plain words), the
    next offer of the ladder, or the one already on the table."""
    proposal = turn.proposal
    action = turn.action or "offer"
    if action == "offer" and proposal is not None:
        action = f"offer_{proposal.kind}"
    intro = texts.SUMMARY_INTRO.get(action, texts.SUMMARY_INTRO["counter"])
    if turn.explanation and action not in ("accept", "resume"):
        return f"{turn.explanation} {intro}"
    return intro


class ActionPaymentOptions(Action):
    def name(self) -> str:
        return "action_payment_options"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        turn = Turn.of(tracker)
        right_after = right_after_summary(tracker)

        def answer(
            session: Session, conversation: Conversation, account: Account, reply: Reply
        ) -> None:
            negotiate(session, conversation, account, reply, turn.intent, turn.text, right_after)

        return (await in_transaction(turn, for_verified(turn, answer))).send(dispatcher)
