"""The negotiation in the chat (SPEC §6): a thin adapter from a debtor turn to `parley.plans`.

`parley.plans.take_turn` decides and records; this module only turns its `Turn` into short
messages with buttons, and sets the `negotiating` slot so the rules send the debtor's next
yes / no / figures back here instead of to the help menu.
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from sqlalchemy.orm import Session

from actions import texts
from actions.balance import disclose_if_needed
from actions.common import Reply, previous_turn_ran
from parley import plans
from parley.models import Account, Conversation
from parley.money import format_cents

# The actions whose previous turn may have shown a summary the debtor is now answering.
SUMMARY_ACTIONS = ("action_payment_options", "action_verification_complete")


def right_after_summary(tracker: Tracker) -> bool:
    """Whether the bot's previous turn was the negotiation (a "yes" must answer a summary the
    debtor has just read; plans.take_turn also checks that the summary was the last step)."""
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
    move = plans.MOVES.get(intent or "", "options")
    turn = plans.take_turn(session, conversation, account, move, said, right_after)
    if turn.kind == "paused":
        reply.say(texts.COLLECTION_PAUSED, buttons=[texts.HUMAN])
    elif turn.kind == "help":
        reply.respond("utter_how_can_i_help")
    else:
        disclose_if_needed(session, conversation, reply)
        _say(turn, reply)
    reply.events.append(SlotSet("negotiating", turn.negotiating))


def _say(turn: plans.Turn, reply: Reply) -> None:
    proposal = turn.proposal
    if turn.kind == "offer":
        template = texts.OFFER_FULL_RESUMED if turn.action == "resume" else texts.OFFER_FULL
        reply.say(
            template.format(amount=format_cents(turn.balance_cents)),
            buttons=[texts.PAY_IN_FULL, texts.PAYMENT_PLAN, texts.HUMAN],
        )
    elif turn.kind == "summary" and proposal is not None:
        intro = _intro(turn)
        summary = plans.summary_text(proposal, turn.balance_cents)
        reply.say(f"{intro}\n{summary}\n{texts.CONFIRM_QUESTION}", buttons=[texts.YES, texts.NO])
    elif turn.kind == "agreed" and turn.plan is not None:
        reply.say(plans.confirmation_text(turn.plan))
        reply.say(texts.AGREED_NEXT, buttons=[texts.HUMAN])
        if turn.payment_link:
            reply.say(turn.payment_link)
    elif turn.kind == "recall" and turn.plan is not None:
        summary = plans.summary_text(plans.plan_proposal(turn.plan), turn.balance_cents)
        reply.say(f"{texts.RECALL_INTRO}\n{summary}\n{texts.RECALL_NEXT}", buttons=[texts.HUMAN])
    elif turn.kind == "hardship":
        lead = f"{turn.explanation} " if turn.explanation else ""
        reply.say(lead + texts.HARDSHIP_REVIEW)
    elif turn.kind == "settled":
        reply.say(texts.NOTHING_OWED)
    else:  # ask_terms
        reply.say(texts.ASK_TERMS, buttons=[texts.PAY_IN_FULL, texts.PAYMENT_PLAN, texts.HUMAN])


def _intro(turn: plans.Turn) -> str:
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
