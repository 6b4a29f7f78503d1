"""The negotiation as a conversation with memory (SPEC §6): one debtor turn at a time.

`parley.negotiation` decides what to offer; this module decides *which* engine call a debtor's
turn is, stores every step, and keeps the agreed plan:

- The state of an account's negotiation is the `state` in the terms of its latest
  `NegotiationEvent`, so a later conversation (or another Rasa replica) resumes where it stopped.
- Every offer, counteroffer and decision is a `NegotiationEvent` with the policy name, the policy
  values behind it and the limit that drove it.
- Nothing is agreed until the debtor answers "yes" to a full summary *in the very next turn*;
  only then is a `PaymentPlan` stored with its `Installment` schedule, re-checked against the
  policy on that day.
- The assistant asks what the debtor can afford before proposing a plan of its own (a plan
  request without terms, or a "no" to the full offer, is answered with the question; "suggest
  one" gets the engine's plan). Terms below the most lenient plan are answered with that plan,
  saying which limit it meets; only when the debtor declines it too is a hardship review
  offered (`Turn("hardship_offer")`), and opened when they accept (`open_hardship_review`): an
  escalation (reason `hardship`, with what they said they can pay). Hardship does not pause
  collection (SPEC §10 lists the reasons that do), but while the review is open no new offer
  is made.
- A partial payment on a date without a plan ("I'll pay $120 on Friday") is a promise to pay,
  read back for a yes and recorded (`record_promise`, SPEC §6, §14). A bare amount with no plan
  on the table is asked about: a monthly payment, or one payment?

Texts for the chat live in `actions/texts.py`; the summary and the written confirmation are in
`parley.negotiation.wording` because they are part of the record.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from typing import Any, Final, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.core.clock import debtor_zone, local_date, utcnow
from parley.core.settings import Settings
from parley.escalations.queue import open_escalation, open_review
from parley.escalations.summaries import hardship_summary
from parley.negotiation import engine
from parley.negotiation.agreements import live_plan, request_payment_link, store_plan
from parley.negotiation.engine import Decision, NegotiationState, Proposal
from parley.negotiation.policies import Policy, account_policy, policy_record
from parley.negotiation.terms import DebtorOffer, proposed_terms
from parley.records.audit import SYSTEM, Kind, record
from parley.tables import (
    Account,
    Actor,
    Conversation,
    EscalationReason,
    NegotiationEvent,
    NegotiationEventKind,
    PaymentPlan,
    Promise,
)

# What the debtor's turn asks for, from the NLU intent (see `MOVES`).
Move = Literal["options", "pay_in_full", "plan", "offer", "settlement", "affirm", "deny", "inform"]
MOVES: Final[dict[str, Move]] = {
    "ask_payment_options": "options",
    "pay_in_full": "pay_in_full",
    "request_payment_plan": "plan",
    "offer_payment": "offer",
    "ask_settlement": "settlement",
    "affirm": "affirm",
    "deny": "deny",
    "inform": "inform",
}

# What the bot's last negotiation message waits for: a choice between the opening options,
# or a yes/no to a full summary.
Awaiting = Literal["choice", "confirmation"]

TurnKind = Literal[
    "offer",  # the opening offer (pay in full), with choices; not yet a summary
    "summary",  # a concrete proposal laid out in full, waiting for yes / no
    "agreed",  # the debtor said yes to the summary: the plan is stored
    "recall",  # a plan was already agreed: it is recalled, not renegotiated
    "hardship",  # hardship review opened; collection paused
    "paused",  # collection is paused: no offers at all
    "review",  # a hardship review is open: no offers until a person has looked at it
    "ask_terms",  # the debtor's words held no terms: ask what they can pay
    "amount_kind",  # a bare amount with nothing on the table: monthly, or one payment?
    "hardship_offer",  # even the most lenient plan was declined: offer a hardship review
    "promise",  # a partial payment on a date, read back for a yes
    "settled",  # nothing is owed
    "help",  # nothing to negotiate about in this turn
]

_EVENT_KIND: Final[dict[str, NegotiationEventKind]] = {
    "offer": NegotiationEventKind.OFFER,
    "accept": NegotiationEventKind.ACCEPT,
    "counter": NegotiationEventKind.COUNTER,
    "hardship": NegotiationEventKind.ESCALATE,
}


@dataclass(frozen=True)
class Turn:
    """What the bot answers this turn; the actions turn it into words and buttons."""

    kind: TurnKind
    proposal: Proposal | None = None
    # offer | accept | counter | resume | update (a pending proposal moved to a valid date)
    action: str | None = None
    explanation: str = ""
    balance_cents: int = 0
    plan: PaymentPlan | None = None
    # The message carrying the agreed plan's payment link (SPEC §8), said right after it.
    payment_link: str | None = None
    # A promise read back ("promise"), or the amount asked about ("amount_kind").
    amount_cents: int | None = None
    due: date | None = None

    @property
    def negotiating(self) -> bool:
        """Whether the debtor's next yes / no / figures belong to the negotiation."""
        return self.kind in (
            "offer",
            "summary",
            "ask_terms",
            "amount_kind",
            "hardship_offer",
            "promise",
        )


