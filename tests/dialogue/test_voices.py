"""Debtor voices a second probe round found misread (SPEC §4, §6, §7, §11): a surname said with
the date of birth or after a greeting, a date of birth in words, an unknown surname the
classifier half-reads as a dispute, a no to "do you want us to stop?" said without a comma, a
pause ("stop, let me think a sec") at a summary, someone writing for the debtor, the same
message sent again and again to one question, a first text that answers no question, and an
account's own number in a pasted letter.

Each NLU reading is the one the trained model gave for these words (intent, confidence and
runner-up), so each test says what it assumes and what the dialogue must make of it."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.dialogue import texts
from parley.dialogue.verification import MAX_HINTS
from parley.tables import Channel, Conversation, PaymentPlan
from tests.dialogue.test_asides import failed_attempts
from tests.dialogue.test_context import escalations
from tests.dialogue.test_negotiation import negotiating
from tests.support.dialogue import Talk, verify


def test_the_surname_said_with_the_date_of_birth_counts_both(talk: Callable[..., Talk]) -> None:
    t = talk()
    t.say("/greet")
    said = t.say("Garcia, and my birthday is 3/14/85 if you need that too", "inform", 0.9)
    assert said == [texts.ASK_FACT["zip_or_ssn4"]], said
    said = t.say("94107")
    assert any("you're verified" in line for line in said), said


def test_a_surname_introduced_after_a_greeting_counts(talk: Callable[..., Talk]) -> None:
    t = talk()
    t.say("/greet")
    said = t.say(
        "Hello, this is Maria now. My last name is Garcia.",
        "greet",
        0.81,
        (("greet", 0.81), ("inform", 0.08)),
    )
    assert said[-1] == texts.ASK_FACT["date_of_birth"], said


def test_a_date_of_birth_in_words_is_read(talk: Callable[..., Talk]) -> None:
    t = talk()
    t.say("/greet")
    t.say("Garcia")
    said = t.say("March fourteenth, 1985", "inform", 0.93)
    assert said == [texts.ASK_FACT["zip_or_ssn4"]], said


def test_an_unknown_surname_half_read_as_a_dispute_is_the_surname(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    t.say("/greet")
    said = t.say(
        "garcia",
        "nlu_fallback",
        0.40,
        (("nlu_fallback", 0.40), ("out_of_scope", 0.33), ("dispute", 0.25)),
    )
    assert said == [texts.ASK_FACT["date_of_birth"]], said
    assert t.conversation().dialogue["held"] == []  # no dispute kept for after verification
    verify_rest = t.say("03/14/1985") + t.say("94107")
    assert not any(line == texts.DISPUTE_WHICH for line in verify_rest), verify_rest
    assert escalations(db) == []


def test_a_no_without_a_comma_to_do_you_want_us_to_stop_is_a_no(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    said = t.say("stop texting me for now", "stop_contact", 0.60)
    assert said == [texts.CONFIRM["stop_contact"]], said
    said = t.say(
        "no keep texting me, i was just thinking",
        "stop_contact",
        0.60,
        (("stop_contact", 0.60), ("wrong_number", 0.17)),
    )
    assert said[0] == texts.NOT_CONSEQUENCE, said
    assert escalations(db) == []


def test_no_more_texts_to_do_you_want_us_to_stop_is_not_a_no(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    t.say("stop texting me for now", "stop_contact", 0.60)
    said = t.say("no more texts please", "stop_contact", 0.95)
    assert said[0] != texts.NOT_CONSEQUENCE, said
    assert [reason for reason, _sub in escalations(db)] == ["cease_communication"]


def test_a_pause_at_the_summary_keeps_the_summary_on_the_table(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = negotiating(talk)
    t.say("no", "deny", 0.99)
    said = t.say("$100 a month", "offer_payment", 0.95)
    assert said[-1].endswith(texts.CONFIRM_SUMMARY), said
    said = t.say(
        "stop, let me think a sec",
        "stop_contact",
        0.47,
        (("stop_contact", 0.47), ("out_of_scope", 0.40)),
    )
    assert said[0] == texts.TAKE_YOUR_TIME_OFFER, said
    assert said[-1].endswith(texts.CONFIRM_SUMMARY), said
    assert escalations(db) == []
    t.say("yes", "affirm", 0.99)
    with db() as session:
        plan = session.scalars(select(PaymentPlan)).one()
        assert plan.frequency == "monthly" and plan.total_cents == 121950


def test_a_pause_that_names_a_lawyer_is_no_pause(talk: Callable[..., Talk]) -> None:
    t = negotiating(talk)
    said = t.say("wait, let me get my lawyer on this", "attorney", 0.8)
    assert texts.TAKE_YOUR_TIME_OFFER not in said, said
    assert said == [texts.CONFIRM["attorney"]], said


def test_someone_writing_for_the_debtor_is_told_only_the_holder_can_hear_it(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    t.say("/greet")
    said = t.say(
        "Hello, I'm writing on behalf of my husband, he asked me to find out what this is about",
        "out_of_scope",
        0.6,
    )
    assert said == [texts.VERIFY_HOLDER_ONLY, texts.ASK_FACT_AGAIN["last_name"]], said
    assert failed_attempts(t) == 0
    assert escalations(db) == []


def test_the_same_malformed_fact_again_and_again_gets_the_format_then_a_person(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    t.say("/greet")
    t.say("Garcia")
    first = t.say("the fourteenth", "inform", 0.9)  # no year: the format
    assert first == [texts.FORMAT_HINTS["date_of_birth"]], first
    replies = [t.say("the fourteenth", "inform", 0.9) for _ in range(MAX_HINTS - 1)]
    assert replies[-1] != first, replies  # never the same reply for ever
    assert [reason for reason, _sub in escalations(db)] == ["bot_failure"]
    assert failed_attempts(t) == 0


def test_the_same_request_again_to_one_question_is_not_played_again(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    """A request that keeps the question asked ("I can help with that once you're verified")
    sent again word for word: the fact's format instead, then a person, never a loop."""
    t = talk()
    t.say("/greet")
    t.say("Garcia")
    said = t.say("can i set up payments", "request_payment_plan", 0.9)
    assert said == [texts.VERIFY_FIRST, texts.ASK_FACT_AGAIN["date_of_birth"]], said
    said = t.say("can i set up payments", "request_payment_plan", 0.9)
    assert said == [texts.FORMAT_HINTS["date_of_birth"]], said
    assert escalations(db) == []


