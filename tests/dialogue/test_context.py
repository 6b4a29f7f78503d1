"""Words read in context (SPEC §6, §11): a yes that says more, a consequence named only to be
denied, a request for a person in any words, a dispute whose kind is asked, figures that are a
question, a settlement asked for after a no, and a "suggest" that moves down the ladder.

Each NLU reading is given explicitly (what a classifier can plausibly return for such words),
so each test says what it assumes and what the dialogue must make of it."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.dialogue import texts
from parley.tables import Account, Escalation, PaymentPlan, Promise
from tests.dialogue.test_negotiation import BALANCE, negotiating
from tests.support.dialogue import COMPANY, Talk, verify


def escalations(db: sessionmaker[Session]) -> list[tuple[str, str | None]]:
    with db() as session:
        return [(e.reason, e.sub_reason) for e in session.scalars(select(Escalation))]


def test_a_yes_that_repeats_the_promised_terms_records_the_promise(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = negotiating(talk)
    said = t.say("i can do $400 on friday", "offer_payment", 0.8)
    assert said[-1].endswith(texts.PROMISE_CONFIRM), said
    t.say("Yes, $400 on friday.", "offer_payment", 0.7)  # the classifier hears an offer
    with db() as session:
        [promise] = session.scalars(select(Promise)).all()
        assert promise.amount_cents == 40000


def test_yes_thank_you_to_a_summary_agrees(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = negotiating(talk)
    t.say("no", "deny")
    t.say("i can do 150 a month", "offer_payment")
    said = t.say("Yes, thank you.", "thank", 0.79, (("thank", 0.79), ("affirm", 0.2)))
    assert said[0].startswith("Confirmed (plan #"), said
    with db() as session:
        assert len(session.scalars(select(PaymentPlan)).all()) == 1


def test_a_bankruptcy_named_only_to_be_denied_is_asked_about_not_acted_on(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    said = t.say(
        "I'm not filing bankruptcy or anything like that, I just want a payment plan.",
        "bankruptcy",
        0.99,
    )
    assert said == [texts.CONFIRM["bankruptcy"]]
    assert escalations(db) == []
    t.say("no", "deny")
    with db() as session:
        account = session.scalars(select(Account)).one()
        assert not account.collection_paused


def test_a_lawyer_in_the_family_is_not_representation(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    said = t.say("my brother is a lawyer and he says you cant charge fees", "attorney", 0.92)
    assert said == [texts.CONFIRM["attorney"]]
    assert escalations(db) == []


def test_a_person_asked_for_in_any_words_is_queued(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    t.say("/greet")
    # Before verification: "representative" is not a surname, whatever the classifier says.
    t.say("representative", "inform", 0.55)
    assert escalations(db) == [("human_requested", None)]


def test_a_person_asked_for_beats_a_close_dispute_reading(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    t.say(
        "id rather deal w a real human tbh",
        "bot_challenge",
        0.64,
        (("bot_challenge", 0.64), ("dispute", 0.45)),
    )
    assert escalations(db) == [("human_requested", None)]


def test_a_dispute_of_no_stated_kind_asks_which_and_is_recorded_whatever_the_answer(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    said = t.say("I want to dispute this", "dispute", 0.97)
    assert said == [texts.DISPUTE_WHICH]
    assert escalations(db) == []
    t.say('/dispute{"sub_reason":"wrong_amount"}')
    assert escalations(db) == [("dispute", "wrong_amount")]
    t2 = talk("c-other")
    verify(t2)
    t2.say("i dispute it", "dispute", 0.97)
    t2.say("because", "inform", 0.5)  # no kind chosen: still recorded, as a dispute
    assert [r for r, _ in escalations(db)] == ["dispute", "dispute"]


def test_a_stated_kind_is_recorded_at_once(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    t.say("someone musta used my info to open this", "dispute", 0.95)
    assert escalations(db) == [("dispute", "fraud")]


def test_figures_asked_about_are_no_offer(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = negotiating(talk)
    said = t.say("why is it 904?? i only owed like 400", "offer_payment", 0.73)
    assert not any("monthly payment, or one payment" in s for s in said), said
    assert not any("I can accept that" in s for s in said), said


def test_a_date_alone_is_no_offer(talk: Callable[..., Talk]) -> None:
    t = negotiating(talk)
    t.say("no", "deny")
    said = t.say("hold on, are you guys open on saturdays?", "out_of_scope", 0.6)
    assert not any("I can accept that" in s for s in said), said


def test_a_settlement_asked_for_after_a_no_is_offered(talk: Callable[..., Talk]) -> None:
    t = negotiating(talk)
    said = t.say("no way. would u take less?", "ask_settlement", 0.83)
    assert any("One-time settlement" in s for s in said), said


def test_suggest_again_moves_down_the_ladder(talk: Callable[..., Talk]) -> None:
    t = negotiating(talk)
    t.say("no", "deny")
    first = t.say("I really don't know, what can you offer?", "request_payment_plan", 0.9)
    second = t.say("I really don't know, what can you offer?", "request_payment_plan", 0.9)
    assert first[-1] != second[-1], (first, second)


def test_after_the_balance_the_next_step_is_asked(talk: Callable[..., Talk]) -> None:
    t = talk()
    verify(t)
    said = t.say("what do i owe", "ask_balance")
    assert said[-1] == texts.SEE_OPTIONS
    said = t.say("yeah", "affirm")
    assert said[-1].endswith(texts.OFFER_FULL_END), said


def test_a_refusal_that_asks_for_flexibility_is_the_next_settlement_round(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = negotiating(talk)
    first = t.say("would you accept a reduced sum in settlement", "ask_settlement", 0.9)
    assert any("One-time settlement" in s for s in first), first
    said = t.say(
        "That is still more than I can manage. Is there any further flexibility?",
        "dispute",
        0.5,
        (("dispute", 0.5), ("ask_settlement", 0.3)),
    )
    assert escalations(db) == []
    assert any("One-time settlement" in s for s in said) and said != first, said


def test_asking_to_give_a_card_in_the_chat_gets_the_card_guard(talk: Callable[..., Talk]) -> None:
    t = negotiating(talk)
    said = t.say("can i just give you my card number here?", "nlu_fallback", 0.3)
    assert said[0] == texts.NO_CARDS, said


def test_a_yes_with_a_card_question_gets_the_card_guard_and_the_summary_of_what_it_agreed(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    """A conversation-quality finding: the yes to the full offer was lost behind the card
    guard's menu, and the debtor who repeated it got the menu again every time."""
    t = negotiating(talk)
    said = t.say(
        "yes all of it. can i just give you my card number here?",
        "card_details",
        0.6,
        (("card_details", 0.6), ("affirm", 0.3)),
    )
    assert said[0] == texts.NO_CARDS, said
    assert said[-1].endswith(texts.CONFIRM_SUMMARY) and BALANCE in " ".join(said), said
    assert t.say("yes", "affirm")[0].startswith("Confirmed (plan #")
    with db() as session:
        [plan] = session.scalars(select(PaymentPlan)).all()
        assert plan.kind == "full"