@dataclass(frozen=True)
class Standing:
    """Where an account's negotiation stands, read back from its events."""

    state: NegotiationState
    awaiting: Awaiting | None
    event_id: int | None
    conversation_id: str | None = None
    # The pending proposal is the most lenient plan, offered instead of a hardship review.
    lenient: bool = False
    # The most lenient plan was already offered (and declined) in this negotiation.
    lenient_offered: bool = False


@dataclass(frozen=True)
class _Context:
    session: Session
    settings: Settings
    conversation: Conversation
    account: Account
    policy_name: str
    policy: Policy
    today: date
    balance_cents: int


# --- the debtor's calendar and policy ------------------------------------------------------


# --- reading and writing the record ----------------------------------------------------------


_STANDING_LOOKBACK = 20


def standing(session: Session, account: Account) -> Standing:
    """The state stored with the account's latest stateful event (a fresh start if none)."""
    # The debtor's own events (a decline, a request) carry no state: the standing is that of
    # the latest decision before them, so a "no" does not send the ladder back to its top.
    recent = session.scalars(
        select(NegotiationEvent)
        .where(NegotiationEvent.account_id == account.id)
        .order_by(NegotiationEvent.id.desc())
        .limit(_STANDING_LOOKBACK)
    )
    event = next((e for e in recent if "state" in e.terms), None)
    if event is None:
        return Standing(NegotiationState(), None, None)
    awaiting = event.terms.get("awaiting")
    return Standing(
        NegotiationState.from_dict(event.terms["state"]),
        awaiting if awaiting in ("choice", "confirmation") else None,
        event.id,
        event.conversation_id,
        lenient=bool(event.terms.get("lenient")),
        lenient_offered=bool(event.terms.get("lenient_offered")),
    )


def _record(
    ctx: _Context,
    kind: NegotiationEventKind,
    actor: Actor,
    terms: dict[str, Any],
    policy_values: dict[str, Any] | None = None,
    limit: str | None = None,
    note: str | None = None,
    plan_id: int | None = None,
) -> NegotiationEvent:
    values = policy_values or {
        "balance_cents": ctx.balance_cents,
        "policy": policy_record(ctx.policy),
    }
    event = NegotiationEvent(
        account_id=ctx.account.id,
        conversation_id=ctx.conversation.id,
        plan_id=plan_id,
        kind=kind,
        actor=actor,
        terms=terms,
        policy_name=ctx.policy_name,
        policy_values={**values, "today": ctx.today.isoformat()},
        limit=limit,
        note=note,
    )
    ctx.session.add(event)
    ctx.session.flush()
    return event


def _offer_terms(offer: DebtorOffer) -> dict[str, Any]:
    terms = asdict(offer)
    if offer.first_date is not None:
        terms["first_date"] = offer.first_date.isoformat()
    return {key: value for key, value in terms.items() if value not in (None, False)}


def _record_debtor(
    ctx: _Context, kind: NegotiationEventKind, said: str, offer: DebtorOffer | None = None
) -> None:
    """The debtor's side: a counteroffer (with the terms read from their words) or a decline.
    `said` is the message as stored by the gateway, already redacted."""
    terms = {"offer": _offer_terms(offer)} if offer is not None else {}
    _record(ctx, kind, Actor.DEBTOR, terms, note=said[:500] or None)


