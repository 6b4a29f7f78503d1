"""parley.plans: the negotiation turn by turn, what it records, and the stored plan (SPEC §6)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.core.settings import ROOT, Settings
from parley.negotiation import dialogue as plans
from parley.negotiation import wording
from parley.negotiation.engine import Payment, Proposal, violations
from parley.negotiation.policies import get_policy
from parley.tables import (
    Account,
    AuditEvent,
    Conversation,
    Escalation,
    Installment,
    NegotiationEvent,
    PaymentPlan,
    utcnow,
)

# 15:00 UTC is 10:00 in New York: the debtor's date is March 3, 2025.
NOW = datetime(2025, 3, 3, 15, 0, tzinfo=timezone.utc)
TODAY = date(2025, 3, 3)


# Explicit settings: the policies file in the repository, whatever the environment says.
SETTINGS = Settings(PARLEY_POLICIES=str(ROOT / "config" / "policies.yml"))


def add_account(
    session: Session, ref: str = "T-1", balance_cents: int = 120000, **values: Any
) -> tuple[Account, Conversation]:
    account = Account(
        account_ref=ref,
        first_name="Test",
        last_name="Debtor",
        last_name_key="debtor",
        dob_hash="x",
        zip_hash="x",
        zip_timezones=["America/New_York"],
        timezone=values.pop("timezone", "America/New_York"),
        creditor="Acme",
        original_creditor="Acme",
        account_last4="1111",
        description="Card",
        principal_cents=balance_cents,
        interest_cents=0,
        fees_cents=0,
        payments_credits_cents=0,
        itemization_date=date(2025, 1, 1),
        policy=values.pop("policy", "default"),
        **values,
    )
    session.add(account)
    session.flush()
    conversation = Conversation(
        id=f"c-{ref}", channel="web", account_id=account.id, verified_at=utcnow()
    )
    session.add(conversation)
    session.flush()
    return account, conversation


def turn(
    session: Session,
    conversation: Conversation,
    account: Account,
    move: plans.Move,
    said: str = "",
    right_after: bool = True,
    suggest: bool = False,
) -> plans.Turn:
    return plans.take_turn(
        session, SETTINGS, conversation, account, move, said, right_after, now=NOW, suggest=suggest
    )


def events(session: Session, account: Account) -> list[NegotiationEvent]:
    return list(
        session.scalars(
            select(NegotiationEvent)
            .where(NegotiationEvent.account_id == account.id)
            .order_by(NegotiationEvent.id)
        )
    )


def test_full_offer_then_ask_terms_then_the_most_lenient_plan_then_a_hardship_review(
    session: Session,
) -> None:
    """SPEC §6 (amended): after a no to paying in full the debtor is asked what they can
    afford; terms below every plan get the most lenient plan, asked about; only a no to that
    offers a hardship review, opened on a yes; no new offer while the review is open."""
    account, conversation = add_account(session)
    first = turn(session, conversation, account, "options")
    assert first.kind == "offer"
    assert first.proposal is not None and first.proposal.kind == "full"
    assert first.proposal.first_due == TODAY
    asked = turn(session, conversation, account, "deny", "no i cant pay all that")
    assert asked.kind == "ask_terms" and asked.proposal is None
    lenient = turn(session, conversation, account, "offer", "i can only do $20 a month")
    assert (lenient.kind, lenient.action) == ("summary", "lenient")
    assert lenient.proposal is not None and lenient.proposal.kind == "installments"
    assert (lenient.proposal.count, lenient.proposal.frequency) == (12, "monthly")
    assert "at most 12 payments" in lenient.explanation  # the limit the debtor's terms hit
    assert session.scalars(select(Escalation)).first() is None
    offered = turn(session, conversation, account, "deny", "no")
    assert offered.kind == "hardship_offer"
    assert session.scalars(select(Escalation)).first() is None  # offered, not yet opened
    plans.open_hardship_review(session, SETTINGS, conversation, account, "yes please", now=NOW)
    assert not account.collection_paused  # hardship is not a pausing reason (SPEC §10)...
    escalation = session.scalars(select(Escalation)).one()
    assert (escalation.reason, escalation.account_id) == ("hardship", account.id)
    assert "$20.00 monthly" in escalation.summary
    # ...but no new offer is made while the review is open, in this or a later conversation.
    assert turn(session, conversation, account, "options").kind == "review"
    later = Conversation(channel="web", account_id=account.id)
    session.add(later)
    session.flush()
    assert turn(session, later, account, "pay_in_full").kind == "review"
    kinds = [(e.actor, e.kind) for e in events(session, account)]
    assert kinds[0] == ("bot", "offer")
    assert ("debtor", "decline") in kinds
    assert kinds[-1] == ("bot", "escalate")
    for event in events(session, account):
        assert event.policy_name == "default"
        assert event.policy_values["policy"]["max_installments"] == 12
        assert event.policy_values["today"] == TODAY.isoformat()


def test_a_no_to_a_plan_asks_again_and_a_request_to_suggest_moves_the_ladder(
    session: Session,
) -> None:
    account, conversation = add_account(session)
    turn(session, conversation, account, "options")
    turn(session, conversation, account, "deny")
    plan = turn(session, conversation, account, "offer", "i can do $200 a month")
    assert plan.kind == "summary"
    again = turn(session, conversation, account, "deny", "no")
    assert again.kind == "ask_terms"  # the negotiation goes on after a no
    suggested = turn(session, conversation, account, "plan", "you pick", suggest=True)
    assert suggested.kind == "summary" and suggested.proposal is not None
    assert not violations(
        120000, get_policy("default", SETTINGS.policies_path), TODAY, suggested.proposal
    )


def test_settlement_never_below_the_floor_when_asked_again(session: Session) -> None:
    account, conversation = add_account(session, balance_cents=100000)
    totals = []
    for _ in range(5):
        result = turn(session, conversation, account, "settlement", "can you take less")
        assert result.proposal is not None and result.proposal.kind == "settlement"
        totals.append(result.proposal.total_cents)
    assert totals == [90000, 80000, 70000, 70000, 70000]
    last = events(session, account)[-1]
    assert last.limit == "settlement.floor_percent"
    assert "lowest one-time settlement" in (last.note or "")


def test_nothing_is_stored_until_yes_right_after_the_summary(session: Session) -> None:
    account, conversation = add_account(session)
    summary = turn(session, conversation, account, "offer", "i can do $200 a month")
    assert summary.kind == "summary" and summary.action == "accept"
    assert session.scalars(select(PaymentPlan)).first() is None
    # A "yes" that does not directly answer the summary only shows it again.
    again = turn(session, conversation, account, "affirm", "yes", right_after=False)
    assert again.kind == "summary" and again.action == "resume"
    assert session.scalars(select(PaymentPlan)).first() is None
    agreed = turn(session, conversation, account, "affirm", "yes")
    assert agreed.kind == "agreed" and agreed.plan is not None
    plan = session.scalars(select(PaymentPlan)).one()
    installments = session.scalars(select(Installment).order_by(Installment.sequence)).all()
    assert plan.kind == "installments" and plan.frequency == "monthly"
    assert [i.amount_cents for i in installments] == [20000] * 6
    assert sum(i.amount_cents for i in installments) == plan.total_cents == 120000
    assert installments[0].due_date == TODAY
    assert plan.timezone == "America/New_York"
    assert plan.policy_values["min_installment_cents"] == 2500
    confirm = events(session, account)[-1]
    assert (confirm.actor, confirm.kind, confirm.plan_id) == ("debtor", "confirm", plan.id)
    kinds = {a.kind for a in session.scalars(select(AuditEvent))}
    assert {"plan.agreed", "plan.payment_link_requested"} <= kinds
    # Afterwards the plan is recalled, not renegotiated.
    recall = turn(session, conversation, account, "offer", "i can do $50 a month")
    assert recall.kind == "recall" and recall.plan is not None and recall.plan.id == plan.id


def test_infeasible_offer_is_countered_with_the_limit(session: Session) -> None:
    account, conversation = add_account(session)
    counter = turn(session, conversation, account, "offer", "can i do 18 payments")
    assert counter.kind == "summary" and counter.action == "counter"
    assert counter.proposal is not None and counter.proposal.count == 12
    assert counter.explanation == "I can split the balance into at most 12 payments."
    assert not violations(
        120000, get_policy("default", SETTINGS.policies_path), TODAY, counter.proposal
    )
    bot_event = events(session, account)[-1]
    assert (bot_event.kind, bot_event.limit) == ("counter", "max_installments")
    debtor_event = events(session, account)[-2]
    assert debtor_event.kind == "counteroffer"
    assert debtor_event.terms["offer"]["count"] == 18
    assert debtor_event.note == "can i do 18 payments"


def test_an_amount_on_a_date_is_a_promise_not_a_settlement(session: Session) -> None:
    """ "$120 on friday" is part of the balance on a date: a promise to pay, never read as a
    settlement bid (which once jumped straight to the floor)."""
    account, conversation = add_account(session)
    result = turn(session, conversation, account, "offer", "$120 on friday")
    assert result.kind == "promise" and result.proposal is None
    assert (result.amount_cents, result.due) == (12000, date(2025, 3, 7))  # the debtor's Friday
    assert session.scalars(select(PaymentPlan)).first() is None


def test_a_settlement_bid_below_the_floor_gets_the_floor(session: Session) -> None:
    account, conversation = add_account(session)
    counter = turn(session, conversation, account, "settlement", "would you take $120 to close it")
    assert counter.proposal is not None and counter.proposal.kind == "settlement"
    assert counter.proposal.total_cents == 84000  # 70 %, the floor


def test_budget_below_the_most_lenient_plan_gets_that_plan_first(session: Session) -> None:
    account, conversation = add_account(session)
    result = turn(session, conversation, account, "offer", "i can only do $20 a month")
    assert (result.kind, result.action) == ("summary", "lenient")
    assert session.scalars(select(Escalation)).first() is None
    assert not account.collection_paused
    debtor = events(session, account)[-2]
    assert debtor.kind == "counteroffer" and debtor.terms["offer"]["amount_cents"] == 2000


def test_changing_mind_and_resuming_in_a_later_conversation(session: Session) -> None:
    account, conversation = add_account(session)
    turn(session, conversation, account, "offer", "6 payments")
    changed = turn(session, conversation, account, "pay_in_full", "actually i can pay it all")
    assert changed.proposal is not None and changed.proposal.kind == "full"
    later = Conversation(id="c-later", channel="web", account_id=account.id, verified_at=utcnow())
    session.add(later)
    session.flush()
    # A "yes" in a new conversation is not an answer to the old summary.
    resumed = turn(session, later, account, "affirm", "yes", right_after=True)
    assert resumed.kind == "summary" and resumed.action == "resume"
    assert resumed.proposal == changed.proposal
    agreed = turn(session, later, account, "affirm", "yes")
    assert agreed.kind == "agreed" and agreed.plan is not None
    assert agreed.plan.kind == "full" and agreed.plan.total_cents == 120000


def test_medical_policy_offers_no_settlement(session: Session) -> None:
    account, conversation = add_account(session, policy="medical")
    result = turn(session, conversation, account, "settlement", "can i settle for less")
    assert result.kind == "summary" and result.proposal is not None
    assert result.proposal.kind == "installments"
    assert "not able to offer a reduced settlement" in result.explanation
    assert events(session, account)[-1].policy_name == "medical"


def test_a_stale_summary_is_moved_to_a_valid_date_before_agreeing(session: Session) -> None:
    account, conversation = add_account(session)
    turn(session, conversation, account, "pay_in_full", "pay it all")
    next_month = datetime(2025, 4, 20, 15, 0, tzinfo=timezone.utc)
    result = plans.take_turn(
        session, SETTINGS, conversation, account, "affirm", "yes", True, next_month
    )
    assert result.kind == "summary" and result.action == "update"
    assert result.proposal is not None and result.proposal.first_due == date(2025, 4, 20)
    assert session.scalars(select(PaymentPlan)).first() is None


def test_summary_lists_amounts_dates_count_and_total() -> None:
    proposal = Proposal(
        "installments",
        (Payment(date(2025, 3, 3), 40000), Payment(date(2025, 4, 3), 40050)),
        "monthly",
    )
    text = wording.summary_text(proposal, 80050)
    assert text == (
        "2 payments monthly:\nMar 3, 2025: $400.00\nApr 3, 2025: $400.50\n"
        "Total: $800.50 in 2 payments."
    )
    long = Proposal(
        "installments",
        tuple(Payment(date(2025, m, 1), 10000) for m in range(1, 12))
        + (Payment(date(2025, 12, 1), 5000),),
        "monthly",
    )
    lines = wording.summary_lines(long, 115000)
    assert lines[1] == "11 x $100.00 monthly, Jan 1, 2025 to Nov 1, 2025"
    assert lines[2] == "$50.00 on Dec 1, 2025"
    assert lines[-1] == "Total: $1,150.00 in 12 payments."
