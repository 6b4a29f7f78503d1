"""action_payment_options as the negotiation (SPEC §6), and the hand-off after verification."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from actions import texts
from actions.negotiation import ActionPaymentOptions
from actions.verification import ActionVerificationComplete
from parley.models import Account, Conversation, Escalation, Installment, PaymentPlan, utcnow
from tests.support.trackers import COMPANY, load_tracker, run_action, slot_events, texts_of

DISCLOSURE = f"This is {COMPANY}, a debt collector."
BALANCE = "$1,219.50"


def verified(factory: sessionmaker[Session], conversation_id: str) -> None:
    with factory.begin() as session:
        account = session.scalars(select(Account)).one()
        session.add(
            Conversation(
                id=conversation_id, channel="web", account_id=account.id, verified_at=utcnow()
            )
        )


def chat(conversation_id: str, turns: list[tuple[str, str]], between: str) -> Tracker:
    """A tracker whose user turns were each answered by `between` (the latest is unanswered)."""
    events: list[dict[str, Any]] = [
        {"event": "action", "name": "action_session_start"},
        {"event": "session_started"},
        {"event": "action", "name": "action_listen"},
    ]
    for index, (intent, text) in enumerate(turns):
        parse = {"intent": {"name": intent, "confidence": 0.95}, "entities": [], "text": text}
        events.append({"event": "user", "text": text, "parse_data": parse})
        if index < len(turns) - 1:
            events += [
                {"event": "action", "name": between},
                {"event": "action", "name": "action_listen"},
            ]
    intent, text = turns[-1]
    return load_tracker(
        "intent",
        sender_id=conversation_id,
        slots={"verified": True},
        latest_message={"text": text, "intent": {"name": intent, "confidence": 0.95}},
        events=events,
    )


def run(turns: list[tuple[str, str]], between: str = "action_payment_options") -> Any:
    return run_action(ActionPaymentOptions(), chat("neg", turns, between))


def test_opening_offer_is_payment_in_full_with_choices(db: sessionmaker[Session]) -> None:
    verified(db, "neg")
    events, messages = run([("ask_payment_options", "what are my options")])
    said = texts_of(messages)
    assert said[0].startswith(DISCLOSURE)
    assert BALANCE in said[1]
    assert [b["title"] for b in messages[1]["buttons"]] == [
        "Pay in full",
        "Payment plan",
        "Talk to a person",
    ]
    assert slot_events(events) == {"negotiating": True}


def test_counteroffer_summary_then_yes_stores_plan_and_confirms(
    db: sessionmaker[Session],
) -> None:
    verified(db, "neg")
    offer = ("offer_payment", "i can do $300 a month")
    events, messages = run([offer])
    summary = texts_of(messages)[-1]
    assert summary.startswith(texts.SUMMARY_INTRO["accept"])
    assert "$300.00" in summary and "$19.50" in summary
    assert "Total: $1,219.50 in 5 payments." in summary
    assert summary.endswith(texts.CONFIRM_QUESTION)
    assert [b["payload"] for b in messages[-1]["buttons"]] == ["/affirm", "/deny"]
    assert slot_events(events) == {"negotiating": True}
    with db() as session:
        assert session.scalars(select(PaymentPlan)).first() is None

    events, messages = run([offer, ("affirm", "yes")])
    said = texts_of(messages)
    assert said[0].startswith("Confirmed (plan #")
    assert "Total: $1,219.50 in 5 payments." in said[0]
    assert said[1] == texts.AGREED_NEXT
    assert slot_events(events) == {"negotiating": False}
    with db() as session:
        plan = session.scalars(select(PaymentPlan)).one()
        amounts = session.scalars(select(Installment.amount_cents)).all()
        assert sorted(amounts) == [1950, 30000, 30000, 30000, 30000]
        assert sum(amounts) == plan.total_cents == 121950


def test_yes_after_another_topic_shows_the_summary_again(db: sessionmaker[Session]) -> None:
    verified(db, "neg")
    offer = ("offer_payment", "i can do $300 a month")
    run([offer])
    _events, messages = run([offer, ("affirm", "yes")], between="action_tell_balance")
    assert texts_of(messages)[-1].startswith(texts.SUMMARY_INTRO["resume"])
    with db() as session:
        assert session.scalars(select(PaymentPlan)).first() is None


def test_a_budget_below_every_plan_is_a_hardship_review(db: sessionmaker[Session]) -> None:
    verified(db, "neg")
    events, messages = run([("offer_payment", "i can only do 20 bucks a month")])
    assert texts_of(messages)[-1].endswith(texts.HARDSHIP_REVIEW)
    assert slot_events(events) == {"negotiating": False}
    with db() as session:
        escalation = session.scalars(select(Escalation)).one()
        assert escalation.reason == "hardship"
        assert "$20.00 monthly" in escalation.summary
        assert not session.scalars(select(Account)).one().collection_paused
    _events, messages = run([("pay_in_full", "ok i'll pay it all")])
    assert texts_of(messages) == [texts.HARDSHIP_PENDING]


def test_paused_account_gets_no_offer(db: sessionmaker[Session]) -> None:
    verified(db, "neg")
    with db.begin() as session:
        session.scalars(select(Account)).one().collection_paused = True
    events, messages = run([("request_payment_plan", "payment plan")])
    assert texts_of(messages) == [texts.COLLECTION_PAUSED]
    assert slot_events(events) == {"negotiating": False}


def test_a_payment_request_before_verification_starts_the_negotiation(
    db: sessionmaker[Session],
) -> None:
    verified(db, "conv-done")
    tracker = load_tracker("verification_done")
    tracker.events[3]["text"] = "i can do $300 a month"
    tracker.events[3]["parse_data"] = {"intent": {"name": "offer_payment", "confidence": 0.96}}
    events, messages = run_action(ActionVerificationComplete(), tracker)
    said = texts_of(messages)
    assert said[0] == "Thanks, Maria, you're verified."
    assert said[1].startswith(DISCLOSURE)
    assert said[-1].startswith(texts.SUMMARY_INTRO["accept"])
    assert slot_events(events)["negotiating"] is True
