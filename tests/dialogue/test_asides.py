"""What a debtor says around the question asked (SPEC §4, §6, §7, §11), as a probe of new debtor
voices found it misread: a consequence said with a request for a person, a person asked for by
refusing the machine, a wrong number the words never claim, a surname said with the first name
or corrected mid-message, a goodbye read as a yes, a frequency without an amount, a later start
read as a refusal, and questions no intent covers (credit reporting, paying by check, the
balance in idiom, why the facts are needed, whether this is genuine).

Each NLU reading is the one the trained model gave for these words (intent, confidence and
runner-up), so each test says what it assumes and what the dialogue must make of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.dialogue import texts
from parley.tables import Account, Conversation, PaymentPlan
from parley.verification.check import failed_attempts as count_failed
from tests.dialogue.test_context import escalations
from tests.dialogue.test_negotiation import BALANCE, negotiating
from tests.support.dialogue import COMPANY, Talk, verify

# A Thursday, so that "the 20th" is this month and inside the default 30-day first-payment window.
THURSDAY = datetime(2026, 12, 3, 18, 0, tzinfo=timezone.utc)


def failed_attempts(t: Talk) -> int:
    with t.factory() as session:
        return count_failed(session, t.conversation_id)


def test_a_dispute_said_with_a_request_for_a_person_is_a_dispute(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    said = t.say(
        "that isnt my debt and i need to speak to someone about it",
        "dispute",
        0.60,
        (("dispute", 0.60), ("request_human", 0.39)),
    )
    assert said == [texts.DISPUTE_WHICH], said
    assert escalations(db) == []
    t.say("yes", "affirm", 0.99)
    assert escalations(db) == [("dispute", "not_mine")]
    with db() as session:
        assert session.scalars(select(Account)).one().collection_paused


def test_a_dispute_said_with_a_request_for_a_person_before_verification_is_kept(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    t.say("/greet")
    said = t.say(
        "this is not mine and i want to talk to somebody about it",
        "request_human",
        0.55,
        (("request_human", 0.55), ("dispute", 0.44)),
    )
    assert said[0] == texts.HELD["dispute"], said
    assert escalations(db) == []  # not queued as a plain request for a person


def test_a_person_asked_for_by_refusing_the_machine_is_a_request_for_a_person(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    for i, (text, confidence) in enumerate(
        [
            (
                "is there a real live person i can talk to? i dont want to do this with a machine",
                0.62,
            ),
            ("is there an actual human there, id rather not deal with a computer", 0.96),
        ]
    ):
        t = talk(f"c-person-{i}")
        t.say("/greet")
        t.say(text, "bot_challenge", confidence, (("bot_challenge", confidence),))
        assert ("human_requested", None) in escalations(db)


def test_asking_whether_this_is_a_bot_is_still_answered_as_that(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    t.say("/greet")
    said = t.say("am i talking to a real person?", "bot_challenge", 0.95)
    assert said[0] == texts.BOT_CHALLENGE.format(company=COMPANY)
    assert escalations(db) == []


def test_a_wrong_number_the_words_never_claim_is_asked_about_not_acted_on(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    t.say("/greet")
    said = t.say("so what number r we looking at here", "wrong_number", 0.90)
    assert said[0] == texts.CONFIRM["wrong_number"], said
    assert escalations(db) == []
    t.say("no", "deny")
    assert escalations(db) == []
    other = talk("c-wrong")
    other.say("/greet")
    other.say("you have the wrong number, no maria here", "wrong_number", 0.95)
    assert escalations(db) == [("wrong_number", None)]


def test_a_surname_said_with_the_first_name_or_corrected_verifies(
    talk: Callable[..., Talk],
) -> None:
    for i, name in enumerate(
        [
            "my last name is garcia, first name maria",
            "first name maria, last name garcia",
            "garcai... sorry garcia",
            "gracia i mean garcia",
            "garcia (that's my surname)",
        ]
    ):
        t = talk(f"c-name-{i}")
        verify(t, last_name=name)
        assert failed_attempts(t) == 0


def test_a_slang_greeting_is_not_taken_for_the_surname(talk: Callable[..., Talk]) -> None:
    t = talk()
    t.say("/greet")
    said = t.say("wassup", "greet", 0.96)
    assert said[-1] == texts.ASK_FACT_AGAIN["last_name"], said
    assert t.conversation().dialogue["facts"] == {}
    verify_rest = t.say("garcia") + t.say("03/14/1985") + t.say("94107")
    assert any("you're verified" in line for line in verify_rest)


def test_the_format_hint_is_never_a_loop(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    t.say("/greet")
    hints = [t.say("g4rc1a!!", "inform", 0.8) for _ in range(2)]
    assert hints == [[texts.FORMAT_HINTS["last_name"]]] * 2
    t.say("g4rc1a!!", "inform", 0.8)
    assert escalations(db) == [("bot_failure", None)]


def test_a_goodbye_at_the_full_offer_agrees_to_nothing(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    for i, text in enumerate(["k thx bye", "alright cool thanks, bye"]):
        t = negotiating(lambda cid=f"c-bye-{i}": talk(cid))
        said = t.say(text, "goodbye", 0.93)
        assert said == [texts.GOODBYE], said
    with db() as session:
        assert session.scalars(select(PaymentPlan)).all() == []
        states = [c.dialogue for c in session.scalars(select(Conversation))]
    assert all(state["expect"] != "summary" for state in states)


def test_a_strong_yes_with_a_goodbye_still_agrees(talk: Callable[..., Talk]) -> None:
    t = negotiating(talk)
    said = t.say("yes, thanks, bye", "affirm", 0.7)
    assert said[-1].endswith(texts.CONFIRM_SUMMARY), said


def test_a_frequency_without_an_amount_asks_the_amount(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    said = t.say(
        "lets do monthly installments",
        "request_payment_plan",
        0.70,
        (("request_payment_plan", 0.70), ("offer_payment", 0.27)),
    )
    assert said[-1] == texts.ASK_AMOUNT["monthly"], said
    said = t.say("150", "offer_payment", 0.8)
    assert said[-1].endswith(texts.CONFIRM_SUMMARY), said
    assert "$150.00" in said[-1] and "monthly" in said[-1], said


def test_a_later_start_is_kept_not_read_as_a_refusal(talk: Callable[..., Talk]) -> None:
    t = talk()
    verify(t)
    t.say("payment plan", "request_payment_plan", now=THURSDAY)
    said = t.say("150 a month but i cant start until the 20th", "offer_payment", 0.78, now=THURSDAY)
    assert said[-1].endswith(texts.CONFIRM_SUMMARY), said
    assert "Dec 20, 2026" in said[-1], said
    assert "Dec 3, 2026" not in said[-1], said


def test_a_credit_report_question_mid_negotiation_is_answered_and_the_terms_asked_again(
    talk: Callable[..., Talk],
) -> None:
    t = talk()
    verify(t)
    t.say("payment plan", "request_payment_plan")
    said = t.say("will this get reported to the credit bureaus?", "out_of_scope", 0.84)
    assert said == [texts.CREDIT_REPORT, texts.ASK_TERMS], said
    said = t.say("can i mail a check instead? where do i send it", "ask_payment_options", 0.86)
    assert said == [texts.PAY_BY_MAIL, texts.ASK_TERMS], said
    said = t.say("are you guys open on sundays", "out_of_scope", 0.9)
    assert said == [texts.OUT_OF_SCOPE.format(company=COMPANY), texts.ASK_TERMS], said


def test_the_balance_asked_in_idiom_is_the_balance(talk: Callable[..., Talk]) -> None:
    t = talk()
    verify(t)
    said = t.say("OK SO HOW BAD IS IT MONEY WISE", "out_of_scope", 0.89)
    assert BALANCE in said[0], said


def test_why_the_facts_are_needed_and_whether_this_is_genuine_cost_no_attempt(
    talk: Callable[..., Talk],
) -> None:
    t = talk()
    t.say("/greet")
    said = t.say("why do u need my name", "out_of_scope", 0.86)
    assert said == [texts.VERIFY_WHY, texts.ASK_FACT_AGAIN["last_name"]], said
    said = t.say("how do i know ur legit", "ask_who", 0.56)
    assert said == [texts.VERIFY_LEGIT.format(company=COMPANY), texts.ASK_FACT_AGAIN["last_name"]]
    assert failed_attempts(t) == 0


def test_a_wish_to_pay_before_verification_is_kept_and_answered_after_it(
    talk: Callable[..., Talk],
) -> None:
    t = talk()
    t.say("/greet")
    said = t.say("i want to start paying this down", "nlu_fallback", 0.40)
    assert said == [texts.VERIFY_FIRST, texts.ASK_FACT_AGAIN["last_name"]], said
    out = t.say("garcia") + t.say("03/14/1985") + t.say("94107")
    assert out[-1].endswith(texts.OFFER_FULL_END), out


def test_no_to_hardship_from_someone_who_wants_to_pay_gives_the_options(
    talk: Callable[..., Talk],
) -> None:
    t = talk()
    verify(t)
    said = t.say(
        "i want to pay but money is tight",
        "hardship",
        0.69,
        (("hardship", 0.69), ("request_payment_plan", 0.23)),
    )
    assert said == [texts.CONFIRM["hardship"]], said
    said = t.say("no", "deny", 0.99)
    assert said[0] == texts.NOT_CONSEQUENCE and said[-1].endswith(texts.OFFER_FULL_END), said


def test_a_corrected_surname_with_a_sorry_is_not_a_wrong_number(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    t.say("/greet")
    said = t.say("garica.. sorry, Garcia", "wrong_number", 0.79, (("wrong_number", 0.79),))
    assert said == [texts.ASK_FACT["date_of_birth"]], said
    assert escalations(db) == []


def test_a_sentence_while_a_fact_is_asked_is_not_a_malformed_fact(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    t.say("/greet")
    said = t.say("never mind, I'll tell him to call you", "inform", 0.5)
    assert said == [texts.VERIFY_WHY, texts.ASK_FACT_AGAIN["last_name"]], said
    for _ in range(3):
        # The same words again: the question is not asked again and again; the door is left
        # open, and nobody is queued for it.
        said = t.say("never mind, I'll tell him to call you", "inform", 0.5)
        assert said == [texts.COME_BACK_ANY_TIME], said
    assert escalations(db) == []
    assert failed_attempts(t) == 0


def test_yes_to_the_hardship_review_said_with_a_refusal_opens_it(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = negotiating(talk)
    said = t.say("No. Things have been rough since I lost my job.", "hardship", 0.95)
    assert said[-1].endswith(texts.CONFIRM_SUMMARY), said  # the most lenient plan first
    said = t.say("No, I can't do that. I have no income at all right now.", "hardship", 0.9)
    assert said[-1].endswith(texts.HARDSHIP_OFFER), said
    t.say("Yes, I can't afford payments right now.", "hardship", 0.97)
    assert [reason for reason, _sub in escalations(db)] == ["hardship"]