def _record_decision(
    ctx: _Context,
    decision: Decision,
    awaiting: Awaiting | None,
    note: str | None = None,
    **marks: bool,
) -> None:
    terms: dict[str, Any] = {"state": decision.state.to_dict(), "awaiting": awaiting, **marks}
    if decision.proposal is not None:
        terms["proposal"] = decision.proposal.to_dict()
    _record(
        ctx,
        _EVENT_KIND[decision.action],
        Actor.BOT,
        terms,
        policy_values=decision.policy_values,
        limit=decision.limit,
        note=note or decision.explanation or None,
    )


# --- one debtor turn -------------------------------------------------------------------------


def take_turn(
    session: Session,
    settings: Settings,
    conversation: Conversation,
    account: Account,
    move: Move,
    said: str,
    right_after_summary: bool,
    now: datetime | None = None,
    *,
    suggest: bool = False,
    offer: DebtorOffer | None = None,
) -> Turn:
    """Answer one debtor turn of the negotiation and record it.

    `right_after_summary` must be true only when the bot's previous turn in this conversation
    was this negotiation's summary: a "yes" agrees only to a summary the debtor has just read.
    `suggest`: the debtor asked the assistant to propose a plan. `offer`: the terms already
    read from the debtor's words (by default they are read from `said`).
    """
    if account.collection_paused:
        return Turn("paused")
    if open_review(session, account.id, EscalationReason.HARDSHIP) is not None:
        return Turn("review")
    balance = account.balance_cents
    if balance < 1:
        return Turn("settled", balance_cents=balance)
    plan = live_plan(session, account)
    if plan is not None:
        return Turn("recall", plan=plan, balance_cents=balance)
    name, policy = account_policy(settings.policies_path, account.policy)
    today = local_date(now or utcnow(), debtor_zone(account.zone_names, now))
    ctx = _Context(session, settings, conversation, account, name, policy, today, balance)
    now_standing = standing(session, account)
    state = now_standing.state
    if state.stage in ("hardship", "agreed"):
        # Collection resumed after a hardship review, or the agreed plan was cancelled:
        # the negotiation starts again from the top of the ladder.
        state = NegotiationState(settlement_round=0)
        now_standing = Standing(state, None, now_standing.event_id)
    pending = state.pending

    if move == "affirm":
        if (
            pending is not None
            and now_standing.awaiting == "confirmation"
            and now_standing.conversation_id == conversation.id
            and right_after_summary
        ):
            return _agree(ctx, state)
        if pending is not None and now_standing.awaiting == "choice":
            move = "pay_in_full"
        elif pending is not None:
            return _resume(ctx, now_standing)
        else:
            return _open(ctx, state)

    if move == "deny":
        if pending is None:
            return Turn("ask_terms", balance_cents=balance)
        _record_debtor(ctx, NegotiationEventKind.DECLINE, said)
        if now_standing.awaiting == "choice":
            # "No" to paying in full: ask what they can afford before proposing anything.
            return Turn("ask_terms", balance_cents=balance)
        if now_standing.lenient:
            return Turn("hardship_offer", balance_cents=balance)
        if pending.kind != "settlement" and not suggest:
            # "No" to a plan: ask what would work instead (the ladder moves on when asked to
            # suggest, or when a settlement is on the table).
            return Turn("ask_terms", balance_cents=balance)
        return _show(ctx, engine.decline(balance, policy, ctx.today, state), said, now_standing)

    if move == "settlement":
        bid = offer if offer is not None else proposed_terms(said, ctx.today)
        if bid is not None and bid.amount_cents and not bid.frequency and not bid.count:
            # "$3,000 today to close it": a settlement bid in their own figure.
            lump = DebtorOffer(
                amount_cents=bid.amount_cents, first_date=bid.first_date, lump_sum=True
            )
            return _consider(ctx, state, lump, said, now_standing)
        _record_debtor(ctx, NegotiationEventKind.REQUEST, said)
        return _show(
            ctx, engine.ask_settlement(balance, policy, ctx.today, state), said, now_standing
        )

    if move == "options":
        if pending is not None:
            return _resume(ctx, now_standing)
        return _open(ctx, state)

    offer = offer if offer is not None else proposed_terms(said, ctx.today)
    if move == "pay_in_full":
        if offer is None or not offer.lump_sum:
            offer = DebtorOffer(lump_sum=True, first_date=offer.first_date if offer else None)
        return _consider(ctx, state, offer, said, now_standing)
    if move == "plan":
        if offer is not None and not offer.lump_sum:
            return _consider(ctx, state, offer, said, now_standing)
        if not suggest:
            # SPEC §6: ask what the debtor can afford before proposing a plan of our own.
            _record_debtor(ctx, NegotiationEventKind.REQUEST, said)
            return Turn("ask_terms", balance_cents=balance)
        _record_debtor(ctx, NegotiationEventKind.REQUEST, said)
        if pending is not None and pending.kind != "full":
            # Asked to suggest again with a proposal on the table: the next rung of the ladder
            # (down to the most lenient plan, then the hardship review), never the same plan.
            decision = engine.decline(balance, policy, ctx.today, state)
            return _show(ctx, decision, said, now_standing, action="suggest")
        start = NegotiationState("full_offered", state.settlement_round, None)
        decision = engine.decline(balance, policy, ctx.today, start)
        return _show(ctx, decision, said, now_standing, action="suggest")
    # offer / inform: terms in the debtor's words
    if offer is not None:
        kind = _amount_kind(ctx, state, offer)
        if kind == "promise":
            assert offer.amount_cents is not None and offer.first_date is not None  # noqa: S101
            _record_debtor(ctx, NegotiationEventKind.COUNTEROFFER, said, offer)
            return Turn(
                "promise",
                balance_cents=balance,
                amount_cents=offer.amount_cents,
                due=offer.first_date,
            )
        if kind == "ask":
            return Turn("amount_kind", balance_cents=balance, amount_cents=offer.amount_cents)
        return _consider(ctx, state, offer, said, now_standing)
    if move == "inform" and pending is not None:
        return _resume(ctx, now_standing)
    return Turn("ask_terms", balance_cents=balance)


