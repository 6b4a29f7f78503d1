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
- A debtor who cannot meet even the most lenient plan gets a hardship review: an escalation
  (reason `hardship`, with what they said they can pay) and collection paused, so no more offers.

Texts for the chat live in `actions/texts.py`; the summary and the written confirmation are here
because they are part of the record (the confirmation is what the debtor agreed to).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from parley import negotiation as engine
from parley.escalations import negotiation_so_far, open_escalation, pause_collection
from parley.models import (
    Account,
    AuditEvent,
    Conversation,
    Installment,
    NegotiationEvent,
    PaymentPlan,
    utcnow,
)
from parley.money import format_cents
from parley.negotiation import Decision, NegotiationState, Proposal
from parley.policies import DEFAULT_POLICY, Policy, get_policy, policy_record
from parley.terms import DebtorOffer, parse_offer

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
    "ask_terms",  # the debtor's words held no terms: ask what they can pay
    "settled",  # nothing is owed
    "help",  # nothing to negotiate about in this turn
]

# Plans still in force; an agreed plan is recalled instead of negotiated again.
LIVE_PLAN_STATUSES: Final = ("agreed", "active")
# US debtors; used only when neither the account nor its ZIP gives a zone.
FALLBACK_ZONE: Final = "America/New_York"
# Up to this many payments a summary lists every date; longer plans are shown as runs.
LIST_EVERY_PAYMENT: Final = 6
_SPOKEN: Final[dict[str, str]] = {
    "weekly": "weekly",
    "biweekly": "every two weeks",
    "monthly": "monthly",
}
_EVENT_KIND: Final[dict[str, str]] = {
    "offer": "offer",
    "accept": "accept",
    "counter": "counter",
    "hardship": "escalate",
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

    @property
    def negotiating(self) -> bool:
        """Whether the debtor's next yes / no / figures belong to the negotiation."""
        return self.kind in ("offer", "summary", "ask_terms")


@dataclass(frozen=True)
class Standing:
    """Where an account's negotiation stands, read back from its events."""

    state: NegotiationState
    awaiting: Awaiting | None
    event_id: int | None
    conversation_id: str | None = None


@dataclass(frozen=True)
class _Context:
    session: Session
    conversation: Conversation
    account: Account
    policy_name: str
    policy: Policy
    today: date
    balance_cents: int


# --- the debtor's calendar and policy ------------------------------------------------------


def debtor_zone(account: Account) -> str:
    """The account's zone, else its ZIP's (the westernmost when a ZIP spans several, so "today"
    is never a date the debtor has not reached), else `FALLBACK_ZONE`."""
    candidates = [account.timezone] if account.timezone else list(account.zip_timezones or [])
    now = utcnow()
    valid: list[tuple[float, str]] = []
    for name in candidates:
        try:
            offset = now.astimezone(ZoneInfo(str(name))).utcoffset()
        except (ZoneInfoNotFoundError, ValueError):
            continue
        valid.append((offset.total_seconds() if offset else 0.0, str(name)))
    return min(valid)[1] if valid else FALLBACK_ZONE


def debtor_today(account: Account, now: datetime | None = None) -> date:
    """Today's date where the debtor is: due dates are calendar dates in their zone."""
    return (now or utcnow()).astimezone(ZoneInfo(debtor_zone(account))).date()


def policy_for(account: Account) -> tuple[str, Policy]:
    name = account.policy or DEFAULT_POLICY
    return name, get_policy(name)


# --- reading and writing the record ----------------------------------------------------------


def standing(session: Session, account: Account) -> Standing:
    """The state stored with the account's latest stateful event (a fresh start if none)."""
    event = session.scalars(
        select(NegotiationEvent)
        .where(NegotiationEvent.account_id == account.id)
        .order_by(NegotiationEvent.id.desc())
        .limit(1)
    ).first()
    if event is None or "state" not in event.terms:
        return Standing(NegotiationState(), None, None)
    awaiting = event.terms.get("awaiting")
    return Standing(
        NegotiationState.from_dict(event.terms["state"]),
        awaiting if awaiting in ("choice", "confirmation") else None,
        event.id,
        event.conversation_id,
    )


def live_plan(session: Session, account: Account) -> PaymentPlan | None:
    """The plan in force on the account, if one was agreed."""
    return session.scalars(
        select(PaymentPlan)
        .where(PaymentPlan.account_id == account.id, PaymentPlan.status.in_(LIVE_PLAN_STATUSES))
        .order_by(PaymentPlan.id.desc())
        .limit(1)
    ).first()


def _record(
    ctx: _Context,
    kind: str,
    actor: str,
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


def _record_debtor(ctx: _Context, kind: str, said: str, offer: DebtorOffer | None = None) -> None:
    """The debtor's side: a counteroffer (with the terms read from their words) or a decline.
    `said` is the message as stored by the gateway, already redacted."""
    terms = {"offer": _offer_terms(offer)} if offer is not None else {}
    _record(ctx, kind, "debtor", terms, note=said[:500] or None)


def _record_decision(
    ctx: _Context, decision: Decision, awaiting: Awaiting | None, note: str | None = None
) -> None:
    terms: dict[str, Any] = {"state": decision.state.to_dict(), "awaiting": awaiting}
    if decision.proposal is not None:
        terms["proposal"] = decision.proposal.to_dict()
    _record(
        ctx,
        _EVENT_KIND[decision.action],
        "bot",
        terms,
        policy_values=decision.policy_values,
        limit=decision.limit,
        note=note or decision.explanation or None,
    )


# --- one debtor turn -------------------------------------------------------------------------


def take_turn(
    session: Session,
    conversation: Conversation,
    account: Account,
    move: Move,
    said: str,
    right_after_summary: bool,
    now: datetime | None = None,
) -> Turn:
    """Answer one debtor turn of the negotiation and record it.

    `right_after_summary` must be true only when the bot's previous turn in this conversation
    was this negotiation: a "yes" agrees only to a summary the debtor has just read.
    """
    if account.collection_paused:
        return Turn("paused")
    balance = account.balance_cents
    if balance < 1:
        return Turn("settled", balance_cents=balance)
    plan = live_plan(session, account)
    if plan is not None:
        return Turn("recall", plan=plan, balance_cents=balance)
    name, policy = policy_for(account)
    ctx = _Context(
        session, conversation, account, name, policy, debtor_today(account, now), balance
    )
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
            return Turn("help")
        _record_debtor(ctx, "decline", said)
        return _show(ctx, engine.decline(balance, policy, ctx.today, state), said)

    if move == "settlement":
        _record_debtor(ctx, "request", said)
        return _show(ctx, engine.ask_settlement(balance, policy, ctx.today, state), said)

    if move == "options":
        if pending is not None:
            return _resume(ctx, now_standing)
        return _open(ctx, state)

    offer = parse_offer(said, ctx.today)
    if move == "pay_in_full":
        if offer is None or not offer.lump_sum:
            offer = DebtorOffer(lump_sum=True, first_date=offer.first_date if offer else None)
        return _consider(ctx, state, offer, said)
    if move == "plan":
        if offer is not None and not offer.lump_sum:
            return _consider(ctx, state, offer, said)
        if pending is not None and pending.kind == "installments":
            return _resume(ctx, now_standing)
        _record_debtor(ctx, "request", said)
        # Asking for a plan declines payment in full, wherever the ladder had got to.
        start = NegotiationState("full_offered", state.settlement_round, None)
        return _show(ctx, engine.decline(balance, policy, ctx.today, start), said)
    # offer / inform: terms in the debtor's words
    if offer is not None:
        return _consider(ctx, state, offer, said)
    if move == "inform" and pending is not None:
        return _resume(ctx, now_standing)
    return Turn("ask_terms", balance_cents=balance)


def _open(ctx: _Context, state: NegotiationState) -> Turn:
    decision = engine.open_negotiation(ctx.balance_cents, ctx.policy, ctx.today, state)
    _record_decision(ctx, decision, "choice")
    return Turn("offer", decision.proposal, "offer", balance_cents=ctx.balance_cents)


def _consider(ctx: _Context, state: NegotiationState, offer: DebtorOffer, said: str) -> Turn:
    _record_debtor(ctx, "counteroffer", said, offer)
    decision = engine.consider_offer(ctx.balance_cents, ctx.policy, ctx.today, state, offer)
    return _show(ctx, decision, said)


def _show(ctx: _Context, decision: Decision, said: str) -> Turn:
    """Record the engine's decision and lay it out: a summary to confirm, or hardship."""
    if decision.action == "hardship":
        return _hardship(ctx, decision, said)
    _record_decision(ctx, decision, "confirmation")
    return Turn(
        "summary",
        decision.proposal,
        decision.action,
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
        "offer",
        "bot",
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
        "confirm",
        "debtor",
        {"state": agreed.to_dict(), "awaiting": None, "proposal": pending.to_dict()},
        plan_id=plan.id,
        note="confirmed the summary",
    )
    link = request_payment_link(ctx.session, plan)
    return Turn(
        "agreed",
        pending,
        "agree",
        balance_cents=ctx.balance_cents,
        plan=plan,
        payment_link=link,
    )


def _hardship(ctx: _Context, decision: Decision, said: str) -> Turn:
    """Offer a hardship review: escalate with what the debtor can pay, and stop collection."""
    _record_decision(ctx, decision, None)
    can_pay = decision.policy_values.get("debtor_can_pay")
    summary = hardship_summary(ctx, decision, said, can_pay)
    open_escalation(ctx.session, ctx.conversation, "hardship", "negotiation", summary)
    pause_collection(ctx.account, "hardship")
    return Turn(
        "hardship",
        decision.proposal,
        "hardship",
        decision.explanation,
        balance_cents=ctx.balance_cents,
    )


def hardship_summary(
    ctx: _Context, decision: Decision, said: str, can_pay: dict[str, Any] | None
) -> str:
    """The agent's view: what the debtor can pay, which limit it missed, what came before."""
    parts = [
        "Reason: hardship (the debtor cannot meet the most lenient plan the policy allows).",
        f"Account {ctx.account.account_ref}; balance {format_cents(ctx.balance_cents)}; "
        f"policy {ctx.policy_name}.",
    ]
    if can_pay:
        parts.append(f"The debtor said they can pay {describe_can_pay(can_pay)}.")
    if said.strip():
        parts.append(f'Their words: "{said.strip()[:300]}".')
    if decision.explanation:
        parts.append(f"Limit: {decision.limit}. {decision.explanation}")
    history = negotiation_so_far(ctx.session, ctx.conversation.id, limit=6)
    if history:
        parts.append(f"Negotiation so far: {history}.")
    parts.append("Collection is paused.")
    return " ".join(parts)


def describe_can_pay(can_pay: dict[str, Any]) -> str:
    """`debtor_can_pay` from the engine in words, e.g. "$20.00 monthly after $50.00 down"."""
    amount = can_pay.get("amount_cents")
    frequency = can_pay.get("frequency")
    down = can_pay.get("down_payment_cents")
    text = format_cents(int(amount)) if isinstance(amount, int) else "an unstated amount"
    if isinstance(frequency, str):
        text += f" {_SPOKEN.get(frequency, frequency)}"
    if isinstance(down, int) and down:
        text += f" after {format_cents(down)} down"
    return text


# --- the agreed plan -------------------------------------------------------------------------


def store_plan(
    session: Session,
    conversation: Conversation,
    account: Account,
    proposal: Proposal,
    policy_name: str,
    policy: Policy,
) -> PaymentPlan:
    """Store an agreed proposal with its schedule; installments add up to the total exactly."""
    plan = PaymentPlan(
        account_id=account.id,
        conversation_id=conversation.id,
        kind=proposal.kind,
        status="agreed",
        total_cents=proposal.total_cents,
        balance_at_agreement_cents=account.balance_cents,
        frequency=proposal.frequency,
        policy_name=policy_name,
        policy_values=policy_record(policy),
        timezone=debtor_zone(account),
        agreed_at=utcnow(),
    )
    session.add(plan)
    session.flush()
    for sequence, payment in enumerate(proposal.payments, start=1):
        session.add(
            Installment(
                plan_id=plan.id,
                sequence=sequence,
                due_date=payment.due,
                amount_cents=payment.amount_cents,
            )
        )
    session.add(
        AuditEvent(
            kind="plan.agreed",
            conversation_id=conversation.id,
            account_id=account.id,
            data={"plan_id": plan.id, "kind": plan.kind, "total_cents": plan.total_cents},
        )
    )
    session.flush()
    session.refresh(plan)
    return plan


def request_payment_link(session: Session, plan: PaymentPlan) -> str | None:
    """Create the agreed plan's payment link (SPEC §8) and return the message that carries it.

    The link is said in the same turn as the written confirmation, on either channel (an SMS
    turn's replies go out as its TwiML). If Stripe cannot be reached the plan still stands:
    the failure is recorded and None returned, so the chat's "a link will follow" stays true
    for a person to follow up from the console.
    """
    from parley import payments  # late: payments imports escalations, outbound, ledger

    session.add(
        AuditEvent(
            kind="plan.payment_link_requested",
            conversation_id=plan.conversation_id,
            account_id=plan.account_id,
            data={"plan_id": plan.id},
        )
    )
    try:
        with session.begin_nested():
            link = payments.create_link(session, plan)
    except Exception as exc:  # Stripe down or refusing: keep the agreement, record why
        session.add(
            AuditEvent(
                kind="payment.link_failed",
                conversation_id=plan.conversation_id,
                account_id=plan.account_id,
                data={"plan_id": plan.id, "error": type(exc).__name__},
            )
        )
        return None
    return payments.link_text(link, plan)


def plan_proposal(plan: PaymentPlan) -> Proposal:
    """A stored plan as a proposal, to show it with the same words as before agreement."""
    return Proposal.from_dict(
        {
            "kind": plan.kind,
            "frequency": plan.frequency,
            "payments": [
                {"due": i.due_date.isoformat(), "amount_cents": i.amount_cents}
                for i in plan.installments
            ],
        }
    )


# --- words: the summary and the written confirmation -----------------------------------------


def short_date(day: date) -> str:
    """ "Mar 5, 2025": unambiguous, short enough for SMS."""
    return f"{day:%b} {day.day}, {day.year}"


def _runs(proposal: Proposal) -> list[str]:
    """Consecutive equal payments as one line each ("$100.00 monthly, Mar 5, 2025 to ...")."""
    lines: list[str] = []
    payments = proposal.payments
    spoken = _SPOKEN.get(proposal.frequency or "", "")
    start = 0
    while start < len(payments):
        end = start
        while end + 1 < len(payments) and (
            payments[end + 1].amount_cents == payments[start].amount_cents
        ):
            end += 1
        amount = format_cents(payments[start].amount_cents)
        if end == start:
            lines.append(f"{amount} on {short_date(payments[start].due)}")
        else:
            lines.append(
                f"{end - start + 1} x {amount} {spoken}, {short_date(payments[start].due)} "
                f"to {short_date(payments[end].due)}"
            )
        start = end + 1
    return lines


def summary_lines(proposal: Proposal, balance_cents: int) -> list[str]:
    """Every amount and date (or run of equal payments), the count and the total."""
    first = proposal.payments[0]
    total = format_cents(proposal.total_cents)
    if proposal.kind == "full":
        return [
            f"Pay in full: {format_cents(first.amount_cents)} on {short_date(first.due)}.",
            f"Total: {total} (1 payment).",
        ]
    if proposal.kind == "settlement":
        return [
            f"One-time settlement: {format_cents(first.amount_cents)} on "
            f"{short_date(first.due)}, instead of the full {format_cents(balance_cents)}.",
            f"Total: {total} (1 payment).",
        ]
    spoken = _SPOKEN.get(proposal.frequency or "", "")
    header = f"{proposal.count} payments {spoken}:".replace("  ", " ")
    if proposal.count <= LIST_EVERY_PAYMENT:
        body = [f"{short_date(p.due)}: {format_cents(p.amount_cents)}" for p in proposal.payments]
    else:
        body = _runs(proposal)
    return [header, *body, f"Total: {total} in {proposal.count} payments."]


def summary_text(proposal: Proposal, balance_cents: int) -> str:
    return "\n".join(summary_lines(proposal, balance_cents))


def confirmation_text(plan: PaymentPlan) -> str:
    """The written confirmation of an agreed plan: what, when, how many, how much in total."""
    proposal = plan_proposal(plan)
    lines = [
        f"Confirmed (plan #{plan.id}, agreed {short_date(_agreed_day(plan))}):",
        *summary_lines(proposal, plan.balance_at_agreement_cents),
    ]
    if plan.kind == "settlement":
        lines.append("Once it is paid, the account is settled for this amount.")
    return "\n".join(lines)


def _agreed_day(plan: PaymentPlan) -> date:
    agreed = plan.agreed_at or utcnow()
    zone = plan.timezone or FALLBACK_ZONE
    try:
        return agreed.astimezone(ZoneInfo(zone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        return agreed.date()
