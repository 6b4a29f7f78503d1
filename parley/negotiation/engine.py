"""The negotiation engine (SPEC §6): the offer ladder, counteroffers and the policy check.

Pure and deterministic: every function takes the balance, the account's policy, today's date in
the debtor's zone and the negotiation state, and returns a `Decision`. Nothing here touches the
database or the dialogue; the caller stores `Decision.state` and records `policy_values`.
Rules (the ladder, the closeness metric, the remainder rule, hardship) are in docs/negotiation.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Literal, cast, get_args

from parley.core.dates import long_date
from parley.core.money import format_cents
from parley.negotiation.policies import Policy, policy_record
from parley.negotiation.schedules import (
    FREQUENCIES,
    PER_YEAR,
    SPOKEN,
    Frequency,
    max_payments_within,
    schedule,
    split_by_amount,
    split_total,
)
from parley.negotiation.terms import DebtorOffer

Kind = Literal["full", "settlement", "installments"]
Stage = Literal[
    "start", "full_offered", "plan_offered", "settlement_offered", "hardship", "proposed", "agreed"
]
Action = Literal["offer", "accept", "counter", "hardship"]

# The default plan prefers the least frequent schedule the policy allows.
_DEFAULT_FREQUENCY_ORDER: tuple[Frequency, ...] = ("monthly", "biweekly", "weekly")


@dataclass(frozen=True)
class Payment:
    """One payment due on a calendar date in the debtor's zone."""

    due: date
    amount_cents: int