def _amount_kind(
    ctx: _Context, state: NegotiationState, offer: DebtorOffer
) -> Literal["promise", "ask", "terms"]:
    """What a lone amount is: a promise (a part of the balance on a stated date), a question
    (an amount with nothing else, while no plan or settlement is on the table), or terms."""
    if offer.amount_cents is None or offer.frequency or offer.count or offer.down_payment_cents:
        return "terms"
    if offer.amount_cents >= ctx.balance_cents or offer.rest_frequency:
        return "terms"
    pending = state.pending
    if pending is not None and pending.kind in ("settlement", "installments"):
        return "terms"  # a bid against the settlement, or a new per-payment amount
    if offer.first_date is not None:
        return "promise"  # part of the balance on a day they name
    return "ask"


def offer_lenient(
    session: Session,
    settings: Settings,
    conversation: Conversation,
    account: Account,
    said: str,
    now: datetime | None = None,
) -> Turn:
    """The debtor said they cannot afford payments: offer the most lenient plan and ask about
    it before any hardship review (SPEC §6); with no plan possible, offer the review."""
    if account.collection_paused:
        return Turn("paused")
    if open_review(session, account.id, EscalationReason.HARDSHIP) is not None:
        return Turn("review")
    if live_plan(session, account) is not None:
        return Turn("hardship_offer", balance_cents=account.balance_cents)
    name, policy = account_policy(settings.policies_path, account.policy)
    today = local_date(now or utcnow(), debtor_zone(account.zone_names, now))
    ctx = _Context(
        session, settings, conversation, account, name, policy, today, account.balance_cents
    )
    _record_debtor(ctx, NegotiationEventKind.REQUEST, said)
    lenient = engine.most_lenient_plan(ctx.balance_cents, policy, today)
    state = standing(session, account).state
    if lenient is None:
        return Turn("hardship_offer", balance_cents=ctx.balance_cents)
    decision = Decision(
        action="counter",
        proposal=lenient,
        limit="hardship",
        explanation="",
        state=NegotiationState("proposed", state.settlement_round, lenient),
        policy_values={"balance_cents": ctx.balance_cents, "policy": policy_record(policy)},
    )
    _record_decision(ctx, decision, "confirmation", lenient=True, lenient_offered=True)
    return Turn("summary", lenient, "lenient", balance_cents=ctx.balance_cents)


