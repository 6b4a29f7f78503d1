"""validate_verification_form and action_verification_complete (SPEC §4)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from actions import texts
from actions.verification import ActionVerificationComplete, ValidateVerificationForm
from parley.core.settings import get_settings
from parley.models import AuditEvent, Conversation, Escalation, VerificationAttempt
from parley.verification.factors import seal
from tests.support.assertions import assert_no_debt_wording
from tests.support.trackers import load_tracker, run_action, slot_events, texts_of

RIGHT = ("Garcia", "03/14/1985", "94107")
WRONG_EACH = (
    ("Garcia", "03/14/1985", "10001"),  # wrong ZIP
    ("Garcia", "01/01/1990", "94107"),  # wrong date of birth
    ("Smith", "03/14/1985", "94107"),  # wrong last name
)


def sealed_dob(iso: str) -> str:
    return seal(get_settings().secret_key, "dob", iso)


FACT_WORDS = ("zip", "date of birth", "birthday", "last name", "surname", "ssn", "name")


class FormChat:
    """Drives the validation action the way Rasa's form does, one user message at a time."""

    def __init__(self, conversation_id: str) -> None:
        self.id = conversation_id
        self.slots: dict[str, Any] = {
            "verified": False,
            "verification_locked": False,
            "last_name": None,
            "date_of_birth": None,
            "zip_or_ssn4": None,
            "requested_slot": "last_name",
        }
        self.sent: list[str] = []

    def say(
        self, text: str, intent: str = "inform", confidence: float = 0.9
    ) -> tuple[list[dict[str, Any]], list[str]]:
        tracker = load_tracker(
            "form_answer",
            sender_id=self.id,
            slots=self.slots,
            latest_message={"text": text, "intent": {"name": intent, "confidence": confidence}},
        )
        events, messages = run_action(ValidateVerificationForm(), tracker)
        self.slots.update(slot_events(events))
        said = texts_of(messages)
        self.sent += said
        return events, said

    def attempt(self, facts: tuple[str, ...]) -> list[str]:
        replies: list[str] = []
        for fact in facts:
            replies += self.say(fact)[1]
        return replies


def test_all_facts_in_one_message_verify(db: sessionmaker[Session]) -> None:
    chat = FormChat("c-one")
    events, said = chat.say("Garcia 03/14/1985 94107")
    slots = slot_events(events)
    assert said == []
    assert slots["verified"] is True
    assert slots["account_id"]
    assert slots["requested_slot"] is None
    for fact in ("last_name", "date_of_birth", "zip_or_ssn4"):
        assert slots[fact] is None, "facts leave the tracker once checked"
    with db() as session:
        conversation = session.get(Conversation, "c-one")
        assert conversation is not None and conversation.channel == "web"
        assert conversation.account_id == int(slots["account_id"])
        assert conversation.verified_at is not None
        kinds = session.scalars(select(AuditEvent.kind)).all()
    assert "verification.succeeded" in kinds


def test_last_name_with_filler_then_other_facts(db: sessionmaker[Session]) -> None:
    chat = FormChat("c-filler")
    events, said = chat.say("my last name is Garcia")
    assert slot_events(events) == {"last_name": "Garcia", "requested_slot": "date_of_birth"}
    assert said == []
    chat.say("it's March 14, 1985")
    assert chat.slots["date_of_birth"] == sealed_dob("1985-03-14")
    assert chat.slots["requested_slot"] == "zip_or_ssn4"
    chat.say("1234")  # SSN last 4 instead of the ZIP
    assert chat.slots["verified"] is True


def test_date_or_zip_fill_their_slots_whatever_was_asked(db: sessionmaker[Session]) -> None:
    chat = FormChat("c-any")
    events, said = chat.say("03/14/1985")
    assert slot_events(events) == {
        "date_of_birth": sealed_dob("1985-03-14"),
        "requested_slot": "last_name",
    }
    assert said == []


