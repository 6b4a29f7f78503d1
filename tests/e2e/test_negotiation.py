"""SPEC §6 end to end: negotiating through the REST API on the running stack.

Each test uses its own account (NEG-1 ... NEG-7 in tests/e2e/accounts.csv), so the negotiation
state one test leaves behind never meets another.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.tables import Account, Escalation, Installment, NegotiationEvent, PaymentPlan
from tests.support.assertions import assert_waiting
from tests.support.chat import verified_chat

pytestmark = pytest.mark.stack

ZIP = "30301"
CONFIRM = "Shall I set this up?"
MONEY = re.compile(r"\$[\d,]+\.\d\d")


def account(session: Session, ref: str) -> Account:
    return session.scalars(select(Account).where(Account.account_ref == ref)).one()


def plans_of(session: Session, ref: str) -> list[PaymentPlan]:
    acc = account(session, ref)
    return list(session.scalars(select(PaymentPlan).where(PaymentPlan.account_id == acc.id)))


def events_of(session: Session, ref: str) -> list[NegotiationEvent]:
    acc = account(session, ref)
    return list(
        session.scalars(
            select(NegotiationEvent)
            .where(NegotiationEvent.account_id == acc.id)
            .order_by(NegotiationEvent.id)
        )
    )


def assert_stored_plan(
    stack_db: sessionmaker[Session], ref: str, kind: str, total_cents: int, count: int
) -> PaymentPlan:
    with stack_db() as session:
        [plan] = plans_of(session, ref)
        installments = list(
            session.scalars(
                select(Installment)
                .where(Installment.plan_id == plan.id)
                .order_by(Installment.sequence)
            )
        )
        assert (plan.kind, plan.status, plan.total_cents) == (kind, "agreed", total_cents)
        assert len(installments) == count
        assert sum(i.amount_cents for i in installments) == plan.total_cents
        dates = [i.due_date for i in installments]
        assert dates == sorted(dates)
        assert plan.timezone == "America/New_York"
        assert plan.policy_values["max_installments"] >= count
        events = events_of(session, ref)
        assert events[-1].kind == "confirm" and events[-1].plan_id == plan.id
        for event in events:
            assert event.policy_name == plan.policy_name
            assert "policy" in event.policy_values and "balance_cents" in event.policy_values
        return plan


def test_accept_payment_in_full(api, stack_db) -> None:  # type: ignore[no-untyped-def]
    chat = verified_chat(api, "Fullerton", "05/01/1980", ZIP)
    replies = chat.say("what are my payment options")
    assert any("$900.00" in r for r in replies), replies
    replies = chat.say("i'll pay in full")
    summary = replies[-1]
    assert "Pay in full: $900.00" in summary and "Total: $900.00 (1 payment)." in summary
    assert summary.endswith(CONFIRM)
    with stack_db() as session:
        assert plans_of(session, "NEG-1") == []
    replies = chat.say("yes")
    assert replies[0].startswith("Confirmed (plan #"), replies
    assert "$900.00" in replies[0]
    assert any("secure payment link" in r for r in replies)
    assert_stored_plan(stack_db, "NEG-1", "full", 90000, 1)


def test_accept_a_feasible_counteroffer(api, stack_db) -> None:  # type: ignore[no-untyped-def]
    chat = verified_chat(api, "Countwell", "05/02/1981", ZIP)
    replies = chat.say("i can do $200 a month")
    summary = replies[-1]
    assert summary.startswith("I can accept that."), summary
    assert summary.count("$200.00") == 5 and "Total: $1,000.00 in 5 payments." in summary
    replies = chat.say("yes")
    assert replies[0].startswith("Confirmed"), replies
    plan = assert_stored_plan(stack_db, "NEG-2", "installments", 100000, 5)
    assert plan.frequency == "monthly"
    with stack_db() as session:
        kinds = [(e.actor, e.kind) for e in events_of(session, "NEG-2")]
    assert kinds == [("debtor", "counteroffer"), ("bot", "accept"), ("debtor", "confirm")]


def test_infeasible_counteroffer_gets_a_feasible_counter_then_agreement(  # type: ignore[no-untyped-def]
    api, stack_db
) -> None:
    chat = verified_chat(api, "Counterman", "05/03/1982", ZIP)
    replies = chat.say("can i do 18 payments")
    summary = replies[-1]
    assert "at most 12 payments" in summary, summary
    assert "Total: $1,200.00 in 12 payments." in summary
    with stack_db() as session:
        counter = events_of(session, "NEG-3")[-1]
        assert (counter.kind, counter.limit) == ("counter", "max_installments")
        assert counter.policy_values["policy"]["max_installments"] == 12
    replies = chat.say("ok")
    assert replies[0].startswith("Confirmed"), replies
    assert_stored_plan(stack_db, "NEG-3", "installments", 120000, 12)


def test_settlement_ladder_down_to_the_floor_and_no_further(  # type: ignore[no-untyped-def]
    api, stack_db
) -> None:
    chat = verified_chat(api, "Sutton", "05/04/1983", ZIP)
    offered: list[str] = []
    for text in (
        "can i settle for less",
        "can you take less",
        "will you take less",
        "any discount",
    ):
        replies = chat.say(text)
        summary = replies[-1]
        assert "One-time settlement" in summary, (text, replies)
        offered.append(MONEY.findall(summary)[0])
    assert offered == ["$900.00", "$800.00", "$700.00", "$700.00"]
    assert "lowest one-time settlement I can offer is $700.00" in replies[-1]
    with stack_db() as session:
        bot = [e for e in events_of(session, "NEG-4") if e.actor == "bot"]
        assert [e.terms["proposal"]["total_cents"] for e in bot] == [90000, 80000, 70000, 70000]
        assert bot[-1].limit == "settlement.floor_percent"
        assert all(e.policy_values["policy"]["settlement"]["floor_percent"] == 70 for e in bot)
    replies = chat.say("yes")
    assert replies[0].startswith("Confirmed"), replies
    assert_stored_plan(stack_db, "NEG-4", "settlement", 70000, 1)


def test_hardship_escalates_and_offers_stop_without_a_pause(api, stack_db) -> None:  # type: ignore[no-untyped-def]
    chat = verified_chat(api, "Hale", "05/05/1984", ZIP)
    replies = chat.say("i can only do $20 a month")
    # SPEC §6: the most lenient plan first, saying the limit; a no to it offers the review.
    assert "smallest monthly payment that would work" in replies[-1], replies
    assert replies[-1].endswith(CONFIRM), replies
    assert chat.status == "bot"
    replies = chat.say("no i really cant")
    assert any("hardship review" in r for r in replies), replies
    assert chat.status == "bot"  # offered, not yet opened
    replies = chat.say("yes please")
    assert chat.status == "queued"
    with stack_db() as session:
        acc = account(session, "NEG-5")
        assert not acc.collection_paused  # SPEC §10: hardship is not a pausing reason
        [escalation] = session.scalars(
            select(Escalation).where(Escalation.account_id == acc.id)
        ).all()
        assert escalation.reason == "hardship"
        assert "$20.00 monthly" in escalation.summary
        last = events_of(session, "NEG-5")[-1]
        assert last.kind == "escalate"
        assert last.policy_values["debtor_can_pay"]["amount_cents"] == 2000
    # The queued conversation gets nothing from the bot; a new one gets no offers either.
    assert_waiting(chat.say("ok i'll pay in full"))
    later = verified_chat(api, "Hale", "05/05/1984", ZIP)
    for text in ("payment options", "i can do $100 a month", "yes"):
        replies = later.say(text)
        assert not any(CONFIRM in r or "Confirmed" in r for r in replies), (text, replies)
        assert not any("$1,200.00" in r or "$100.00" in r for r in replies), (text, replies)
    with stack_db() as session:
        assert plans_of(session, "NEG-5") == []


def test_no_agreement_without_confirmation(api, stack_db) -> None:  # type: ignore[no-untyped-def]
    chat = verified_chat(api, "Nash", "05/06/1985", ZIP)
    replies = chat.say("i can do $250 a month")
    assert replies[-1].endswith(CONFIRM)
    # A question mid-summary is answered, and the summary shown again in full: a yes agrees
    # only to terms the debtor has just read.
    replies = chat.say("how much do i owe")
    assert "$1,000.00" in replies[0], replies
    assert replies[-1].endswith(CONFIRM) and "Total: $1,000.00 in 4 payments." in replies[-1]
    with stack_db() as session:
        assert plans_of(session, "NEG-6") == []
    replies = chat.say("no")
    assert not any("Confirmed" in r for r in replies), replies
    # A new offer after a summary reopens it.
    replies = chat.say("actually i can pay it all")
    assert "Pay in full: $1,000.00" in replies[-1], replies
    with stack_db() as session:
        assert plans_of(session, "NEG-6") == []
        kinds = [e.kind for e in events_of(session, "NEG-6")]
    assert "confirm" not in kinds and "decline" in kinds
    replies = chat.say("yes")
    assert replies[0].startswith("Confirmed"), replies
    assert_stored_plan(stack_db, "NEG-6", "full", 100000, 1)


def test_resume_in_a_later_conversation_then_recall(api, stack_db) -> None:  # type: ignore[no-untyped-def]
    first = verified_chat(api, "Medina", "05/07/1986", ZIP)
    replies = first.say("can i get a payment plan")
    assert "What could you pay" in replies[-1], replies  # asked before proposing (SPEC §6)
    replies = first.say("2 payments")
    summary = replies[-1]
    assert "2 payments monthly" in summary and "Total: $600.00 in 2 payments." in summary
    # A later conversation continues where the first stopped.
    second = verified_chat(api, "Medina", "05/07/1986", ZIP)
    replies = second.say("payment options")
    assert replies[-1].startswith("Here's where we left off:"), replies
    assert "Total: $600.00 in 2 payments." in replies[-1]
    replies = second.say("yes")
    assert replies[0].startswith("Confirmed"), replies
    plan = assert_stored_plan(stack_db, "NEG-7", "installments", 60000, 2)
    assert plan.policy_name == "medical"
    # Once agreed, the plan is recalled, not renegotiated.
    third = verified_chat(api, "Medina", "05/07/1986", ZIP)
    replies = third.say("can i pay $50 a month instead")
    assert any("You already have an agreed plan" in r for r in replies), replies
    with stack_db() as session:
        assert len(plans_of(session, "NEG-7")) == 1