def record_promise(
    session: Session,
    settings: Settings,
    conversation: Conversation | None,
    account: Account,
    amount_cents: int,
    due: date,
    said: str,
    *,
    recorded_by: str | None = None,
) -> Promise:
    """A promise to pay, confirmed by the debtor: in the chat, or told to a person who records
    it in the console (`recorded_by`, the audit actor). Followed up by SPEC §14's checks."""
    name, _policy = account_policy(settings.policies_path, account.policy)
    conversation_id = conversation.id if conversation is not None else None
    promise = Promise(
        account_id=account.id,
        conversation_id=conversation_id,
        amount_cents=amount_cents,
        due_date=due,
        note=said[:500] or None,
    )
    session.add(promise)
    session.flush()
    session.add(
        NegotiationEvent(
            account_id=account.id,
            conversation_id=conversation_id,
            kind=NegotiationEventKind.PROMISE,
            actor=Actor.DEBTOR if recorded_by is None else Actor.AGENT,
            terms={"promise_id": promise.id, "amount_cents": amount_cents, "due": due.isoformat()},
            policy_name=name,
            policy_values={"balance_cents": account.balance_cents},
            note=said[:500] or None,
        )
    )
    record(
        session,
        Kind.PROMISE_RECORDED,
        actor=recorded_by or SYSTEM,
        conversation_id=conversation_id,
        account_id=account.id,
        promise_id=promise.id,
        amount_cents=amount_cents,
        due=due.isoformat(),
    )
    return promise


def open_hardship_review(
    session: Session,
    settings: Settings,
    conversation: Conversation,
    account: Account,
    said: str,
    now: datetime | None = None,
) -> None:
    """The debtor accepted a hardship review: escalate with what they said they can pay."""
    name, policy = account_policy(settings.policies_path, account.policy)
    today = local_date(now or utcnow(), debtor_zone(account.zone_names, now))
    ctx = _Context(
        session, settings, conversation, account, name, policy, today, account.balance_cents
    )
    last_offer = session.scalars(
        select(NegotiationEvent)
        .where(
            NegotiationEvent.account_id == account.id,
            NegotiationEvent.kind == NegotiationEventKind.COUNTEROFFER,
        )
        .order_by(NegotiationEvent.id.desc())
        .limit(1)
    ).first()
    can_pay = (last_offer.terms.get("offer") if last_offer is not None else None) or None
    decision = engine.decline(
        ctx.balance_cents, policy, today, NegotiationState("hardship", 0, None)
    )
    if can_pay:
        # What the debtor said they can pay, recorded with the decision (SPEC §6).
        said_can_pay = {
            key: can_pay.get(key) for key in ("amount_cents", "frequency", "down_payment_cents")
        }
        decision = replace(
            decision, policy_values={**decision.policy_values, "debtor_can_pay": said_can_pay}
        )
    _record_decision(ctx, decision, None, note="hardship review accepted")
    summary = hardship_summary(
        session,
        conversation,
        account,
        said,
        policy_name=name,
        can_pay=can_pay,
        limit=decision.limit,
        explanation=decision.explanation,
    )
    open_escalation(session, conversation, EscalationReason.HARDSHIP, "negotiation", summary)


def _open(ctx: _Context, state: NegotiationState) -> Turn:
    decision = engine.open_negotiation(ctx.balance_cents, ctx.policy, ctx.today, state)
    _record_decision(ctx, decision, "choice")
    return Turn("offer", decision.proposal, "offer", balance_cents=ctx.balance_cents)


def _consider(
    ctx: _Context, state: NegotiationState, offer: DebtorOffer, said: str, standing_: Standing
) -> Turn:
    _record_debtor(ctx, NegotiationEventKind.COUNTEROFFER, said, offer)
    decision = engine.consider_offer(ctx.balance_cents, ctx.policy, ctx.today, state, offer)
    return _show(ctx, decision, said, standing_)


