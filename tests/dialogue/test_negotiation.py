"""Negotiation that listens (SPEC §6): asks what the debtor can afford, never reads a refusal as
a yes, says which limit changed the debtor's terms, offers the most lenient plan before a
hardship review, keeps going after a "no", records promises."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.core.dates import long_date
from parley.dialogue import texts
from parley.documents.links import read_token
from parley.tables import Account, Installment, PaymentPlan, Promise, utcnow
from tests.support.dialogue import Talk, verify

BALANCE = "$1,219.50"


def plans(db: sessionmaker[Session]) -> list[PaymentPlan]:
    with db() as session:
        return list(session.scalars(select(PaymentPlan)))


def negotiating(talk: Callable[..., Talk]) -> Talk:
    t = talk()
    verify(t)
    said = t.say("what are my options", "ask_payment_options")
    assert said[-1].endswith(texts.OFFER_FULL_END), said
    assert t.buttons() == ["Pay in full", "Payment plan", "Talk to a person"]
    return t


def test_the_opening_offer_is_payment_in_full_with_choices(talk: Callable[..., Talk]) -> None:
    t = negotiating(talk)
    assert BALANCE in t.last[-1].text


def test_a_refusal_of_the_full_offer_is_never_read_as_agreement(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    """The finding: "I can't pay all that" after the full offer got "I can accept that"."""
    for n, (text, intent) in enumerate(
        [
            ("I can't pay all that", "pay_in_full"),
            ("no way i can do all of it", "pay_in_full"),
            ("cant pay the whole thing", "affirm"),
            ("nah", "deny"),
        ]
    ):
        t = talk(f"c-refuse-{n}")
        verify(t)
        t.say("what are my options", "ask_payment_options")
        said = t.say(text, intent, 0.8)
        assert not any("I can accept that" in s for s in said), (text, said)
        assert said[-1].startswith(texts.ASK_TERMS_END), (text, said)
    assert plans(db) == []


def test_terms_said_with_a_refusal_are_the_debtors_offer(talk: Callable[..., Talk]) -> None:
    t = negotiating(talk)
    said = t.say("i cant do all that but i can do 150 a month", "offer_payment")
    assert said[-1].startswith(texts.SUMMARY_INTRO["accept"])
    assert "$150.00" in said[-1]


def test_an_accepted_counteroffer_is_stored_only_after_a_yes_to_its_summary(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = negotiating(talk)
    said = t.say("i can do 150 a month", "offer_payment")
    assert said[-1].startswith(texts.SUMMARY_INTRO["accept"]) and said[-1].endswith(
        texts.CONFIRM_SUMMARY
    )
    assert plans(db) == []
    said = t.say("yes", "affirm")
    assert said[0].startswith("Confirmed (plan #")
    assert any("/pay/" in s for s in said)
    [plan] = plans(db)
    assert plan.total_cents == 121950
    # The written agreement is linked with the confirmation, and its link names this plan.
    [agreement] = [s for s in said if "/documents/agreement/" in s]
    token = agreement.rsplit("/", 1)[-1]
    assert read_token(t.settings, "agreement", token) == plan.id


def test_a_yes_after_another_topic_shows_the_summary_again(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = negotiating(talk)
    t.say("i can do 150 a month", "offer_payment")
    t.say("why is it this much", "ask_debt_details")  # answered, the summary offered again
    again = t.last[-1].text
    assert again.startswith(texts.STILL_ON_OFFER) and again.endswith(texts.CONFIRM_SUMMARY)
    assert "$150.00" in again and "Total: $1,219.50" in again  # the terms, in full, again
    said = t.say("yes", "affirm")
    assert said[0].startswith("Confirmed (plan #")
    assert len(plans(db)) == 1


def test_a_start_beyond_the_limit_is_countered_saying_so_never_accepted(
    talk: Callable[..., Talk],
) -> None:
    """The finding: a monthly offer starting two months out got "I can accept that" with the
    start silently moved to today."""
    t = negotiating(talk)
    start = (utcnow() + timedelta(days=62)).date()
    said = t.say(f"150 a month starting {start:%B} {start.day}", "offer_payment")
    summary = said[-1]
    assert "I can accept that" not in summary
    assert "The first payment needs to be made by" in summary
    assert summary.endswith(texts.CONFIRM_SUMMARY)


def test_an_amount_below_the_most_lenient_plan_gets_that_plan_not_a_review(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = negotiating(talk)
    said = t.say("i can only do 20 a month", "offer_payment")
    assert texts.SUMMARY_INTRO["lenient"] in said[-1]
    assert "at most 12 payments" in said[-1]  # the limit, in plain words
    said = t.say("no thats still too much", "deny")
    assert said[-1].endswith(texts.HARDSHIP_OFFER)
    said = t.say("no", "deny")
    assert said[-1].startswith("Okay. " + texts.ASK_TERMS_END)  # still negotiating
    said = t.say("ok 105 a month", "offer_payment")
    assert said[-1].endswith(texts.CONFIRM_SUMMARY)


def test_a_plan_request_without_terms_asks_what_the_debtor_can_afford(
    talk: Callable[..., Talk],
) -> None:
    t = talk()
    verify(t)
    said = t.say("can i get a payment plan", "request_payment_plan")
    assert said[-1].startswith(texts.ASK_TERMS_END)
    assert texts.SUGGEST_PLAN in t.buttons()
    said = t.say("idk you tell me", "inform", 0.5)
    assert said[-1].startswith(texts.SUMMARY_INTRO["suggest"])


def test_negotiation_goes_on_after_a_no(talk: Callable[..., Talk]) -> None:
    t = negotiating(talk)
    t.say("i can do 200 a month", "offer_payment")
    said = t.say("no actually", "deny")
    assert said[-1].startswith(texts.ASK_TERMS_END)
    said = t.say("6 payments", "offer_payment")
    assert said[-1].endswith(texts.CONFIRM_SUMMARY)


def test_settlement_rounds_and_bare_bids(talk: Callable[..., Talk]) -> None:
    t = negotiating(talk)
    said = t.say("would you take less if i pay it at once", "ask_settlement")
    assert texts.SUMMARY_INTRO["offer_settlement"] in said[-1]
    said = t.say("what about 700", "inform", 0.6)
    assert "The lowest one-time settlement I can offer is $853.65." in said[-1]
    said = t.say("ok", "affirm")
    assert said[0].startswith("Confirmed (plan #")


def test_a_partial_payment_on_a_date_is_a_promise(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = negotiating(talk)
    said = t.say("i cant do all that but ill pay 120 on friday", "offer_payment")
    assert said[-1].endswith(texts.PROMISE_CONFIRM)
    assert "$120.00" in said[-1]
    said = t.say("yes", "affirm")
    assert said[0].startswith("Noted: $120.00 on")
    with db() as session:
        [promise] = session.scalars(select(Promise)).all()
        assert promise.amount_cents == 12000 and promise.due_date.weekday() == 4
    assert plans(db) == []


def test_a_bare_amount_with_nothing_on_the_table_is_asked_about(
    talk: Callable[..., Talk],
) -> None:
    t = talk()
    verify(t)
    said = t.say("300", "inform", 0.7)
    assert said[-1] == texts.AMOUNT_KIND.format(amount="$300.00")
    said = t.press('/offer_payment{"amount_kind":"monthly"}')
    assert "$300.00" in said[-1] and said[-1].endswith(texts.CONFIRM_SUMMARY)


def test_a_paused_account_gets_no_offer(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    with db.begin() as session:
        session.scalars(select(Account)).one().collection_paused = True
    t = talk()
    verify(t)
    assert t.say("i want a payment plan", "request_payment_plan")[-1] == texts.COLLECTION_PAUSED


def test_the_agreed_plan_is_inside_the_policy_and_dated_in_the_debtors_zone(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = negotiating(talk)
    t.say("6 payments every 2 weeks", "offer_payment")
    t.say("yes", "affirm")
    [plan] = plans(db)
    with db() as session:
        items = list(session.scalars(select(Installment).where(Installment.plan_id == plan.id)))
    assert len(items) == 6 and sum(i.amount_cents for i in items) == 121950
    first = re.search(r"(\w{3} \d{1,2}, \d{4})", t.last[0].text)
    assert first is not None
    assert long_date(items[0].due_date)
