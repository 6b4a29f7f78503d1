"""Property tests for the negotiation engine over random policies, balances, dates and offers.

Whatever the engine proposes, accepts or counters with is inside the policy; counters are the
closest feasible terms under the metric in docs/negotiation.md (checked by brute force over the
candidate space on small balances); the ladder runs full -> plan -> settlement rounds down to the
floor -> hardship and no further.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley.negotiation.engine import (
    NegotiationState,
    Proposal,
    amount_plan,
    ask_settlement,
    consider_offer,
    convert_amount,
    count_plan,
    decline,
    default_plan,
    down_payment_minimum,
    frequencies_by_closeness,
    full_payment,
    is_feasible,
    nearest_frequency,
    open_negotiation,
    settlement_floor_cents,
    settlement_offer,
    violations,
)
from parley.negotiation.policies import Policy
from parley.negotiation.schedules import FREQUENCIES
from parley.negotiation.terms import DebtorOffer

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SPECIAL_DAYS = [
    date(2024, 2, 29),
    date(2024, 1, 31),
    date(2023, 1, 31),
    date(2024, 12, 31),
    date(2025, 2, 28),
    date(2024, 3, 31),
    date(2024, 8, 31),
]
todays = st.one_of(
    st.sampled_from(SPECIAL_DAYS),
    st.dates(min_value=date(2023, 1, 1), max_value=date(2030, 12, 31)),
)


@st.composite
def policies(draw: st.DrawFn, small: bool = False) -> Policy:
    opening = draw(st.integers(1, 100))
    floor = draw(st.integers(1, opening))
    frequencies = draw(st.lists(st.sampled_from(FREQUENCIES), min_size=1, max_size=3, unique=True))
    min_cents = draw(st.integers(100, 1500) if small else st.integers(1, 10_000))
    raw: dict[str, Any] = {
        "min_installment": f"{min_cents // 100}.{min_cents % 100:02d}",
        "max_installments": draw(st.integers(1, 12 if small else 36)),
        "max_plan_days": draw(st.integers(1, 400 if small else 800)),
        "frequencies": frequencies,
        "first_payment_within_days": draw(st.integers(0, 45)),
        "min_down_payment_percent": draw(st.sampled_from([0, 0, 5, 10, 25, 50, 100])),
        "settlement": {
            "enabled": draw(st.booleans()),
            "opening_percent": opening,
            "floor_percent": floor,
            "step_percent": draw(st.integers(1, 40)),
            "pay_within_days": draw(st.integers(1, 30)),
        },
    }
    return Policy.model_validate(raw)


balances = st.one_of(st.integers(1, 10_000_000), st.integers(1, 10_000))


@st.composite
def offers(draw: st.DrawFn, balance: int, today: date) -> DebtorOffer:
    amount = draw(st.none() | st.integers(1, max(1, balance * 2)) | st.integers(1, 10_000))
    return DebtorOffer(
        amount_cents=amount,
        frequency=draw(st.none() | st.sampled_from(FREQUENCIES)),
        count=draw(st.none() | st.integers(1, 40)),
        down_payment_cents=draw(st.none() | st.integers(1, max(1, balance))),
        first_date=draw(st.none() | st.integers(-5, 90).map(lambda d: today + timedelta(days=d))),
        lump_sum=draw(st.booleans()),
        rest_frequency=draw(st.booleans()),
    )


def assert_inside(balance: int, policy: Policy, today: date, proposal: Proposal | None) -> None:
    if proposal is None:
        return
    assert violations(balance, policy, today, proposal) == [], proposal
    if proposal.kind == "settlement":
        assert policy.settlement.enabled
        assert proposal.total_cents >= settlement_floor_cents(balance, policy)
        assert proposal.first_due <= today + timedelta(days=policy.settlement.pay_within_days)
    else:
        assert proposal.total_cents == balance
        assert today <= proposal.first_due
        assert proposal.first_due <= today + timedelta(days=policy.first_payment_within_days)
        assert (proposal.last_due - proposal.first_due).days <= policy.max_plan_days
    assert all(p.amount_cents >= 1 for p in proposal.payments)
    assert Proposal.from_dict(proposal.to_dict()) == proposal


@FAST
@given(policy=policies(), balance=balances, today=todays)
def test_ladder_order_and_everything_offered_is_inside_the_policy(
    policy: Policy, balance: int, today: date
) -> None:
    decision = open_negotiation(balance, policy, today, NegotiationState())
    assert decision.action == "offer" and decision.proposal is not None
    assert decision.proposal.kind == "full"
    assert_inside(balance, policy, today, decision.proposal)
    kinds = [decision.proposal.kind]
    percents: list[int] = []
    state = decision.state
    for _ in range(200):
        decision = decline(balance, policy, today, state)
        assert_inside(balance, policy, today, decision.proposal)
        assert NegotiationState.from_dict(decision.state.to_dict()) == decision.state
        state = decision.state
        if decision.action == "hardship":
            break
        assert decision.proposal is not None
        kinds.append(decision.proposal.kind)
        if decision.proposal.kind == "settlement":
            percents.append(decision.policy_values["percent"])
    else:  # pragma: no cover
        raise AssertionError("the ladder never reached hardship")
    plan = default_plan(balance, policy, today)
    expected_plan = ["installments"] if plan is not None else []
    assert kinds[: 1 + len(expected_plan)] == ["full", *expected_plan]
    settlements = kinds[1 + len(expected_plan) :]
    assert all(k == "settlement" for k in settlements)
    s = policy.settlement
    if not s.enabled:
        assert settlements == []
    else:
        # Rounds concede step_percent each; a round whose amount (rounded up to the cent) is
        # not below the previous offer is skipped, as offering it again would concede nothing.
        expected: list[int] = []
        last_amount = balance + 1
        percent = s.opening_percent
        while True:
            current = max(percent, s.floor_percent)
            amount = -(-balance * current // 100)
            if amount < last_amount:
                expected.append(current)
                last_amount = amount
            if current <= s.floor_percent:
                break
            percent -= s.step_percent
        assert percents == expected
    # Hardship is final: declining again stays there.
    assert decline(balance, policy, today, state).action == "hardship"


@FAST
@given(policy=policies(), balance=balances, today=todays, asks=st.integers(1, 15))
def test_asking_for_a_discount_stops_at_the_floor(
    policy: Policy, balance: int, today: date, asks: int
) -> None:
    state = open_negotiation(balance, policy, today, NegotiationState()).state
    for _ in range(asks):
        decision = ask_settlement(balance, policy, today, state)
        assert_inside(balance, policy, today, decision.proposal)
        if decision.proposal is not None and decision.proposal.kind == "settlement":
            assert policy.settlement.enabled
        if not policy.settlement.enabled:
            assert decision.limit in ("settlement.enabled", "hardship")
        state = decision.state
    if policy.settlement.enabled:
        pending = state.pending
        assert pending is not None and pending.kind == "settlement"
        assert pending.total_cents >= settlement_floor_cents(balance, policy)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), policy=policies(), balance=balances, today=todays)
def test_every_answer_to_an_offer_is_inside_the_policy(
    data: st.DataObject, policy: Policy, balance: int, today: date
) -> None:
    offer = data.draw(offers(balance, today))
    state = data.draw(
        st.sampled_from(["start", "plan", "settlement"]).map(
            lambda name: _state(name, balance, policy, today)
        )
    )
    decision = consider_offer(balance, policy, today, state, offer)
    assert_inside(balance, policy, today, decision.proposal)
    if decision.action in ("accept", "counter"):
        assert decision.proposal is not None
        assert decision.state.pending == decision.proposal
        assert decision.state.stage == "proposed"
    if decision.action == "counter":
        assert decision.limit is not None and decision.explanation
    if decision.action == "hardship":
        assert decision.state.pending is None and decision.state.stage == "hardship"
        assert decision.policy_values["debtor_can_pay"]["amount_cents"] == offer.amount_cents
    if decision.action == "accept":
        assert decision.limit is None


def _state(name: str, balance: int, policy: Policy, today: date) -> NegotiationState:
    state = open_negotiation(balance, policy, today, NegotiationState()).state
    if name == "start":
        return state
    state = decline(balance, policy, today, state).state
    if name == "settlement" and state.pending is not None:
        state = decline(balance, policy, today, state).state
    return state


# --- closeness, by brute force over the candidate space on small balances ---------------------

small_balances = st.integers(1, 6_000)


def _start(policy: Policy, today: date, first: date | None) -> date:
    latest = today + timedelta(days=policy.first_payment_within_days)
    return min(max(first or today, today), latest)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    policy=policies(small=True),
    balance=small_balances,
    today=todays,
    count=st.integers(1, 30),
    frequency=st.sampled_from(FREQUENCIES),
    shift=st.integers(-3, 60),
)
def test_count_counter_is_the_nearest_feasible_count(
    policy: Policy, balance: int, today: date, count: int, frequency: Any, shift: int
) -> None:
    first = today + timedelta(days=shift)
    offer = DebtorOffer(count=count, frequency=frequency, first_date=first)
    decision = consider_offer(balance, policy, today, NegotiationState(), offer)
    proposal = decision.proposal
    assert proposal is not None and decision.action in ("accept", "counter")
    assert_inside(balance, policy, today, proposal)
    chosen_frequency = nearest_frequency(frequency, policy.frequencies)
    start = _start(policy, today, first)
    assert proposal.first_due == start
    if proposal.kind == "installments":
        assert proposal.frequency == chosen_frequency
    feasible = [
        n
        for n in range(1, 60)
        if is_feasible(
            balance, policy, today, count_plan(balance, policy, start, chosen_frequency, n)
        )
    ]
    assert 1 in feasible  # payment in full on the start date always works
    distance = abs(proposal.count - count)
    assert all(abs(n - count) >= distance for n in feasible)
    assert decision.action == (
        "accept"
        if count in feasible and first == start and (frequency in policy.frequencies or count == 1)
        else "counter"
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    policy=policies(small=True),
    balance=small_balances,
    today=todays,
    amount=st.integers(1, 7_000),
    frequency=st.sampled_from(FREQUENCIES),
    shift=st.integers(-3, 60),
)
def test_amount_counter_is_the_closest_plan_within_the_budget(
    policy: Policy, balance: int, today: date, amount: int, frequency: Any, shift: int
) -> None:
    """The budget is a ceiling: the counter's installment is the largest feasible one not above
    it, at the nearest allowed frequency where any works; hardship when none does."""
    first = today + timedelta(days=shift)
    offer = DebtorOffer(amount_cents=amount, frequency=frequency, first_date=first)
    decision = consider_offer(balance, policy, today, NegotiationState(), offer)
    start = _start(policy, today, first)
    minimum = down_payment_minimum(balance, policy)
    down = None
    if minimum > amount:
        needed = max(minimum, policy.min_installment_cents)
        down = needed if needed < balance else None
    rest = balance - (down or 0)

    def feasible_amounts(freq: Any) -> list[int]:
        budget = convert_amount(amount, frequency, freq)
        found = []
        for a in range(1, min(budget, rest) + 1):
            if -(-rest // a) > policy.max_installments + 1:
                continue  # more payments than allowed: infeasible without building it
            if is_feasible(balance, policy, today, amount_plan(balance, start, freq, a, down)):
                found.append(a)
        return found

    order = frequencies_by_closeness(frequency, policy.frequencies)
    if decision.action == "hardship":
        assert all(not feasible_amounts(f) for f in order)
        assert decision.policy_values["debtor_can_pay"]["amount_cents"] == amount
        assert decision.explanation
        return
    proposal = decision.proposal
    assert proposal is not None
    assert_inside(balance, policy, today, proposal)
    chosen = next(f for f in order if feasible_amounts(f))
    best = max(feasible_amounts(chosen))
    assert proposal == amount_plan(balance, start, chosen, best, down)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    policy=policies(small=True),
    balance=small_balances,
    today=todays,
    amount=st.integers(1, 7_000),
    shift=st.integers(-3, 60),
)
def test_lump_counter_is_the_nearest_feasible_single_payment(
    policy: Policy, balance: int, today: date, amount: int, shift: int
) -> None:
    due = today + timedelta(days=shift)
    offer = DebtorOffer(amount_cents=amount, first_date=due, lump_sum=True)
    decision = consider_offer(balance, policy, today, NegotiationState(), offer)
    proposal = decision.proposal
    assert proposal is not None and proposal.count == 1
    assert_inside(balance, policy, today, proposal)
    candidates = [full_payment(balance, proposal.first_due)] + [
        settlement_offer(a, proposal.first_due) for a in range(1, balance)
    ]
    feasible = [c.total_cents for c in candidates if is_feasible(balance, policy, today, c)]
    wanted = min(amount, balance)
    assert all(abs(a - wanted) >= abs(proposal.total_cents - wanted) for a in feasible)
    if decision.action == "accept":
        assert proposal.total_cents == wanted and proposal.first_due == due