@dataclass(frozen=True)
class Proposal:
    """A concrete arrangement: every payment with its date, so nothing is implied."""

    kind: Kind
    payments: tuple[Payment, ...]
    frequency: Frequency | None = None

    @property
    def total_cents(self) -> int:
        return sum(p.amount_cents for p in self.payments)

    @property
    def first_due(self) -> date:
        return self.payments[0].due

    @property
    def last_due(self) -> date:
        return self.payments[-1].due

    @property
    def count(self) -> int:
        return len(self.payments)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "frequency": self.frequency,
            "total_cents": self.total_cents,
            "payments": [
                {"due": p.due.isoformat(), "amount_cents": p.amount_cents} for p in self.payments
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Proposal:
        kind = data["kind"]
        frequency = data.get("frequency")
        if kind not in ("full", "settlement", "installments"):
            raise ValueError(f"unknown proposal kind {kind!r}")
        if frequency is not None and frequency not in FREQUENCIES:
            raise ValueError(f"unknown frequency {frequency!r}")
        payments = tuple(
            Payment(date.fromisoformat(p["due"]), int(p["amount_cents"])) for p in data["payments"]
        )
        return cls(cast(Kind, kind), payments, cast("Frequency | None", frequency))


@dataclass(frozen=True)
class NegotiationState:
    """Where the negotiation stands; stored between turns and conversations as JSON."""

    stage: Stage = "start"
    settlement_round: int = 0
    pending: Proposal | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "settlement_round": self.settlement_round,
            "pending": self.pending.to_dict() if self.pending else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> NegotiationState:
        if not data:
            return cls()
        stage = data.get("stage", "start")
        if stage not in get_args(Stage):
            raise ValueError(f"unknown negotiation stage {stage!r}")
        pending = data.get("pending")
        return cls(
            stage=stage,
            settlement_round=int(data.get("settlement_round", 0)),
            pending=Proposal.from_dict(pending) if pending else None,
        )


@dataclass(frozen=True)
class Decision:
    """What the assistant does next, the limit that drove it, and the values behind it."""

    action: Action
    proposal: Proposal | None
    limit: str | None
    explanation: str
    state: NegotiationState
    policy_values: dict[str, Any]


# --- small helpers ----------------------------------------------------------------------------


def _percent_up(balance_cents: int, percent: int) -> int:
    """`percent` of the balance rounded UP to the cent, so a limit is never undercut."""
    return -(-balance_cents * percent // 100)


def down_payment_minimum(balance_cents: int, policy: Policy) -> int:
    return _percent_up(balance_cents, policy.min_down_payment_percent)


def settlement_percent(policy: Policy, round_number: int) -> int:
    """Percent offered in settlement round `round_number` (1 = opening), never below the floor."""
    s = policy.settlement
    return max(s.opening_percent - s.step_percent * (round_number - 1), s.floor_percent)


def settlement_floor_cents(balance_cents: int, policy: Policy) -> int:
    return min(balance_cents, _percent_up(balance_cents, policy.settlement.floor_percent))


def _check_balance(balance_cents: int) -> None:
    if balance_cents < 1:
        raise ValueError("there is nothing to negotiate on a balance below one cent")


# --- the policy check -------------------------------------------------------------------------


def violations(balance_cents: int, policy: Policy, today: date, proposal: Proposal) -> list[str]:
    """Keys of the policy (or structural rules) the proposal breaks, most important first.

    Structural keys that are not policy settings: "payments" (none, or an amount below one cent),
    "schedule" (dates not on the stated frequency), "balance" (a plan or full payment that does
    not add up to the balance, or a settlement above it), "count" (a one-payment plan, or a
    several-payment settlement).
    """
    found: list[str] = []

    def add(key: str) -> None:
        if key not in found:
            found.append(key)

    pays = proposal.payments
    if not pays or any(p.amount_cents < 1 for p in pays):
        return ["payments"]
    total = proposal.total_cents
    first_deadline = today + timedelta(days=policy.first_payment_within_days)

    if proposal.kind == "full":
        if len(pays) != 1:
            add("count")
        if total != balance_cents:
            add("balance")
        if not today <= pays[0].due <= first_deadline:
            add("first_payment_within_days")
        return found

    if proposal.kind == "settlement":
        s = policy.settlement
        if not s.enabled:
            add("settlement.enabled")
        if len(pays) != 1:
            add("count")
        if total > balance_cents:
            add("balance")
        if total < settlement_floor_cents(balance_cents, policy):
            add("settlement.floor_percent")
        if not today <= pays[0].due <= today + timedelta(days=s.pay_within_days):
            add("settlement.pay_within_days")
        return found

    if total != balance_cents:
        add("balance")
    if len(pays) < 2:
        add("count")
    if proposal.frequency is None or proposal.frequency not in policy.frequencies:
        add("frequencies")
    elif [p.due for p in pays] != schedule(pays[0].due, proposal.frequency, len(pays)):
        add("schedule")
    if len(pays) > policy.max_installments:
        add("max_installments")
    if not today <= pays[0].due <= first_deadline:
        add("first_payment_within_days")
    if (pays[-1].due - pays[0].due).days > policy.max_plan_days:
        add("max_plan_days")
    # The remainder rule: only the final payment may fall below min_installment.
    if any(p.amount_cents < policy.min_installment_cents for p in pays[:-1]):
        add("min_installment")
    if pays[0].amount_cents < down_payment_minimum(balance_cents, policy):
        add("min_down_payment_percent")
    return found


def is_feasible(balance_cents: int, policy: Policy, today: date, proposal: Proposal) -> bool:
    return not violations(balance_cents, policy, today, proposal)


# --- building proposals ----------------------------------------------------------------------


def full_payment(balance_cents: int, due: date) -> Proposal:
    return Proposal("full", (Payment(due, balance_cents),))


def settlement_offer(amount_cents: int, due: date) -> Proposal:
    return Proposal("settlement", (Payment(due, amount_cents),))


def plan_from_amounts(first: date, frequency: Frequency, amounts: list[int]) -> Proposal:
    """An installment plan on `frequency` from `first`; one amount collapses to a full payment."""
    if len(amounts) == 1:
        return Proposal("full", (Payment(first, amounts[0]),))
    dates = schedule(first, frequency, len(amounts))
    return Proposal(
        "installments",
        tuple(Payment(d, a) for d, a in zip(dates, amounts, strict=True)),
        frequency,
    )


def count_plan(
    balance_cents: int,
    policy: Policy,
    first: date,
    frequency: Frequency,
    count: int,
    down_cents: int | None = None,
) -> Proposal:
    """`count` equal payments (after an optional down payment); the last absorbs rounding.

    Without a stated down payment, a first payment below `min_down_payment_percent` is raised to
    that minimum and the rest is split equally over the remaining payments.
    """
    if down_cents:
        return plan_from_amounts(
            first, frequency, [down_cents, *split_total(balance_cents - down_cents, count)]
        )
    amounts = split_total(balance_cents, count)
    minimum = down_payment_minimum(balance_cents, policy)
    if count > 1 and amounts[0] < minimum < balance_cents:
        amounts = [minimum, *split_total(balance_cents - minimum, count - 1)]
    return plan_from_amounts(first, frequency, amounts)


def amount_plan(
    balance_cents: int,
    first: date,
    frequency: Frequency,
    amount_cents: int,
    down_cents: int | None = None,
) -> Proposal:
    """Payments of `amount_cents` (after an optional down payment) until paid; remainder last."""
    rest = balance_cents - (down_cents or 0)
    amounts = ([down_cents] if down_cents else []) + split_by_amount(rest, amount_cents)
    return plan_from_amounts(first, frequency, amounts)


def _slots(policy: Policy, first: date, frequency: Frequency) -> int:
    """Most payments a plan from `first` may have: max_installments and max_plan_days."""
    fit = max_payments_within(first, frequency, policy.max_plan_days)
    return min(policy.max_installments, fit)


def _count_bound(balance_cents: int, policy: Policy, first: date, frequency: Frequency) -> int:
    """No feasible plan has more payments than this (keeps the searches small)."""
    by_amount = balance_cents // policy.min_installment_cents + 1
    return max(1, min(_slots(policy, first, frequency), by_amount))


def feasible_counts(
    balance_cents: int,
    policy: Policy,
    today: date,
    first: date,
    frequency: Frequency,
    down_cents: int | None = None,
) -> list[int]:
    """Every count for which `count_plan` is inside the policy (regular payments if a down)."""
    bound = _count_bound(balance_cents, policy, first, frequency)
    return [
        n
        for n in range(1, bound + 1)
        if is_feasible(
            balance_cents,
            policy,
            today,
            count_plan(balance_cents, policy, first, frequency, n, down_cents),
        )
    ]


def lowest_amount(
    balance_cents: int,
    policy: Policy,
    first: date,
    frequency: Frequency,
    down_cents: int | None = None,
) -> tuple[int, str] | None:
    """The smallest feasible per-installment amount for `amount_plan`, and the limit that sets it.

    Feasible amounts form the interval [lowest, rest of the balance]: a larger amount means fewer
    payments, which only relaxes the count and date limits. None when no amount works at all.
    """
    rest = balance_cents - (down_cents or 0)
    regular = _slots(policy, first, frequency) - (1 if down_cents else 0)
    if rest < 1 or regular < 1:
        return None
    by_count = -(-rest // regular)
    limit = (
        "max_installments"
        if policy.max_installments <= max_payments_within(first, frequency, policy.max_plan_days)
        else "max_plan_days"
    )
    if by_count >= rest:
        return rest, limit
    candidates = [(by_count, limit), (policy.min_installment_cents, "min_installment")]
    if not down_cents:
        candidates.append((down_payment_minimum(balance_cents, policy), "min_down_payment_percent"))
    amount, limit = max(candidates, key=lambda c: c[0])
    return min(amount, rest), limit


def default_plan(balance_cents: int, policy: Policy, today: date) -> Proposal | None:
    """Ladder rung 2: the fewest payments (at least two) from today, least frequent first."""
    for frequency in _DEFAULT_FREQUENCY_ORDER:
        if frequency not in policy.frequencies:
            continue
        for count in feasible_counts(balance_cents, policy, today, today, frequency):
            if count >= 2:
                return count_plan(balance_cents, policy, today, frequency, count)
    return None


def most_lenient_plan(balance_cents: int, policy: Policy, today: date) -> Proposal | None:
    """The easiest plan to keep that the policy allows: the smallest payment each month, from
    the latest allowed start (monthly if allowed, else the least frequent schedule). Offered
    before a hardship review (SPEC §6)."""
    start = today + timedelta(days=policy.first_payment_within_days)
    for frequency in _DEFAULT_FREQUENCY_ORDER:
        if frequency not in policy.frequencies:
            continue
        lowest = lowest_amount(balance_cents, policy, start, frequency)
        if lowest is None:
            continue
        plan = amount_plan(balance_cents, start, frequency, lowest[0])
        if is_feasible(balance_cents, policy, today, plan):
            return plan
    return None


def nearest_frequency(wanted: Frequency, allowed: tuple[Frequency, ...]) -> Frequency:
    """`wanted` if allowed, else the allowed one nearest in period; ties go to the longer."""
    if wanted in allowed:
        return wanted
    rank = FREQUENCIES.index(wanted)
    return min(allowed, key=lambda f: (abs(FREQUENCIES.index(f) - rank), -FREQUENCIES.index(f)))


def frequencies_by_closeness(wanted: Frequency, allowed: tuple[Frequency, ...]) -> list[Frequency]:
    rank = FREQUENCIES.index(wanted)
    return sorted(allowed, key=lambda f: (abs(FREQUENCIES.index(f) - rank), -FREQUENCIES.index(f)))


def convert_amount(amount_cents: int, source: Frequency, target: Frequency) -> int:
    """The same yearly budget at another frequency, rounded DOWN (never ask for more)."""
    return amount_cents * PER_YEAR[source] // PER_YEAR[target]


def clamp_date(day: date, earliest: date, latest: date) -> date:
    return min(max(day, earliest), latest)


# --- explanations -----------------------------------------------------------------------------


def explain(limit: str | None, balance_cents: int, policy: Policy, today: date) -> str:
    """The limit in plain words for the debtor; "" when nothing was limited."""
    s = policy.settlement
    if limit is None:
        return ""
    if limit == "min_installment":
        return f"The smallest payment I can set up is {format_cents(policy.min_installment_cents)}."
    if limit == "max_installments":
        return f"I can split the balance into at most {policy.max_installments} payments."
    if limit == "max_plan_days":
        return f"A plan can run for at most {policy.max_plan_days} days from the first payment."
    if limit == "first_payment_within_days":
        deadline = today + timedelta(days=policy.first_payment_within_days)
        return f"The first payment needs to be made by {long_date(deadline)}."
    if limit == "min_down_payment_percent":
        minimum = format_cents(down_payment_minimum(balance_cents, policy))
        return (
            f"The first payment needs to be at least {policy.min_down_payment_percent}% "
            f"of the balance ({minimum})."
        )
    if limit == "frequencies":
        spoken = [SPOKEN[f] for f in FREQUENCIES if f in policy.frequencies]
        listed = spoken[0] if len(spoken) == 1 else ", ".join(spoken[:-1]) + " or " + spoken[-1]
        return f"I can set up payments {listed}."
    if limit == "settlement.enabled":
        return "I'm not able to offer a reduced settlement on this account."
    if limit == "settlement.floor_percent":
        floor = format_cents(settlement_floor_cents(balance_cents, policy))
        return f"The lowest one-time settlement I can offer is {floor}."
    if limit == "settlement.pay_within_days":
        deadline = today + timedelta(days=s.pay_within_days)
        return f"A settlement needs to be paid by {long_date(deadline)}."
    if limit == "hardship":
        return "I'm not able to offer anything further on this account myself."
    return f"That is outside what I can agree to ({limit})."


def _values(
    balance_cents: int, policy: Policy, limit: str | None, extra: dict[str, Any]
) -> dict[str, Any]:
    values: dict[str, Any] = {"balance_cents": balance_cents, "policy": policy_record(policy)}
    if limit is not None:
        values["limit"] = limit
    values.update(extra)
    return values


def _decide(
    action: Action,
    proposal: Proposal | None,
    limit: str | None,
    state: NegotiationState,
    balance_cents: int,
    policy: Policy,
    today: date,
    explanation: str | None = None,
    **extra: Any,
) -> Decision:
    if proposal is not None:
        broken = violations(balance_cents, policy, today, proposal)
        if broken:  # pragma: no cover - a bug, never a debtor's doing
            raise AssertionError(f"engine built a proposal outside the policy: {broken}")
    return Decision(
        action=action,
        proposal=proposal,
        limit=limit,
        explanation=explain(limit, balance_cents, policy, today)
        if explanation is None
        else explanation,
        state=state,
        policy_values=_values(balance_cents, policy, limit, extra),
    )


# --- the ladder --------------------------------------------------------------------------------


def open_negotiation(
    balance_cents: int, policy: Policy, today: date, state: NegotiationState
) -> Decision:
    """Rung 1: payment in full, due today. A negotiation that ended in hardship stays there."""
    _check_balance(balance_cents)
    if state.stage == "hardship":
        return _hardship(balance_cents, policy, today, state, "hardship")
    offer = full_payment(balance_cents, today)
    new_state = NegotiationState("full_offered", 0, offer)
    return _decide("offer", offer, None, new_state, balance_cents, policy, today)


def decline(balance_cents: int, policy: Policy, today: date, state: NegotiationState) -> Decision:
    """The debtor cannot do what is on the table: move to the next rung of the ladder.

    full -> default installment plan -> settlement rounds (if enabled) down to the floor ->
    hardship review. A declined counter continues from where the ladder had got to.
    """
    _check_balance(balance_cents)
    kind = state.pending.kind if state.pending else None
    if state.stage == "hardship":
        return _hardship(balance_cents, policy, today, state, "hardship")
    if state.stage in ("start", "full_offered") or (
        state.stage in ("proposed", "agreed") and kind == "full" and state.settlement_round == 0
    ):
        plan = default_plan(balance_cents, policy, today)
        if plan is not None:
            new_state = NegotiationState("plan_offered", state.settlement_round, plan)
            return _decide("offer", plan, None, new_state, balance_cents, policy, today)
    return _next_settlement(balance_cents, policy, today, state, on_floor="hardship")


def ask_settlement(
    balance_cents: int, policy: Policy, today: date, state: NegotiationState
) -> Decision:
    """The debtor asks for a discount: the next settlement round, or a plan if disabled."""
    _check_balance(balance_cents)
    if state.stage == "hardship":
        return _hardship(balance_cents, policy, today, state, "hardship")
    if not policy.settlement.enabled:
        pending = state.pending
        plan = (
            pending
            if pending is not None
            and pending.kind == "installments"
            and is_feasible(balance_cents, policy, today, pending)
            else default_plan(balance_cents, policy, today)
        )
        if plan is None:
            return _hardship(balance_cents, policy, today, state, "settlement.enabled")
        new_state = NegotiationState("plan_offered", state.settlement_round, plan)
        return _decide("offer", plan, "settlement.enabled", new_state, balance_cents, policy, today)
    return _next_settlement(balance_cents, policy, today, state, on_floor="counter")


def _next_settlement(
    balance_cents: int,
    policy: Policy,
    today: date,
    state: NegotiationState,
    on_floor: Literal["hardship", "counter"],
) -> Decision:
    s = policy.settlement
    if not s.enabled:
        return _hardship(balance_cents, policy, today, state, "settlement.enabled")
    current = state.settlement_round
    pending = state.pending
    if pending is not None and pending.kind == "settlement":
        # Declining a settlement (ours or the debtor's own bid): the next one must be lower.
        while True:
            percent = settlement_percent(policy, current + 1)
            if _percent_up(balance_cents, percent) < pending.total_cents:
                break
            current += 1
            if percent <= s.floor_percent:
                break
    if current >= 1 and settlement_percent(policy, current) <= s.floor_percent:
        if on_floor == "hardship":
            return _hardship(balance_cents, policy, today, state, "settlement.floor_percent")
        # Asked for more discount at the floor: repeat the floor offer and say why.
        offer = settlement_offer(settlement_floor_cents(balance_cents, policy), today)
        new_state = NegotiationState("settlement_offered", current, offer)
        return _decide(
            "counter",
            offer,
            "settlement.floor_percent",
            new_state,
            balance_cents,
            policy,
            today,
            percent=s.floor_percent,
        )
    round_number = current + 1
    percent = settlement_percent(policy, round_number)
    offer = settlement_offer(_percent_up(balance_cents, percent), today)
    new_state = NegotiationState("settlement_offered", round_number, offer)
    limit = "settlement.floor_percent" if percent == s.floor_percent else None
    return _decide(
        "offer",
        offer,
        limit,
        new_state,
        balance_cents,
        policy,
        today,
        explanation="",
        percent=percent,
        settlement_round=round_number,
    )


def _hardship(
    balance_cents: int,
    policy: Policy,
    today: date,
    state: NegotiationState,
    limit: str,
    explanation: str | None = None,
    proposal: Proposal | None = None,
    **extra: Any,
) -> Decision:
    new_state = NegotiationState("hardship", state.settlement_round, None)
    return _decide(
        "hardship",
        proposal,
        limit,
        new_state,
        balance_cents,
        policy,
        today,
        explanation=explanation,
        **extra,
    )


def agree(state: NegotiationState) -> NegotiationState:
    """The debtor confirmed the summary of the pending proposal; only then is it agreed."""
    if state.pending is None:
        raise ValueError("nothing is pending confirmation")
    return replace(state, stage="agreed")


# --- counteroffers -----------------------------------------------------------------------------

# Literal plans longer than this are not built: they are infeasible anyway (max_installments).
_LITERAL_CAP = 10_000


def consider_offer(
    balance_cents: int,
    policy: Policy,
    today: date,
    state: NegotiationState,
    offer: DebtorOffer,
) -> Decision:
    """Accept the debtor's terms as stated, or counter with the closest feasible terms.

    Missing terms come from the pending plan (its frequency, first date and count), else the
    defaults: monthly (or the nearest allowed frequency) and a first payment today.
    Dispatch: a lump sum (or an amount with no frequency while no plan is pending) is one
    payment; an amount per period is a budget; a count, a down payment with "the rest", or
    only a frequency is a count plan; only a date moves what is pending.
    """
    _check_balance(balance_cents)
    pending = state.pending if state.pending and state.pending.kind == "installments" else None
    frequency: Frequency = offer.frequency or (pending.frequency if pending else None) or "monthly"
    first = offer.first_date or (pending.first_due if pending else today)
    if offer.down_payment_cents and offer.first_date is None:
        first = today  # "200 now and ..."
    amount_only = offer.amount_cents is not None and offer.frequency is None and pending is None
    if offer.lump_sum or (amount_only and offer.count is None and not offer.down_payment_cents):
        return _lump(balance_cents, policy, today, state, offer.amount_cents, first)
    if offer.amount_cents is not None:
        return _amount(balance_cents, policy, today, state, offer, frequency, first)
    if offer.count is None and offer.down_payment_cents is None:
        if offer.frequency is None:
            return _redate(balance_cents, policy, today, state, first)
        # Only a frequency: keep the pending plan's count, else the fewest payments.
        count = pending.count if pending else None
        return _count(balance_cents, policy, today, state, frequency, first, None, count, "fewest")
    return _count(
        balance_cents,
        policy,
        today,
        state,
        frequency,
        first,
        offer.down_payment_cents or None,
        offer.count,
        "most",
    )


def _result(
    balance_cents: int,
    policy: Policy,
    today: date,
    state: NegotiationState,
    literal: Proposal | None,
    chosen: Proposal,
    limit: str | None,
    **extra: Any,
) -> Decision:
    """Accept when the chosen proposal is exactly the debtor's; counter otherwise."""
    new_state = NegotiationState("proposed", state.settlement_round, chosen)
    if literal is not None and literal == chosen:
        return _decide("accept", chosen, None, new_state, balance_cents, policy, today, **extra)
    if limit is None and literal is not None:
        broken = violations(balance_cents, policy, today, literal)
        limit = broken[0] if broken else None
    return _decide("counter", chosen, limit, new_state, balance_cents, policy, today, **extra)


def _lump(
    balance_cents: int,
    policy: Policy,
    today: date,
    state: NegotiationState,
    amount_cents: int | None,
    due: date,
) -> Decision:
    """One payment. At least the balance is payment in full; less is a settlement bid.

    Closest: the nearest feasible single-payment amount (|amount - offered|), then the nearest
    allowed date. Feasible amounts are the balance, plus floor..balance when settlements are on.
    """
    amount = balance_cents if amount_cents is None else min(amount_cents, balance_cents)
    s = policy.settlement
    full_deadline = today + timedelta(days=policy.first_payment_within_days)
    said = {"debtor_offer": {"amount_cents": amount_cents, "due": due.isoformat()}}
    if amount >= balance_cents:
        literal = full_payment(balance_cents, due)
        chosen = full_payment(balance_cents, clamp_date(due, today, full_deadline))
        return _result(balance_cents, policy, today, state, literal, chosen, None, **said)
    literal = settlement_offer(amount, due)
    if not s.enabled:
        chosen = full_payment(balance_cents, clamp_date(due, today, full_deadline))
        return _result(
            balance_cents, policy, today, state, literal, chosen, "settlement.enabled", **said
        )
    floor = settlement_floor_cents(balance_cents, policy)
    settle_by = today + timedelta(days=s.pay_within_days)
    amount = max(amount, floor)
    if amount >= balance_cents:
        chosen = full_payment(balance_cents, clamp_date(due, today, full_deadline))
    else:
        chosen = settlement_offer(amount, clamp_date(due, today, settle_by))
    return _result(balance_cents, policy, today, state, literal, chosen, None, **said)


def _redate(
    balance_cents: int, policy: Policy, today: date, state: NegotiationState, first: date
) -> Decision:
    """Only a date ("I get paid on the 15th"): move what is pending (or a full payment)."""
    pending = state.pending
    if pending is None or pending.kind == "full":
        return _lump(balance_cents, policy, today, state, None, first)
    if pending.kind == "settlement":
        return _lump(balance_cents, policy, today, state, pending.total_cents, first)
    frequency = pending.frequency or "monthly"
    amounts = [p.amount_cents for p in pending.payments]
    literal = plan_from_amounts(first, frequency, amounts)
    chosen = plan_from_amounts(_first_date(policy, today, first), frequency, amounts)
    if not is_feasible(balance_cents, policy, today, chosen):
        # The old amounts no longer fit from the new date: fall back to the count rules.
        return _count(
            balance_cents, policy, today, state, frequency, first, None, len(amounts), "fewest"
        )
    return _result(balance_cents, policy, today, state, literal, chosen, None)


def _first_date(policy: Policy, today: date, first: date) -> date:
    return clamp_date(first, today, today + timedelta(days=policy.first_payment_within_days))


def _down(balance_cents: int, policy: Policy, down: int | None) -> int | None:
    """A stated down payment raised to what the policy needs of a first payment."""
    if not down:
        return None
    needed = max(down, policy.min_installment_cents, down_payment_minimum(balance_cents, policy))
    return needed if needed < balance_cents else None


def _amount(
    balance_cents: int,
    policy: Policy,
    today: date,
    state: NegotiationState,
    offer: DebtorOffer,
    frequency: Frequency,
    first: date,
) -> Decision:
    """An amount per period is the debtor's budget: never counter with more per payment.

    Closest: the nearest allowed frequency at which their budget (converted, rounded down) can
    pay off the balance; their first date clamped into the window; their down payment raised to
    the policy minimum; then the largest feasible per-installment amount not above the budget.
    If no allowed frequency works within the budget, it is a hardship review.
    """
    amount_cents = offer.amount_cents or 0
    stated_down = offer.down_payment_cents or None
    said: dict[str, Any] = {
        "debtor_can_pay": {
            "amount_cents": amount_cents,
            "frequency": frequency,
            "down_payment_cents": stated_down,
        }
    }
    if amount_cents < 1 or (stated_down is not None and stated_down >= balance_cents):
        return _lump(balance_cents, policy, today, state, stated_down, first)
    rest = balance_cents - (stated_down or 0)
    literal = (
        amount_plan(balance_cents, first, frequency, amount_cents, stated_down)
        if -(-rest // amount_cents) <= _LITERAL_CAP
        else None
    )
    start = _first_date(policy, today, first)
    down = _down(balance_cents, policy, stated_down)
    minimum = down_payment_minimum(balance_cents, policy)
    if down is None and minimum > amount_cents:
        # Their budget may cover the regular payments but not the required first payment.
        down = _down(balance_cents, policy, minimum)
    shortfall: tuple[Frequency, int, str] | None = None
    for candidate in frequencies_by_closeness(frequency, policy.frequencies):
        budget = convert_amount(amount_cents, frequency, candidate)
        lowest = lowest_amount(balance_cents, policy, start, candidate, down)
        if lowest is None:
            continue
        low, low_limit = lowest
        if budget >= low:
            chosen = amount_plan(
                balance_cents, start, candidate, min(budget, balance_cents - (down or 0)), down
            )
            limit = shortfall[2] if shortfall else None
            if limit is None and candidate != frequency:
                limit = "frequencies"
            return _result(balance_cents, policy, today, state, literal, chosen, limit, **said)
        if shortfall is None:
            shortfall = (candidate, low, low_limit)
    if shortfall is None:
        return _hardship(balance_cents, policy, today, state, "max_installments", **said)
    candidate, low, low_limit = shortfall
    smallest = amount_plan(balance_cents, start, candidate, low, down)
    words = (
        f"{explain(low_limit, balance_cents, policy, today)} The smallest "
        f"{SPOKEN[candidate]} payment that would work is {format_cents(low)}."
    )
    return _hardship(
        balance_cents,
        policy,
        today,
        state,
        low_limit,
        explanation=words,
        proposal=smallest,
        **said,
    )


def _count(
    balance_cents: int,
    policy: Policy,
    today: date,
    state: NegotiationState,
    frequency: Frequency,
    first: date,
    stated_down: int | None,
    wanted: int | None,
    unstated: Literal["fewest", "most"],
) -> Decision:
    """A number of payments, a down payment with "the rest", or only a frequency.

    Closest: the nearest allowed frequency, their first date clamped, their down payment raised
    to the policy minimum, then the feasible count nearest to theirs (ties: fewer payments).
    With no count stated: the fewest payments (two or more) for a frequency alone, the most
    payments for "the rest monthly". One payment is payment in full, which is always possible.
    """
    if stated_down is not None and stated_down >= balance_cents:
        return _lump(balance_cents, policy, today, state, None, first)
    literal: Proposal | None = None
    if wanted is not None and 1 <= wanted <= _LITERAL_CAP:
        literal = count_plan(balance_cents, policy, first, frequency, wanted, stated_down)
    start = _first_date(policy, today, first)
    down = _down(balance_cents, policy, stated_down)
    chosen_frequency = nearest_frequency(frequency, policy.frequencies)
    counts = feasible_counts(balance_cents, policy, today, start, chosen_frequency, down)
    if not counts and down is not None:
        down = None  # the down payment itself cannot work: split the whole balance instead
        counts = feasible_counts(balance_cents, policy, today, start, chosen_frequency, down)
    counts = counts or [1]
    if wanted is not None:
        count = min(counts, key=lambda n: (abs(n - wanted), n))
    elif unstated == "most":
        count = max(counts)
    else:
        plans = [n for n in counts if n >= 2]
        count = min(plans) if plans else 1
    chosen = count_plan(balance_cents, policy, start, chosen_frequency, count, down)
    limit: str | None = None
    if wanted is None:
        # Nothing to compare amounts with: the debtor's terms are frequency, date and down.
        if chosen_frequency == frequency and start == first and down == stated_down:
            literal = chosen
        elif chosen_frequency != frequency:
            limit = "frequencies"
        elif start != first:
            limit = "first_payment_within_days"
        else:
            limit = (
                "min_down_payment_percent"
                if down_payment_minimum(balance_cents, policy) > (stated_down or 0)
                else "min_installment"
            )
    elif literal is not None and literal != chosen:
        broken = violations(balance_cents, policy, today, literal)
        limit = broken[0] if broken else None
        if limit in (None, "balance", "count", "payments", "schedule"):
            limit = _count_limit(balance_cents, policy, start, chosen_frequency)
    elif literal is None:
        limit = _count_limit(balance_cents, policy, start, chosen_frequency)
    return _result(balance_cents, policy, today, state, literal, chosen, limit)


def _count_limit(balance_cents: int, policy: Policy, first: date, frequency: Frequency) -> str:
    """Which limit caps the number of payments from `first` at `frequency`."""
    by_days = max_payments_within(first, frequency, policy.max_plan_days)
    by_amount = balance_cents // policy.min_installment_cents
    smallest = min(policy.max_installments, by_days, by_amount)
    if smallest == by_amount:
        return "min_installment"
    if smallest == policy.max_installments:
        return "max_installments"
    return "max_plan_days"