def test_a_question_while_terms_are_asked_is_answered_and_the_terms_asked_again(
    talk: Callable[..., Talk],
) -> None:
    t = negotiating(talk)
    assert t.say("no", "deny")[-1].endswith(texts.ASK_TERMS)
    said = t.say("wait am i talking to a robot?", "bot_challenge", 0.9)
    assert said[0] == texts.BOT_CHALLENGE.format(company=COMPANY), said
    assert said[-1] == texts.ASK_TERMS, said
    said = t.say("ok whatever. 65 a month", "offer_payment", 0.8)
    assert said[-1].endswith(texts.CONFIRM_SUMMARY), said


def test_the_kind_said_in_so_many_words_wins(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    t.say("The amount is wrong, insurance should have paid it.", "dispute", 0.95)
    assert escalations(db) == [("dispute", "wrong_amount")]


def test_a_no_that_names_a_kind_of_dispute_is_a_dispute(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    assert t.say("I want to dispute this", "dispute", 0.97) == [texts.DISPUTE_WHICH]
    t.say("No, I already paid it last year", "deny", 0.6)
    assert escalations(db) == [("dispute", "already_paid")]


def test_a_no_to_a_bankruptcy_question_is_a_no(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    t.say("I'm not filing bankruptcy, I just want a plan", "bankruptcy", 0.99)
    said = t.say("No, no bankruptcy. Just a payment plan.", "bankruptcy", 0.95)
    assert said[0] == texts.NOT_CONSEQUENCE
    assert escalations(db) == []