def test_unreadable_answer_gets_a_format_hint(db: sessionmaker[Session]) -> None:
    chat = FormChat("c-hint")
    chat.slots.update(last_name="Garcia", requested_slot="date_of_birth")
    events, said = chat.say("Garcia")
    assert slot_events(events) == {"date_of_birth": None, "requested_slot": "date_of_birth"}
    assert said == ["Please give your date of birth as MM/DD/YYYY."]
    chat.slots["requested_slot"] = "zip_or_ssn4"
    _events, said = chat.say("no idea")
    assert said == [texts.FORMAT_HINTS["zip_or_ssn4"]]
    chat.slots["requested_slot"] = "last_name"
    _events, said = chat.say("12 34 !!")
    assert said == [texts.FORMAT_HINTS["last_name"]]
    assert_no_debt_wording(chat.sent)


@pytest.mark.parametrize(
    ("intent", "text"),
    [
        ("request_human", "agent"),
        ("greet", "hi it's Garcia"),
        ("stop_contact", "stop texting me 94107"),
        ("wrong_number", "wrong number"),
        ("card_details", "can i give you my card"),
    ],
)
def test_interruptions_fill_nothing_so_the_form_rejects(
    db: sessionmaker[Session], intent: str, text: str
) -> None:
    chat = FormChat(f"c-int-{intent}")
    events, said = chat.say(text, intent=intent, confidence=0.9)
    assert events == [] and said == []


def test_low_confidence_interruption_is_still_an_answer(db: sessionmaker[Session]) -> None:
    chat = FormChat("c-lowconf")
    events, _said = chat.say("Garcia", intent="greet", confidence=0.3)
    assert slot_events(events)["last_name"] == "Garcia"


@pytest.mark.parametrize(
    ("text", "intent", "slot", "value"),
    [
        ("Lockwood", "affirm", "last_name", "Lockwood"),
        ("Settleford", "ask_settlement", "last_name", "Settleford"),
    ],
)
def test_a_surname_the_classifier_mistakes_for_an_intent_is_still_an_answer(
    db: sessionmaker[Session], text: str, intent: str, slot: str, value: str
) -> None:
    chat = FormChat(f"c-name-{text}")
    events, _said = chat.say(text, intent=intent, confidence=0.55)
    assert slot_events(events)[slot] == value


def test_a_requested_fact_is_an_answer_whatever_the_intent(db: sessionmaker[Session]) -> None:
    chat = FormChat("c-fact-dob")
    chat.say("Garcia", intent="inform", confidence=0.9)
    events, _said = chat.say("03/14/1985", intent="affirm", confidence=0.6)
    assert slot_events(events)["date_of_birth"] == sealed_dob("1985-03-14")


def test_a_confident_request_is_not_taken_for_a_surname(db: sessionmaker[Session]) -> None:
    chat = FormChat("c-conf-balance")
    events, said = chat.say("whats my balance", intent="ask_balance", confidence=0.85)
    assert events == [] and said == []


def test_activation_message_is_a_request_not_an_answer(db: sessionmaker[Session]) -> None:
    tracker = load_tracker("form_activation")
    events, messages = run_action(ValidateVerificationForm(), tracker)
    assert slot_events(events) == {"requested_slot": "last_name"}
    assert messages == []