def _show(
    ctx: _Context,
    decision: Decision,
    said: str,
    standing_: Standing,
    action: str | None = None,
) -> Turn:
    """Record the engine's decision and lay it out: a summary to confirm. Where the engine
    reaches hardship, the most lenient plan is offered first (once), then a hardship review."""
    if decision.action == "hardship":
        lenient = decision.proposal or engine.most_lenient_plan(
            ctx.balance_cents, ctx.policy, ctx.today
        )
        if lenient is None or standing_.lenient_offered:
            return Turn(
                "hardship_offer", explanation=decision.explanation, balance_cents=ctx.balance_cents
            )
        counter = replace(
            decision,
            action="counter",
            proposal=lenient,
            state=NegotiationState("proposed", decision.state.settlement_round, lenient),
        )
        _record_decision(ctx, counter, "confirmation", lenient=True, lenient_offered=True)
        return Turn(
            "summary",
            lenient,
            "lenient",
            decision.explanation,
            balance_cents=ctx.balance_cents,
        )
    _record_decision(ctx, decision, "confirmation", lenient_offered=standing_.lenient_offered)
    return Turn(
        "summary",
        decision.proposal,
        action or decision.action,
        decision.explanation,
        balance_cents=ctx.balance_cents,
    )


def _resume(ctx: _Context, now_standing: Standing) -> Turn:
    """Lay out again what is on the table (a later turn or a later conversation).

    A proposal whose dates no longer fit the policy today (it was made days ago) is moved to
    a valid date by the engine first, and shown as an update.
    """
    state = now_standing.state
    pending = state.pending
    assert pending is not None  # noqa: S101 - callers check
    if now_standing.awaiting == "choice":
        # The opening offer is always "in full, today": make it again with today's date.
        decision = engine.open_negotiation(ctx.balance_cents, ctx.policy, ctx.today, state)
        _record_decision(ctx, decision, "choice", note="resumed")
        return Turn("offer", decision.proposal, "resume", balance_cents=ctx.balance_cents)
    if engine.violations(ctx.balance_cents, ctx.policy, ctx.today, pending):
        moved = engine.consider_offer(
            ctx.balance_cents, ctx.policy, ctx.today, state, DebtorOffer(first_date=ctx.today)
        )
        if moved.action == "hardship" or moved.proposal is None:
            return _open(ctx, NegotiationState())
        _record_decision(ctx, moved, "confirmation", note="resumed; moved to a valid date")
        return Turn(
            "summary",
            moved.proposal,
            "update",
            moved.explanation,
            balance_cents=ctx.balance_cents,
        )
    values = {
        "balance_cents": ctx.balance_cents,
        "policy": policy_record(ctx.policy),
        "resumed_event_id": now_standing.event_id,
    }
    _record(
        ctx,
        NegotiationEventKind.OFFER,
        Actor.BOT,
        {"state": state.to_dict(), "awaiting": "confirmation", "proposal": pending.to_dict()},
        policy_values=values,
        note="resumed",
    )
    return Turn("summary", pending, "resume", balance_cents=ctx.balance_cents)


def _agree(ctx: _Context, state: NegotiationState) -> Turn:
    """The debtor said yes to the summary they just read: store the plan, if still valid."""
    pending = state.pending
    assert pending is not None  # noqa: S101 - callers check
    if engine.violations(ctx.balance_cents, ctx.policy, ctx.today, pending):
        # The day (or the balance) changed since the summary: never store an invalid plan.
        return _resume(ctx, Standing(state, "confirmation", None))
    plan = store_plan(
        ctx.session, ctx.conversation, ctx.account, pending, ctx.policy_name, ctx.policy
    )
    agreed = engine.agree(state)
    _record(
        ctx,
        NegotiationEventKind.CONFIRM,
        Actor.DEBTOR,
        {"state": agreed.to_dict(), "awaiting": None, "proposal": pending.to_dict()},
        plan_id=plan.id,
        note="confirmed the summary",
    )
    link = request_payment_link(ctx.session, ctx.settings, plan)
    return Turn(
        "agreed",
        pending,
        "agree",
        balance_cents=ctx.balance_cents,
        plan=plan,
        payment_link=link,
    )


# --- the agreed plan -------------------------------------------------------------------------


# --- words: the summary and the written confirmation -----------------------------------------
