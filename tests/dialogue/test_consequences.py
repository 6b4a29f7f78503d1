"""Confirmation before consequences (SPEC §10, §11): never acted on a guess, never missed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.dialogue import texts
from parley.dialogue.heard import ACT, Heard, consequence
from parley.tables import Account, Escalation, PhoneOptOut
from tests.support.assertions import assert_no_debt_wording
from tests.support.dialogue import Talk, verify


def escalations(db: sessionmaker[Session]) -> list[tuple[str, str | None]]:
    with db() as session:
        return [(e.reason, e.sub_reason) for e in session.scalars(select(Escalation))]


def paused(db: sessionmaker[Session]) -> bool:
    with db() as session:
        return session.scalars(select(Account)).one().collection_paused


@pytest.mark.parametrize(
    ("heard", "act", "ask"),
    [
        (Heard("dispute", 0.93, "this is not my debt"), "dispute", ()),
        (Heard("dispute", 0.51, "i got a message from you"), None, ("dispute",)),
        (
            Heard("hardship", 0.45, "that bill isnt mine", (("hardship", 0.45), ("dispute", 0.38))),
            None,
            ("hardship", "dispute"),
        ),
        (
            Heard(
                "ask_balance", 0.5, "is this even mine", (("ask_balance", 0.5), ("dispute", 0.35))
            ),
            None,
            ("dispute",),
        ),
        (
            Heard("ask_balance", 0.9, "what do i owe", (("ask_balance", 0.9), ("dispute", 0.05))),
            None,
            (),
        ),
        (Heard("dispute", 1.0, "/dispute"), "dispute", ()),
    ],
)
def test_consequences_are_acted_on_only_when_sure(
    heard: Heard, act: str | None, ask: tuple[str, ...]
) -> None:
    reading = consequence(heard)
    assert reading.act == act
    assert reading.ask == ask


def test_a_sure_dispute_is_recorded_and_pauses_collection(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    said = t.say("this is not my debt, never had an account with them", "dispute", ACT + 0.1)
    assert said == [texts.ESCALATION_ACK["dispute"][1]]
    assert escalations(db) == [("dispute", "not_mine")]
    assert paused(db)


def test_an_ordinary_opening_line_read_as_a_weak_dispute_is_asked_about_not_acted_on(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    said = t.say("hi i got a message from you guys", "dispute", 0.51)
    assert said == [texts.DISPUTE_WHICH]
    assert texts.NEITHER in t.buttons()
    assert escalations(db) == [] and not paused(db)
    assert t.say("no, i just want to know what it is", "deny", 0.8)[0] == texts.NOT_CONSEQUENCE
    assert escalations(db) == [] and not paused(db)


def test_a_confirmed_dispute_carries_the_chosen_reason(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    t.say("i dont think i should owe this", "dispute", 0.55)
    t.press('/dispute{"sub_reason":"already_paid"}')
    assert escalations(db) == [("dispute", "already_paid")]
    assert paused(db)


def test_two_close_readings_get_one_question_with_both(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    """The finding: "not mine" typed while a summary was pending, read as hardship."""
    t = talk()
    verify(t)
    t.say("50 a month", "offer_payment")
    said = t.say(
        "that bill isnt even mine", "hardship", 0.45, (("hardship", 0.45), ("dispute", 0.4))
    )
    assert said == [texts.CHOOSE]
    assert t.buttons() == [
        texts.CHOICE_TITLE["hardship"],
        texts.CHOICE_TITLE["dispute"],
        texts.NEITHER,
    ]
    t.press("/dispute")
    assert [reason for reason, _ in escalations(db)] == ["dispute"]
    assert paused(db)
    # Nothing is offered any more.
    assert texts.COLLECTION_PAUSED in t.say("ok 50 a month then", "offer_payment")


def test_hardship_offers_the_most_lenient_plan_before_a_review(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    said = t.say("i lost my job and cant pay anything right now", "hardship", 0.9)
    assert said[-1].startswith(texts.SUMMARY_INTRO["lenient"]) and said[-1].endswith(
        texts.CONFIRM_SUMMARY
    )
    assert escalations(db) == []
    said = t.say("no i cant do that either", "deny")
    assert said[-1].endswith(texts.HARDSHIP_OFFER)
    said = t.say("yes please", "affirm")
    assert said == [texts.ESCALATION_ACK["hardship"][1]]
    assert escalations(db) == [("hardship", "negotiation")]
    assert not paused(db), "hardship does not pause collection (SPEC §10)"


def test_a_consequence_stated_before_verification_is_acknowledged_then_acted_on(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    """The finding: a dispute as the very first message was never recorded."""
    t = talk()
    said = t.say("/greet")
    said = t.say("this debt is not mine", "dispute", 0.9)
    assert texts.HELD["dispute"] in said
    assert said[-1] == texts.ASK_FACT_AGAIN["last_name"]
    assert_no_debt_wording(said, "held dispute")
    assert escalations(db) == []
    t.say("Garcia")
    t.say("03/14/1985")
    said = t.say("94107")
    assert "Thanks, Maria, you're verified." in said
    assert said[-1] == texts.ESCALATION_ACK["dispute"][1]
    assert escalations(db) == [("dispute", "not_mine")]
    assert paused(db)


def test_an_unsure_consequence_before_verification_is_asked_about_after_it(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    t.say("/greet")
    assert texts.HELD["attorney"] in t.say("i might talk to a lawyer", "attorney", 0.5)
    t.say("Garcia")
    t.say("03/14/1985")
    said = t.say("94107")
    assert said[-1] == texts.CONFIRM["attorney"]
    assert escalations(db) == []
    t.say("no, just thinking about it", "deny")
    assert escalations(db) == [] and not paused(db)


def test_a_stop_request_before_verification_is_honoured_at_once(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk("c-sms", channel="sms", phone="+14155550100")
    t.say("/greet")
    said = t.say("stop texting me", "stop_contact", 0.92)
    assert said == [texts.ESCALATION_ACK["cease_communication"][0]]
    assert escalations(db) == [("cease_communication", None)]
    with db() as session:
        assert session.scalars(select(PhoneOptOut.phone)).all() == ["+14155550100"]


def test_an_unsure_stop_request_is_confirmed_first(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    """ "I don't want to stop paying, I just need to spread it out" is not a cease request."""
    t = talk()
    verify(t)
    said = t.say("i dont want to stop paying, i just need to spread it out", "stop_contact", 0.5)
    assert said == [texts.CONFIRM["stop_contact"]]
    said = t.say("no", "deny")
    assert escalations(db) == []
    assert said[0] == texts.NOT_CONSEQUENCE


def test_a_request_for_a_person_while_queued_does_not_loop(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    t = talk()
    verify(t)
    assert t.say("agent", "request_human") == [texts.ESCALATION_ACK["human_requested"][1]]
    assert t.say("agent please", "request_human") == [texts.ALREADY_QUEUED]
    assert len(escalations(db)) == 1