def test_factor_order_comes_from_settings(
    db: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_VERIFICATION_FACTORS", "date_of_birth,zip_or_ssn4,last_name")
    get_settings.cache_clear()
    tracker = load_tracker("form_activation", sender_id="c-order")
    events, _ = run_action(ValidateVerificationForm(), tracker)
    assert slot_events(events) == {"requested_slot": "date_of_birth"}


def test_failure_message_is_identical_whichever_fact_is_wrong(db: sessionmaker[Session]) -> None:
    outcomes = []
    for number, attempt in enumerate(WRONG_EACH):
        chat = FormChat(f"c-wrong-{number}")
        replies = chat.attempt(attempt)
        outcomes.append(replies)
        assert chat.slots["requested_slot"] == "last_name"
        assert all(chat.slots[f] is None for f in ("last_name", "date_of_birth", "zip_or_ssn4"))
        assert chat.slots["verified"] is False
    assert outcomes[0] == outcomes[1] == outcomes[2] == [texts.VERIFY_FAILED]
    for word in FACT_WORDS:
        assert word not in texts.VERIFY_FAILED.lower()
    assert_no_debt_wording(outcomes[0])


def test_three_failures_lock_even_correct_facts_and_escalate(db: sessionmaker[Session]) -> None:
    chat = FormChat("c-lock")
    assert chat.attempt(WRONG_EACH[0]) == [texts.VERIFY_FAILED]
    assert chat.attempt(WRONG_EACH[1]) == [texts.VERIFY_FAILED]
    assert chat.attempt(WRONG_EACH[2]) == [texts.VERIFY_FAILED_FINAL]
    assert chat.slots["verification_locked"] is True
    assert chat.slots["requested_slot"] is None

    # Locked: even the right facts are refused, and the form ends at once.
    chat.slots["verification_locked"] = False  # a stale tracker must not bypass the database
    chat.slots["requested_slot"] = "last_name"
    events, said = chat.say("Garcia 03/14/1985 94107")
    assert slot_events(events)["verification_locked"] is True
    assert slot_events(events)["requested_slot"] is None
    assert "verified" not in slot_events(events)

    tracker = load_tracker(
        "verification_done",
        sender_id="c-lock",
        slots={"verified": False, "verification_locked": True},
    )
    events, messages = run_action(ActionVerificationComplete(), tracker)
    assert texts_of(messages) == [texts.VERIFY_LOCKED]
    assert_no_debt_wording(chat.sent + texts_of(messages))
    with db() as session:
        conversation = session.get(Conversation, "c-lock")
        assert conversation is not None
        assert conversation.status == "queued"
        assert conversation.verified_at is None
        reasons = session.scalars(select(Escalation.reason)).all()
        attempts = session.scalars(select(VerificationAttempt.success)).all()
    assert reasons == ["verification_locked"]
    assert attempts == [False, False, False], "refused checks are not counted as attempts"


def test_verification_complete_answers_the_pending_balance_question(
    db: sessionmaker[Session],
) -> None:
    FormChat("conv-done").attempt(("Garcia 03/14/1985 94107",))
    events, messages = run_action(ActionVerificationComplete(), load_tracker("verification_done"))
    said = texts_of(messages)
    assert said[0] == "Thanks, Maria, you're verified."
    assert said[1] == (
        "This is Parley Recovery Services, a debt collector. This is an attempt to collect a debt "
        "and any information obtained will be used for that purpose."
    )
    assert said[2] == "Your balance is $1,219.50 for your Northwind Bank account ending 4421."
    assert slot_events(events)["verified"] is True
    with db() as session:
        conversation = session.get(Conversation, "conv-done")
        assert conversation is not None and conversation.disclosed_at is not None


def test_verification_complete_without_pending_request_asks_how_to_help(
    db: sessionmaker[Session],
) -> None:
    FormChat("c-nopending").attempt(RIGHT)
    tracker = load_tracker("verification_done", sender_id="c-nopending", events=[])
    _events, messages = run_action(ActionVerificationComplete(), tracker)
    assert messages[-1]["response"] == "utter_how_can_i_help"


def test_verification_complete_escalates_a_pending_dispute(db: sessionmaker[Session]) -> None:
    FormChat("c-pdispute").attempt(RIGHT)
    tracker = load_tracker("verification_done", sender_id="c-pdispute")
    user = tracker.events[3]
    user["text"] = "this isn't my debt"
    user["parse_data"]["intent"] = {"name": "dispute", "confidence": 0.9}
    _events, messages = run_action(ActionVerificationComplete(), tracker)
    assert texts_of(messages)[-1] == texts.ESCALATION_ACK["dispute"][1]
    with db() as session:
        escalation = session.scalars(select(Escalation)).one()
        assert (escalation.reason, escalation.sub_reason) == ("dispute", "not_mine")


def test_facts_reach_the_tracker_sealed_never_plain(db: sessionmaker[Session]) -> None:
    """Rasa persists every slot value (finding 15): a date of birth, ZIP or SSN last-4 is only
    ever set as its keyed hash, and the check still verifies with it."""
    chat = FormChat("c-sealed")
    every_value: list[object] = []
    for text in ("Garcia", "03/14/1985", "94107"):
        events, _said = chat.say(text)
        every_value += [e.get("value") for e in events if e.get("event") == "slot"]
    assert chat.slots["verified"] is True
    written = " ".join(str(v) for v in every_value)
    for plain in ("1985", "03/14", "94107"):
        assert plain not in written
    assert any(str(v).startswith("sealed:dob:") for v in every_value)
    assert any(str(v).startswith("sealed:zip:") for v in every_value)
