"""The negotiation in the chat (SPEC §6): a debtor turn read in context, handed to
`parley.negotiation.dialogue`, and its outcome said.

Context decides: while the full offer, a summary, the terms question or the hardship-review
offer is pending (`state.expect`), a yes or a no answers it and bare figures are offers; a
refusal ("I can't pay all that") is a no, never a yes, and terms said after it ("...but I can
do 30") are the debtor's offer.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

from parley.core.dates import long_date
from parley.core.money import format_cents
from parley.dialogue import texts
from parley.dialogue.turn import Turn
from parley.documents.links import agreement_url
from parley.documents.overshadowing import dispute_right_sentence
from parley.negotiation import dialogue, wording
from parley.negotiation.agreements import plan_proposal
from parley.negotiation.engine import Proposal
from parley.negotiation.terms import DebtorOffer, is_refusal, proposed_terms, without_refusals
from parley.tables import Account

PAYMENT_INTENTS = frozenset(
    {
        "pay_in_full",
        "request_payment_plan",
        "offer_payment",
        "ask_settlement",
        "ask_payment_options",
    }
)
_SETTLE = re.compile(
    r"\b(settle|settlement|close (?:it|this|the account|my account|out)|for less|take less|"
    r"discount|reduc|lowest|knock|lower|flexib|better (?:deal|offer)|best you can do|"
    r"meet me (?:in the middle|halfway))",
    re.I,
)
_SUGGEST = re.compile(
    r"\b(idk|i don'?t know|dont know|not sure|no idea|you tell me|suggest|what do you (?:suggest|"
    r"recommend|offer)|what can you (?:do|offer)|what are my options|whatever works)\b",
    re.I,
)
_MONTHLY = re.compile(r"\b(month|monthly|a mo|per mo|each mo)", re.I)
_ONCE = re.compile(r"\b(once|one time|one-time|one payment|single|all at once|lump)", re.I)


def _offer_in(turn: Turn) -> tuple[DebtorOffer | None, bool]:
    """The debtor's own terms in this message, and whether it refuses what was offered. A date
    alone is no offer ("are you open on saturdays?"), nor are figures asked about. An amount
    said after only the frequency was ("monthly" then "100") is at that frequency."""
    text = turn.heard.text
    refused = is_refusal(text)
    offer = proposed_terms(without_refusals(text) if refused else text, turn.today)
    said = turn.state.pending.get("frequency") if turn.state.expect == "terms" else None
    if (
        offer is not None
        and said in texts.ASK_AMOUNT
        and offer.amount_cents
        and offer.frequency is None
        and offer.count is None
        and not offer.lump_sum
    ):
        offer = replace(offer, frequency=said)
    return offer, refused


def _frequency_only(offer: DebtorOffer | None) -> bool:
    """Terms that say how often but not how much ("let's do monthly installments")."""
    return (
        offer is not None
        and offer.frequency in texts.ASK_AMOUNT
        and not offer.amount_cents
        and not offer.count
        and not offer.down_payment_cents
        and not offer.lump_sum
    )


def _ask_amount(turn: Turn, offer: DebtorOffer) -> None:
    """Ask how much, remembering how often (the engine never invents the amount)."""
    frequency = str(offer.frequency)
    turn.disclose()
    turn.say(texts.ASK_AMOUNT[frequency], [texts.SUGGEST, texts.PAY_IN_FULL, texts.HUMAN])
    turn.state.expect, turn.state.pending = "terms", {"frequency": frequency}


def _same_terms(turn: Turn, account: Account, offer: DebtorOffer | None) -> bool:
    """Whether figures said with a yes are those of the summary on the table (or none)."""
    if offer is None or (offer.amount_cents is None and offer.count is None):
        return True
    pending = dialogue.standing(turn.session, account).state.pending
    if pending is None:
        return False
    amounts = {p.amount_cents for p in pending.payments} | {pending.total_cents}
    bare = offer.frequency is None and offer.count is None and offer.down_payment_cents is None
    if bare and offer.amount_cents == pending.count * 100:
        return True  # "yes. 4 works." to four payments: the figure is the count
    return offer.amount_cents in (None, *amounts) and offer.count in (None, pending.count)


def negotiate(turn: Turn, account: Account, move: dialogue.Move, **kwargs: object) -> None:
    """One negotiation turn: decide, record, say."""
    state = turn.state
    outcome = dialogue.take_turn(
        turn.session,
        turn.settings,
        turn.conversation,
        account,
        move,
        turn.heard.text,
        state.expect == "summary",
        turn.now,
        **kwargs,  # type: ignore[arg-type]
    )
    say(turn, outcome)


def by_intent(turn: Turn, account: Account) -> None:
    """A payment intent said outside any pending question."""
    heard = turn.heard
    offer, refused = _offer_in(turn)
    intent = heard.intent or ""
    if heard.entities.get("suggest") or (
        intent == "request_payment_plan" and _SUGGEST.search(heard.text)
    ):
        negotiate(turn, account, "plan", suggest=True)
        return
    if intent == "ask_settlement" or (offer is not None and _SETTLE.search(heard.text)):
        negotiate(turn, account, "settlement", offer=offer)
        return
    if intent == "pay_in_full" and refused:
        negotiate(turn, account, "deny") if offer is None else negotiate(
            turn, account, "offer", offer=offer
        )
        return
    if _frequency_only(offer) and offer is not None:
        _ask_amount(turn, offer)
        return
    move = dialogue.MOVES.get(intent, "options")
    negotiate(turn, account, move, offer=offer)


def answers(turn: Turn, account: Account) -> bool:
    """Read the message as the answer to the pending negotiation question; False when it is
    something else (the caller reads it afresh)."""
    state = turn.state
    heard = turn.heard
    expect = state.expect
    offer, refused = _offer_in(turn)
    if expect == "hardship_offer":
        # "Yes, I can't afford payments right now" and "I have no income at all" say yes to a
        # review of their hardship: the refusal to pay is the hardship itself.
        hardship = heard.is_("hardship") and not heard.denies()
        if (heard.affirms() and not refused) or heard.opens_with_yes() or hardship:
            dialogue.open_hardship_review(
                turn.session, turn.settings, turn.conversation, account, heard.text, turn.now
            )
            state.expect = None
            turn.say(texts.ESCALATION_ACK["hardship"][1])
            return True
        if heard.denies() or refused:
            state.expect = "terms"
            turn.say(texts.HARDSHIP_DECLINED, [texts.SUGGEST, texts.HUMAN])
            return True
        if offer is not None:
            negotiate(turn, account, "offer", offer=offer)
            return True
        return False
    if expect == "promise":
        pending = state.pending
        same = offer is None or offer.amount_cents in (None, pending.get("amount_cents"))
        if heard.affirms() and not refused and same and pending.get("amount_cents"):
            due = pending.get("due")
            promise_day = date.fromisoformat(str(due))
            dialogue.record_promise(
                turn.session,
                turn.settings,
                turn.conversation,
                account,
                int(pending["amount_cents"]),
                promise_day,
                heard.text,
            )
            state.expect, state.pending = "more", {}
            turn.say(
                texts.PROMISE_RECORDED.format(
                    amount=format_cents(int(pending["amount_cents"])), day=long_date(promise_day)
                )
            )
            turn.say(texts.ANYTHING_ELSE)
            return True
        if offer is not None:
            state.pending = {}
            negotiate(turn, account, "offer", offer=offer)
            return True
        if heard.denies() or refused:
            state.expect, state.pending = "terms", {}
            turn.say(texts.ASK_TERMS_AGAIN, [texts.SUGGEST, texts.HUMAN])
            return True
        return False
    if expect == "amount_kind":
        amount = state.pending.get("amount_cents")
        if amount:
            words = heard.text
            if heard.entities.get("amount_kind") == "monthly" or _MONTHLY.search(words):
                state.pending = {}
                negotiate(
                    turn,
                    account,
                    "offer",
                    offer=DebtorOffer(amount_cents=int(amount), frequency="monthly"),
                )
                return True
            if heard.entities.get("amount_kind") == "once" or _ONCE.search(words):
                state.pending = {}
                lump = DebtorOffer(
                    amount_cents=int(amount),
                    lump_sum=True,
                    first_date=offer.first_date if offer else None,
                )
                negotiate(turn, account, "offer", offer=lump)
                return True
        if offer is not None and (offer.frequency or offer.count or offer.first_date):
            state.pending = {}
            negotiate(turn, account, "offer", offer=offer)
            return True
        return False
    if expect in ("choice", "summary", "terms"):
        if heard.payload and heard.intent in PAYMENT_INTENTS:
            by_intent(turn, account)
            return True
        if expect == "summary" and heard.affirms() and _same_terms(turn, account, offer):
            negotiate(turn, account, "affirm")  # "yes, 4 payments of $250 works"
            return True
        if _SETTLE.search(heard.text) or (heard.intent == "ask_settlement" and heard.sure):
            # "no way. would you take less?": the settlement question, whatever else it says.
            negotiate(turn, account, "settlement", offer=offer)
            return True
        if heard.entities.get("suggest") or (expect == "terms" and _SUGGEST.search(heard.text)):
            negotiate(turn, account, "plan", suggest=True)
            return True
        if _frequency_only(offer) and offer is not None:
            _ask_amount(turn, offer)
            return True
        if offer is not None:
            if _SETTLE.search(heard.text) or heard.intent == "ask_settlement":
                negotiate(turn, account, "settlement", offer=offer)
            elif heard.intent == "pay_in_full" and not refused:
                negotiate(turn, account, "pay_in_full", offer=offer)
            else:
                negotiate(turn, account, "offer", offer=offer)
            return True
        if refused or heard.denies():
            negotiate(turn, account, "deny")
            return True
        if heard.affirms():
            negotiate(turn, account, "affirm")
            return True
        if heard.intent in PAYMENT_INTENTS and heard.sure:
            by_intent(turn, account)
            return True
        if expect == "terms" and heard.intent in ("inform", "nlu_fallback"):
            return False
    return False


def say(turn: Turn, outcome: dialogue.Turn) -> None:
    """Put one negotiation outcome into words and buttons, and remember what it waits for."""
    state = turn.state
    kind = outcome.kind
    state.expect = None
    if kind == "paused":
        turn.say(texts.COLLECTION_PAUSED, [texts.HUMAN])
        return
    if kind == "review":
        turn.say(texts.HARDSHIP_PENDING, [texts.HUMAN])
        return
    if kind == "help":
        turn.say(texts.HOW_CAN_I_HELP, texts.HELP_MENU)
        return
    turn.disclose()
    proposal = outcome.proposal
    if kind == "offer":
        template = texts.OFFER_FULL_RESUMED if outcome.action == "resume" else texts.OFFER_FULL
        turn.say(
            template.format(amount=format_cents(outcome.balance_cents)),
            [texts.PAY_IN_FULL, texts.PAYMENT_PLAN, texts.HUMAN],
        )
        state.expect = "choice"
    elif kind == "summary" and proposal is not None:
        summary = _with_dispute_right(
            turn, proposal, wording.summary_text(proposal, outcome.balance_cents)
        )
        turn.say(f"{_intro(outcome)}\n{summary}\n{texts.CONFIRM_SUMMARY}", [texts.YES, texts.NO])
        state.expect = "summary"
    elif kind == "agreed" and outcome.plan is not None:
        plan = outcome.plan
        turn.say(_with_dispute_right(turn, plan_proposal(plan), wording.confirmation_text(plan)))
        # The written agreement the debtor can keep (SPEC §14), linked with the confirmation.
        turn.say(texts.AGREEMENT_LINK.format(url=agreement_url(turn.settings, plan)))
        turn.say(texts.AGREED_NEXT, [texts.HUMAN])
        if outcome.payment_link:
            turn.say(outcome.payment_link)
    elif kind == "recall" and outcome.plan is not None:
        summary = wording.summary_text(plan_proposal(outcome.plan), outcome.balance_cents)
        turn.say(f"{texts.RECALL_INTRO}\n{summary}\n{texts.RECALL_NEXT}", [texts.HUMAN])
    elif kind == "hardship_offer":
        lead = f"{outcome.explanation} " if outcome.explanation else ""
        turn.say(lead + texts.HARDSHIP_OFFER, [texts.YES, texts.NO])
        state.expect = "hardship_offer"
    elif kind == "promise" and outcome.amount_cents and outcome.due:
        rest = max(outcome.balance_cents - outcome.amount_cents, 0)
        turn.say(
            texts.PROMISE_SUMMARY.format(
                amount=format_cents(outcome.amount_cents),
                day=long_date(outcome.due),
                rest=format_cents(rest),
            )
            + " "
            + texts.PROMISE_CONFIRM,
            [texts.YES, texts.NO],
        )
        state.expect = "promise"
        state.pending = {"amount_cents": outcome.amount_cents, "due": outcome.due.isoformat()}
    elif kind == "amount_kind" and outcome.amount_cents:
        amount = format_cents(outcome.amount_cents)
        turn.say(
            texts.AMOUNT_KIND.format(amount=amount),
            [
                texts.button(f"{amount} a month", '/offer_payment{"amount_kind":"monthly"}'),
                texts.button(f"{amount} once", '/offer_payment{"amount_kind":"once"}'),
            ],
        )
        state.expect = "amount_kind"
        state.pending = {"amount_cents": outcome.amount_cents}
    elif kind == "settled":
        turn.say(texts.NOTHING_OWED)
    else:  # ask_terms
        turn.say(texts.ASK_TERMS, [texts.SUGGEST, texts.PAY_IN_FULL, texts.HUMAN])
        state.expect = "terms"


def reoffer(turn: Turn, account: Account) -> None:
    """Show the summary on the table again, in full, after answering something else: a yes
    agrees only to terms the debtor has just read (SPEC §6)."""
    pending = dialogue.standing(turn.session, account).state.pending
    if pending is None:
        turn.state.expect = None
        turn.say(texts.HOW_CAN_I_HELP, texts.HELP_MENU)
        return
    summary = _with_dispute_right(
        turn, pending, wording.summary_text(pending, account.balance_cents)
    )
    turn.say(f"{texts.STILL_ON_OFFER}\n{summary}\n{texts.CONFIRM_SUMMARY}", [texts.YES, texts.NO])
    turn.state.expect = "summary"


def _with_dispute_right(turn: Turn, proposal: Proposal, summary: str) -> str:
    """A settlement due before the validation period ends is shown with the debtor's right to
    dispute by that date (SPEC §14: a deadline must not overshadow the dispute right)."""
    account = turn.account
    if proposal.kind != "settlement" or account is None or not proposal.payments:
        return summary
    sentence = dispute_right_sentence(turn.session, account, proposal.payments[0].due, turn.now)
    return f"{summary}\n{sentence}" if sentence else summary


def _intro(outcome: dialogue.Turn) -> str:
    """Why this summary: accepted as proposed, countered (with the limit in plain words), the
    next offer of the ladder, the most lenient plan, or the one already on the table."""
    proposal = outcome.proposal
    action = outcome.action or "offer"
    if action == "offer" and proposal is not None:
        action = f"offer_{proposal.kind}"
    intro = texts.SUMMARY_INTRO.get(action, texts.SUMMARY_INTRO["counter"])
    if outcome.explanation and action not in ("accept", "resume"):
        return f"{outcome.explanation} {intro}"
    return intro


def hardship_said(turn: Turn, said: str) -> None:
    """The debtor said they are in hardship: the most lenient plan first, then the review."""
    account = turn.account
    assert account is not None  # noqa: S101 - called after verification
    outcome = dialogue.offer_lenient(
        turn.session, turn.settings, turn.conversation, account, said, turn.now
    )
    say(turn, outcome)
