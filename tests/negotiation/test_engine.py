"""Worked examples of the negotiation engine on the shipped policies (SPEC §6)."""

from __future__ import annotations

from datetime import date

import pytest

from parley.core.settings import ROOT
from parley.negotiation.engine import (
    Decision,
    NegotiationState,
    Payment,
    Proposal,
    agree,
    ask_settlement,
    consider_offer,
    decline,
    open_negotiation,
    violations,
)
from parley.negotiation.policies import Policy, load_policies
from parley.negotiation.terms import parse_offer

POLICIES = load_policies(ROOT / "config" / "policies.yml")
DEFAULT = POLICIES["default"]
MEDICAL = POLICIES["medical"]
TODAY = date(2024, 1, 31)
BALANCE = 120_000  # $1,200.00


def say(
    text: str, state: NegotiationState, policy: Policy = DEFAULT, balance: int = BALANCE
) -> Decision:
    offer = parse_offer(text, TODAY)
    assert offer is not None, text
    return consider_offer(balance, policy, TODAY, state, offer)


def test_full_then_plan_then_settlements_then_hardship() -> None:
    d = open_negotiation(BALANCE, DEFAULT, TODAY, NegotiationState())
    assert (d.action, d.proposal) == ("offer", Proposal("full", (Payment(TODAY, BALANCE),)))
    d = decline(BALANCE, DEFAULT, TODAY, d.state)
    assert d.state.stage == "plan_offered" and d.proposal is not None
    assert d.proposal.kind == "installments" and d.proposal.frequency == "monthly"
    assert [p.amount_cents for p in d.proposal.payments] == [60_000, 60_000]
    amounts = []
    for _ in range(3):
        d = decline(BALANCE, DEFAULT, TODAY, d.state)
        assert d.proposal is not None and d.proposal.kind == "settlement"
        amounts.append(d.proposal.total_cents)
    assert amounts == [108_000, 96_000, 84_000]  # 90%, 80%, 70% (the floor)
    assert d.limit == "settlement.floor_percent"
    d = decline(BALANCE, DEFAULT, TODAY, d.state)
    assert d.action == "hardship" and d.proposal is None and d.state.stage == "hardship"


def test_settlement_never_offered_when_disabled() -> None:
    d = open_negotiation(BALANCE, MEDICAL, TODAY, NegotiationState())
    d = decline(BALANCE, MEDICAL, TODAY, d.state)
    assert d.proposal is not None and d.proposal.kind == "installments"
    d = decline(BALANCE, MEDICAL, TODAY, d.state)
    assert d.action == "hardship" and d.limit == "settlement.enabled"
    asked = ask_settlement(BALANCE, MEDICAL, TODAY, NegotiationState())
    assert asked.action == "offer" and asked.limit == "settlement.enabled"
    assert asked.proposal is not None and asked.proposal.kind == "installments"
    assert asked.explanation == "I'm not able to offer a reduced settlement on this account."


def test_ask_settlement_at_the_floor_repeats_the_floor() -> None:
    state = NegotiationState()
    for _ in range(6):
        d = ask_settlement(BALANCE, DEFAULT, TODAY, state)
        state = d.state
    assert d.action == "counter" and d.limit == "settlement.floor_percent"
    assert d.proposal is not None and d.proposal.total_cents == 84_000
    assert d.explanation == "The lowest one-time settlement I can offer is $840.00."


def test_feasible_counteroffer_is_accepted_exactly() -> None:
    d = say("I can do $100 a month", NegotiationState())
    assert d.action == "accept" and d.limit is None and d.proposal is not None
    assert d.proposal.count == 12 and {p.amount_cents for p in d.proposal.payments} == {10_000}
    assert d.proposal.first_due == TODAY and d.proposal.last_due == date(2024, 12, 31)
    assert d.state.stage == "proposed" and d.state.pending == d.proposal
    assert agree(d.state).stage == "agreed"


def test_remainder_may_be_below_min_installment() -> None:
    d = say("$110 a month", NegotiationState())
    assert d.action == "accept" and d.proposal is not None
    assert [p.amount_cents for p in d.proposal.payments] == [11_000] * 10 + [10_000]
    d = say("$1,190 monthly", NegotiationState())
    assert d.proposal is not None
    assert [p.amount_cents for p in d.proposal.payments] == [119_000, 1_000]  # $10 < $25 min


def test_too_many_payments_is_countered_with_the_nearest_count() -> None:
    d = say("24 payments", NegotiationState())
    assert d.action == "counter" and d.limit == "max_installments"
    assert d.proposal is not None and d.proposal.count == 12
    assert d.explanation == "I can split the balance into at most 12 payments."
    assert d.proposal.total_cents == BALANCE


def test_disallowed_frequency_is_countered_with_the_same_budget() -> None:
    d = say("$50 a week", NegotiationState(), policy=MEDICAL)
    assert d.action == "counter" and d.limit == "frequencies"
    assert d.proposal is not None and d.proposal.frequency == "biweekly"
    assert d.proposal.payments[0].amount_cents == 10_000  # $50 a week = $100 every two weeks
    assert d.explanation == "I can set up payments every two weeks or monthly."


def test_too_late_a_first_date_is_moved_into_the_window() -> None:
    d = say("$100 a month starting march 15", NegotiationState())
    assert d.action == "counter" and d.limit == "first_payment_within_days"
    assert d.proposal is not None and d.proposal.first_due == date(2024, 3, 1)
    assert d.explanation == "The first payment needs to be made by March 1, 2024."