def test_a_first_text_answers_no_question_so_it_is_no_surname(
    talk: Callable[..., Talk],
) -> None:
    t = talk("c-sms", channel=Channel.SMS, phone="+14155550100")
    said = t.say("hiii is this abt my gym thing", "ask_who", 0.7)
    assert said[-1] == texts.ASK_FACT["last_name"], said
    said = t.say("garcia 03/14/1985 94107")
    assert any("you're verified" in line for line in said), said
    assert failed_attempts(t) == 0


def test_an_account_number_in_a_pasted_letter_is_not_an_ssn(talk: Callable[..., Talk]) -> None:
    t = talk()
    t.say("/greet")
    t.say(
        "Copying what the letter says: Creditor: Northwind Bank. Account ending 6612. "
        "Amount of the debt: $1,219.50. What am I supposed to do?",
        "ask_debt_details",
        0.6,
    )
    t.say("Garcia")
    said = t.say("03/14/1985")
    assert said == [texts.ASK_FACT["zip_or_ssn4"]], said  # 6612 was not taken for the SSN
    said = t.say("94107")
    assert any("you're verified" in line for line in said), said
    assert failed_attempts(t) == 0
    with t.factory() as session:
        assert session.scalars(select(Conversation)).one().verified_at is not None


# --- a third probe round (probes3.yml) --------------------------------------------------------


