"""The balance and self-service (SPEC §5, §7), the card guard, and never silent (SPEC §7, §11)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.dialogue import texts
from parley.dialogue.respond import CARD_TRIGGER
from parley.payments import ledger
from parley.tables import AuditEvent, Escalation, Installment, PaymentPlan
from tests.support.dialogue import Talk, verify

BALANCE = "$1,219.50"
DISCLOSURE = "This is Parley Recovery Services, a debt collector."


def agreed(talk: Callable[..., Talk], offer: str = "6 payments") -> Talk:
    t = talk()
    verify(t)
    t.say("what are my options", "ask_payment_options")
    t.say(offer, "offer_payment")
    assert t.say("yes", "affirm")[0].startswith("Confirmed (plan #")
    return t


def test_the_balance_is_exact_and_the_disclosure_said_once(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    said = verify(t)
    assert sum(s.startswith(DISCLOSURE) for s in said) == 1
    said = t.say("what do i owe", "ask_balance")
    assert said == [
        f"Your balance is {BALANCE} for your Northwind Bank account ending 4421.",
        texts.SEE_OPTIONS,  # the next step asked, not left to the debtor
    ]
    assert t.buttons() == ["Payment options", "Why this amount?", "Talk to a person"]
    t.say("and why", "ask_debt_details")
    assert not any(m.text.startswith(DISCLOSURE) for m in t.last)
    with db() as session:
        kinds = session.scalars(select(AuditEvent.kind)).all()
        assert kinds.count("disclosure.debt_collector") == 1


def test_the_itemization_adds_up_and_says_the_right_to_dispute(talk: Callable[..., Talk]) -> None:
    t = talk()
    verify(t)
    said = t.say("why do i owe this", "ask_debt_details")
    assert "Principal: $1,200.00" in said[1] and f"Total: {BALANCE}" in said[1]
    assert "dispute" in said[2]


def test_the_payment_link_is_sent_again_on_request(talk: Callable[..., Talk]) -> None:
    """The finding: asking again for a lost link with a plan agreed got "rephrase"."""
    t = agreed(talk)
    said = t.say("i closed the tab can you send the link again", "ask_payment_link")
    assert said[0] == texts.LINK_AGAIN and "/pay/" in said[1]


def test_the_next_payment_and_the_dates(talk: Callable[..., Talk]) -> None:
    t = agreed(talk)
    said = t.say("when is my next payment due", "ask_next_payment")
    assert said[0].startswith("Your next payment is $203.25, due ")
    said = t.say("can you remind me of all the dates", "ask_next_payment")
    assert said[0].startswith(texts.SCHEDULE) and said[0].count("$203.25") == 6


def test_what_has_been_paid(talk: Callable[..., Talk], db: sessionmaker[Session]) -> None:
    t = agreed(talk)
    with db.begin() as session:
        plan = session.scalars(select(PaymentPlan)).one()
        ledger.post(session, plan.account_id, 20325, "test-payment-1", plan_id=plan.id)
    said = t.say("how much have i paid so far", "ask_payments_made")
    assert said[0].startswith("You've paid $303.25 so far:")  # $100 credits + $203.25
    assert "$1,016.25" in said[1]


def test_a_due_date_moves_inside_the_policy_after_a_yes(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = agreed(talk, "150 a month")
    said = t.say("can i move my next payment", "change_due_date")
    assert said[0].startswith("Which date would you like your next payment")
    said = t.say("in 3 months", "inform")  # beyond the 30-day window: limited, and said so
    assert said[0].startswith("I can only move it to a date on or before")
    with db() as session:
        first = session.scalars(select(Installment).order_by(Installment.sequence)).first()
        assert first is not None
        before = first.due_date
    said = t.say("yes", "affirm")
    assert said[0].startswith("Done: your next payment of $150.00 is now due")
    with db() as session:
        first = session.scalars(select(Installment).order_by(Installment.sequence)).first()
        assert first is not None and first.due_date > before


def test_a_card_number_is_refused_and_the_link_offered(talk: Callable[..., Talk]) -> None:
    t = agreed(talk)
    said = t.say(CARD_TRIGGER)
    assert said[0] == texts.NO_CARDS and said[1] == texts.LINK_AGAIN


def test_a_card_number_before_verification_is_refused_and_the_question_asked_again(
    talk: Callable[..., Talk],
) -> None:
    t = talk()
    t.say("/greet")
    assert t.say(CARD_TRIGGER) == [texts.NO_CARDS_UNVERIFIED, texts.ASK_FACT_AGAIN["last_name"]]


def test_words_the_nlu_took_for_card_details_are_not_the_card_guard(
    talk: Callable[..., Talk],
) -> None:
    """The finding: an account reference typed in was read as card details."""
    t = talk()
    verify(t)
    said = t.say(
        "my account number is 4421",
        "card_details",
        0.6,
        (("card_details", 0.6), ("ask_balance", 0.45)),
    )
    assert texts.NO_CARDS not in said
    assert any(BALANCE in s for s in said)


def test_not_understood_twice_in_a_row_goes_to_a_person(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    assert t.say("blorp", "nlu_fallback", 0.3)[0] == texts.CLARIFY
    assert t.say("zzz", "nlu_fallback", 0.3) == [texts.ESCALATION_ACK["bot_failure"][1]]
    with db() as session:
        assert [e.reason for e in session.scalars(select(Escalation))] == ["bot_failure"]


def test_a_weak_yes_with_nothing_asked_is_not_understood(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    """Gibberish the NLU half-reads as "yes" is not an answer when nothing was asked: twice in a
    row, a person takes over, as for any message not understood."""
    t = talk()
    verify(t)
    assert t.say("qwxz vbnm", "affirm", 0.41)[0] == texts.CLARIFY
    assert t.say("zzkq wpfh", "deny", 0.45) == [texts.ESCALATION_ACK["bot_failure"][1]]
    with db() as session:
        assert [e.reason for e in session.scalars(select(Escalation))] == ["bot_failure"]


@pytest.mark.parametrize(
    "intent",
    [
        "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "ask_who", "inform",
        "ask_balance", "ask_debt_details", "pay_in_full", "request_payment_plan", "offer_payment",
        "ask_settlement", "ask_payment_options", "ask_payment_link", "ask_next_payment",
        "ask_payments_made", "change_due_date", "out_of_scope", "nlu_fallback",
    ],
)  # fmt: skip
def test_every_intent_gets_an_answer_before_and_after_verification(
    talk: Callable[..., Talk], intent: str
) -> None:
    before = talk(f"c-before-{intent}")
    before.say("/greet")
    assert before.say("something", intent, 0.8)  # Talk.say asserts a non-empty answer
    after = talk(f"c-after-{intent}")
    verify(after)
    assert after.say("something", intent, 0.8)