def test_below_the_most_lenient_plan_is_hardship() -> None:
    d = say("I can only do $10 a month", NegotiationState())
    assert d.action == "hardship" and d.limit == "max_installments"
    assert d.policy_values["debtor_can_pay"] == {
        "amount_cents": 1_000,
        "frequency": "monthly",
        "down_payment_cents": None,
    }
    assert "The smallest monthly payment that would work is $100.00." in d.explanation
    assert d.state.stage == "hardship" and d.state.pending is None
    small = say("$10 a month", NegotiationState(), balance=20_000)
    assert small.action == "hardship" and small.limit == "min_installment"
    assert small.explanation.startswith("The smallest payment I can set up is $25.00.")


def test_budget_at_another_frequency_is_a_counter_not_hardship() -> None:
    # $20 a week cannot pay $500 in 12 payments, but $86.66 a month can.
    d = say("$20 a week", NegotiationState(), balance=50_000)
    assert d.action == "counter" and d.limit == "max_installments"
    assert d.proposal is not None and d.proposal.frequency == "monthly"
    assert d.proposal.payments[0].amount_cents == 8_666


def test_down_payment_and_the_rest_monthly() -> None:
    d = say("$200 now and the rest monthly", NegotiationState())
    assert d.action == "accept" and d.proposal is not None
    amounts = [p.amount_cents for p in d.proposal.payments]
    assert amounts[0] == 20_000 and sum(amounts) == BALANCE and len(amounts) == 12
    d = say("200 now and 100 a month", NegotiationState())
    assert d.action == "accept" and d.proposal is not None
    assert [p.amount_cents for p in d.proposal.payments] == [20_000] + [10_000] * 10
    # $1,000 left at $50 a month would take 20 payments; the policy allows 12.
    assert say("200 now and 50 a month", NegotiationState()).action == "hardship"


def test_lump_sums() -> None:
    d = say("$120 on Friday", NegotiationState())
    assert d.action == "counter" and d.limit == "settlement.floor_percent"
    assert d.proposal == Proposal("settlement", (Payment(date(2024, 2, 2), 84_000),))
    d = say("$900 on Friday", NegotiationState())
    assert d.action == "accept" and d.proposal is not None and d.proposal.kind == "settlement"
    d = say("i can pay it all on the 15th", NegotiationState())
    assert d.action == "accept" and d.proposal == Proposal(
        "full", (Payment(date(2024, 2, 15), BALANCE),)
    )
    d = say("$900 on Friday", NegotiationState(), policy=MEDICAL)
    assert d.action == "counter" and d.limit == "settlement.enabled"
    assert d.proposal is not None and d.proposal.kind == "full"


def test_a_date_moves_the_pending_plan() -> None:
    plan = say("6 payments", NegotiationState())
    assert plan.action == "accept"
    moved = say("I get paid on the 15th", plan.state)
    assert moved.action == "accept" and moved.proposal is not None
    assert moved.proposal.first_due == date(2024, 2, 15) and moved.proposal.count == 6


def test_amount_without_frequency_follows_the_pending_plan() -> None:
    plan = decline(
        BALANCE, DEFAULT, TODAY, open_negotiation(BALANCE, DEFAULT, TODAY, NegotiationState()).state
    )
    d = say("how about 300", plan.state)
    assert d.action == "accept" and d.proposal is not None
    assert d.proposal.frequency == "monthly" and d.proposal.count == 4


def test_balance_below_min_installment_is_pay_in_full_only() -> None:
    d = decline(
        2_000, MEDICAL, TODAY, open_negotiation(2_000, MEDICAL, TODAY, NegotiationState()).state
    )
    assert d.action == "hardship"  # no plan possible, no settlements on medical
    d = say("4 payments", NegotiationState(), policy=MEDICAL, balance=1_000)
    assert d.action == "counter" and d.proposal is not None and d.proposal.kind == "full"


def test_declining_a_countered_bid_continues_below_it() -> None:
    bid = say("$120 on Friday", NegotiationState())  # countered at the floor
    d = decline(BALANCE, DEFAULT, TODAY, bid.state)
    assert d.action == "hardship" and d.limit == "settlement.floor_percent"


def test_state_round_trips_through_json() -> None:
    import json

    d = say("$200 now and the rest monthly", NegotiationState())
    data = json.loads(json.dumps(d.state.to_dict()))
    assert NegotiationState.from_dict(data) == d.state
    assert NegotiationState.from_dict(None) == NegotiationState()
    json.dumps(d.policy_values)
    with pytest.raises(ValueError):
        NegotiationState.from_dict({"stage": "bogus"})


def test_violations_name_the_keys() -> None:
    bad = Proposal(
        "installments",
        (Payment(date(2024, 3, 15), 1_000), Payment(date(2024, 3, 22), BALANCE - 1_000)),
        "weekly",
    )
    assert violations(BALANCE, DEFAULT, TODAY, bad) == [
        "first_payment_within_days",
        "min_installment",
    ]
    assert violations(BALANCE, MEDICAL, TODAY, Proposal("settlement", (Payment(TODAY, 1),))) == [
        "settlement.enabled",
        "settlement.floor_percent",
    ]
    with pytest.raises(ValueError):
        open_negotiation(0, DEFAULT, TODAY, NegotiationState())