def test_a_short_answer_that_is_only_a_name_is_the_surname(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    t.say("/greet")
    said = t.say("It's Garcia, ma'am.", "out_of_scope", 0.89)
    assert said == [texts.ASK_FACT["date_of_birth"]], said


def test_a_surname_with_a_suffix_verifies_and_is_no_consequence(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    t.say("/greet")
    said = t.say(
        "Garcia Jr.", "inform", 0.41, (("inform", 0.41), ("attorney", 0.37), ("out_of_scope", 0.13))
    )
    assert said == [texts.ASK_FACT["date_of_birth"]], said  # no "are you saying ...?" kept
    said = t.say("03/14/1985") + t.say("94107")
    assert any("you're verified" in line for line in said), said
    assert escalations(db) == []


def test_a_dispute_said_only_to_deny_it_is_no_dispute(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    said = t.say(
        "I don't dispute it, it is my debt, no problem. But I want to pay it in three parts",
        "dispute",
        0.95,
        (("dispute", 0.95), ("request_payment_plan", 0.04)),
    )
    assert texts.DISPUTE_WHICH not in said, said
    assert said[-1].endswith(texts.CONFIRM_SUMMARY) and "3 payments" in said[-1], said
    assert escalations(db) == []


def test_a_lawyer_for_another_matter_is_asked_about_and_a_no_is_remembered(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    line = (
        "my attorney is handling my divorce, not this. this one is all me, can i just do payments"
    )
    said = t.say(line, "attorney", 0.91, (("attorney", 0.91), ("request_payment_plan", 0.06)))
    assert said == [texts.CONFIRM["attorney"]], said  # asked, never acted on
    said = t.say("no, no lawyer on this one. just want payments", "deny", 0.6)
    assert said[0] == texts.NOT_CONSEQUENCE and said[-1].endswith(texts.OFFER_FULL_END), said
    said = t.say(line, "attorney", 0.91, (("attorney", 0.91), ("request_payment_plan", 0.06)))
    assert texts.CONFIRM["attorney"] not in said, said  # said no to it: not asked again
    assert escalations(db) == []


def test_a_yes_with_the_count_of_payments_is_a_yes(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = negotiating(talk)
    t.say("no", "deny", 0.99)
    said = t.say("4 payments", "offer_payment", 0.9)
    assert said[-1].endswith(texts.CONFIRM_SUMMARY) and "4 payments" in said[-1], said
    t.say("yes. 4 works.", "affirm", 0.96)
    with db() as session:
        plan = session.scalars(select(PaymentPlan)).one()
        assert len(plan.installments) == 4


def test_not_ready_when_asked_what_they_could_pay_leaves_the_door_open(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = negotiating(talk)
    said = t.say("no", "deny", 0.99)
    assert said[-1].startswith(texts.ASK_TERMS[:20]), said
    said = t.say("I'm not ready to set anything up yet, thanks.", "thank", 0.5)
    assert said == [texts.NO_RUSH, texts.ANYTHING_ELSE], said
    assert escalations(db) == []


# --- a fourth probe round (probes4.yml) -------------------------------------------------------


def test_a_runner_up_named_in_words_is_asked_about_not_lost(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    said = t.say(
        "everything just piled up. we finally filed chapter 7 on the 3rd, is this card part of it?",
        "hardship",
        0.75,
        (("hardship", 0.75), ("bankruptcy", 0.22), ("dispute", 0.03)),
    )
    assert said[0] == texts.CHOOSE, said  # hardship or bankruptcy: never hardship alone
    t.press("/bankruptcy")
    assert [reason for reason, _sub in escalations(db)] == ["bankruptcy"]


def test_half_now_and_half_next_month_is_two_payments(talk: Callable[..., Talk]) -> None:
    t = negotiating(talk)
    said = t.say(
        "i cant do it all today, but i could do half now and the other half next month",
        "offer_payment",
        0.8,
    )
    assert said[-1].endswith(texts.CONFIRM_SUMMARY) and "2 payments" in said[-1], said
